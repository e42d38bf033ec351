package dev.panamax.cli;

import dev.panamax.engine.generate.Generator;
import java.util.Locale;

/** The speed line printed to stderr after a generation. */
final class Stats {
    private Stats() {}

    static String line(Generator.Result r) {
        int evaluated = r.promptTokens() - r.reusedTokens();
        String base = String.format(Locale.ROOT,
                "prompt: %d tokens (%d evaluated) in %.2f s, %.1f tok/s | generation: %d tokens in %.2f s, %.1f tok/s | stop: %s",
                r.promptTokens(), evaluated, r.promptNanos() / 1e9, r.promptTokensPerSecond(), r.tokens().length,
                r.generationNanos() / 1e9, r.tokensPerSecond(), r.reason().description());
        Generator.SpecStats s = r.speculation();
        if (s.targetPasses() == 0) {
            return base;
        }
        return base + String.format(Locale.ROOT, " | draft: %d drafted, %d accepted (%.0f%%), %.2f tokens per target pass",
                s.drafted(), s.accepted(), 100 * s.acceptanceRate(), tokensPerPass(r));
    }

    /** The speculative run against the same run without a draft. */
    static String speedupLine(Generator.Result spec, Generator.Result plain) {
        boolean same = java.util.Arrays.equals(spec.tokens(), plain.tokens());
        return String.format(Locale.ROOT, "without the draft: %d tokens in %.2f s, %.1f tok/s | speedup %.2fx | output %s",
                plain.tokens().length, plain.generationNanos() / 1e9, plain.tokensPerSecond(),
                spec.tokensPerSecond() / plain.tokensPerSecond(), same ? "identical" : "differs (sampling)");
    }

    /** Generated tokens per batched target pass (the first token comes from the prompt pass). */
    static double tokensPerPass(Generator.Result r) {
        int passes = r.speculation().targetPasses();
        return passes == 0 ? 1 : (double) Math.max(0, r.tokens().length - 1) / passes;
    }

    static java.util.Map<String, Object> speculation(Generator.Result r) {
        Generator.SpecStats s = r.speculation();
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        m.put("drafted", s.drafted());
        m.put("accepted", s.accepted());
        m.put("acceptance_rate", Math.round(s.acceptanceRate() * 1000) / 1000.0);
        m.put("target_passes", s.targetPasses());
        m.put("tokens_per_target_pass", Math.round(tokensPerPass(r) * 100) / 100.0);
        return m;
    }
}
