package dev.panamax.cli;

import dev.panamax.engine.generate.Generator;
import java.util.Locale;

/** The speed line printed to stderr after a generation. */
final class Stats {
    private Stats() {}

    static String line(Generator.Result r) {
        int evaluated = r.promptTokens() - r.reusedTokens();
        return String.format(Locale.ROOT,
                "prompt: %d tokens (%d evaluated) in %.2f s, %.1f tok/s | generation: %d tokens in %.2f s, %.1f tok/s | stop: %s",
                r.promptTokens(), evaluated, r.promptNanos() / 1e9, r.promptTokensPerSecond(), r.tokens().length,
                r.generationNanos() / 1e9, r.tokensPerSecond(), r.reason().description());
    }
}
