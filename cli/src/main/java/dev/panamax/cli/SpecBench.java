package dev.panamax.cli;

import static dev.panamax.engine.Throughput.mean;
import static dev.panamax.engine.Throughput.stddev;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.generate.SamplerConfig;
import dev.panamax.engine.speculative.DraftModel;
import dev.panamax.engine.speculative.VocabBridge;
import dev.panamax.engine.tokenizer.Tokenizer;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * The two speculative-decoding measurements of {@code panamax bench}:
 * <ul>
 *   <li>{@link #draftLengths}: greedy generation of real text with draft block lengths N (0 = no
 *       draft), tokens per second, acceptance and the speedup over N = 0, all in one session;</li>
 *   <li>{@link #verification}: the cost side without a draft: one forward pass of N + 1 tokens (what
 *       verifying N drafted tokens costs) relative to a single-token decode at the same depth. With
 *       every draft accepted a pass yields N + 1 tokens, so (N + 1) / cost bounds the speedup.</li>
 * </ul>
 */
final class SpecBench {
    private SpecBench() {}

    /** One draft length's outcome (means over the repetitions). */
    record SpecRow(int draft, double tokensPerSecond, double stddev, int generated, int drafted, int accepted,
            int passes, boolean sameAsPlain) {
        double acceptance() {
            return drafted == 0 ? 0 : (double) accepted / drafted;
        }

        double tokensPerPass() {
            return passes == 0 ? 1 : (double) Math.max(0, generated - 1) / passes;
        }
    }

    /** One verification width: a pass of {@code tokens} tokens, in milliseconds and relative to one token. */
    record VerifyRow(int tokens, int depth, double millis, double stddevMillis, double relative) {
        double speedupBound() {
            return tokens / relative;
        }
    }

    static List<SpecRow> draftLengths(Model target, Session session, Model draftModel, Session draftSession,
            List<Integer> lengths, String prompt, int nGen, int reps, double warmupSeconds, PrintWriter err) {
        Tokenizer tok = target.tokenizer();
        int[] promptIds = tok.encode(prompt, tok.addBos(), false);
        VocabBridge bridge = new VocabBridge(tok, draftModel.tokenizer(), List.of());
        Generator.Settings settings = new Generator.Settings(nGen, List.of(), 0, SamplerConfig.greedy());
        List<SpecRow> rows = new ArrayList<>();
        int[] plain = null;
        for (int n : lengths.stream().sorted().distinct().toList()) {
            DraftModel drafter = n > 0 ? new DraftModel(draftSession, draftModel.tokenizer(), bridge, n, 0, 0f) : null;
            Generator gen = new Generator(session, tok, drafter);
            long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
            do {
                fresh(gen, drafter);
                gen.generate(promptIds, new Generator.Settings(Math.min(nGen, 8), List.of(), 0, SamplerConfig.greedy()),
                        s -> { }, () -> false);
            } while (System.nanoTime() < warmEnd);
            double[] tps = new double[reps];
            Generator.Result last = null;
            int drafted = 0;
            int accepted = 0;
            int passes = 0;
            for (int r = 0; r < reps; r++) {
                fresh(gen, drafter);
                last = gen.generate(promptIds, settings, s -> { }, () -> false);
                tps[r] = last.tokensPerSecond();
                drafted += last.speculation().drafted();
                accepted += last.speculation().accepted();
                passes += last.speculation().targetPasses();
            }
            if (n == 0) {
                plain = last.tokens();
            }
            boolean same = plain == null || Arrays.equals(plain, last.tokens());
            rows.add(new SpecRow(n, mean(tps), stddev(tps), last.tokens().length, drafted / reps, accepted / reps,
                    passes / reps, same));
            err.printf(Locale.ROOT, "  draft %d: %.2f tok/s%n", n, mean(tps));
            err.flush();
        }
        return rows;
    }

    /** A generation from scratch: no prefix reuse, the draft's cache emptied too. */
    private static void fresh(Generator gen, DraftModel drafter) {
        gen.reset();
        if (drafter != null) {
            drafter.reset();
        }
    }

    static List<VerifyRow> verification(Session session, List<Integer> widths, int depth, int reps, double warmupSeconds) {
        SplittableRandom rnd = new SplittableRandom(7);
        int maxWidth = widths.stream().mapToInt(Integer::intValue).max().orElse(1) + 1;
        int[] tokens = new int[depth + maxWidth];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(session.vocab());
        }
        session.truncate(0);
        if (depth > 0) {
            session.forward(tokens, 0, depth, depth, (i, l, o) -> { });
        }
        List<Integer> all = new ArrayList<>();
        all.add(1);
        for (int w : widths) {
            all.add(w + 1);
        }
        long warmEnd = System.nanoTime() + (long) (warmupSeconds * 1e9);
        long single;
        do {
            for (int t : all) {
                pass(session, tokens, depth, t);
            }
            long t0 = System.nanoTime();
            pass(session, tokens, depth, 1);
            single = System.nanoTime() - t0;
        } while (System.nanoTime() < warmEnd);
        // interleaved: each repetition times every width once, so drift on a shared machine hits all
        // alike; fast models repeat each pass to about a quarter of a second
        int passesPerRep = (int) Math.max(1, Math.min(16, 250_000_000L / Math.max(1, single)));
        double[][] ms = new double[all.size()][reps];
        for (int r = 0; r < reps; r++) {
            for (int i = 0; i < all.size(); i++) {
                long t0 = System.nanoTime();
                for (int p = 0; p < passesPerRep; p++) {
                    pass(session, tokens, depth, all.get(i));
                }
                ms[i][r] = (System.nanoTime() - t0) / 1e6 / passesPerRep;
            }
        }
        double one = mean(ms[0]);
        List<VerifyRow> rows = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            rows.add(new VerifyRow(all.get(i), depth, mean(ms[i]), stddev(ms[i]), mean(ms[i]) / one));
        }
        return rows;
    }

    /** One forward pass of {@code n} tokens after {@code depth} cached ones, logits of every position (as verification needs). */
    private static void pass(Session session, int[] tokens, int depth, int n) {
        session.truncate(depth);
        session.forward(tokens, depth, n, 0, (i, l, o) -> { });
    }

    static void printSpec(PrintWriter out, String target, String draft, int nGen, List<SpecRow> rows) {
        out.printf(Locale.ROOT, "speculative decoding: %s with draft %s, greedy, %d tokens%n", target, draft, nGen);
        out.printf(Locale.ROOT, "| %5s | %18s | %9s | %9s | %10s | %12s | %7s | %9s |%n", "draft", "t/s", "drafted",
                "accepted", "acceptance", "tokens/pass", "speedup", "identical");
        out.printf(Locale.ROOT, "| %5s | %18s | %9s | %9s | %10s | %12s | %7s | %9s |%n", "----:", "-----------------:",
                "--------:", "--------:", "---------:", "-----------:", "------:", "---------");
        double base = rows.stream().filter(r -> r.draft() == 0).mapToDouble(SpecRow::tokensPerSecond).findFirst().orElse(0);
        for (SpecRow r : rows) {
            out.printf(Locale.ROOT, "| %5d | %18s | %9d | %9d | %9.1f%% | %12.2f | %7s | %9s |%n", r.draft(),
                    String.format(Locale.ROOT, "%.2f ± %.2f", r.tokensPerSecond(), r.stddev()), r.drafted(), r.accepted(),
                    100 * r.acceptance(), r.tokensPerPass(),
                    base > 0 ? String.format(Locale.ROOT, "%.2fx", r.tokensPerSecond() / base) : "-", r.sameAsPlain() ? "yes" : "NO");
        }
        out.println();
    }

    static void printVerify(PrintWriter out, String target, List<VerifyRow> rows) {
        out.printf(Locale.ROOT, "verification cost: %s, one forward pass of N+1 tokens vs a single-token decode at depth %d%n",
                target, rows.isEmpty() ? 0 : rows.get(0).depth());
        out.printf(Locale.ROOT, "| %5s | %10s | %16s | %14s | %28s |%n", "N", "tokens", "ms per pass", "x one decode",
                "speedup bound (all accepted)");
        out.printf(Locale.ROOT, "| %5s | %10s | %16s | %14s | %28s |%n", "----:", "---------:", "---------------:",
                "-------------:", "---------------------------:");
        for (VerifyRow r : rows) {
            out.printf(Locale.ROOT, "| %5d | %10d | %16s | %14.2f | %28s |%n", r.tokens() - 1, r.tokens(),
                    String.format(Locale.ROOT, "%.1f ± %.1f", r.millis(), r.stddevMillis()), r.relative(),
                    String.format(Locale.ROOT, "%.2fx", r.speedupBound()));
        }
        out.println();
    }

    static Map<String, Object> specJson(SpecRow r, double base) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("test", "spec");
        m.put("draft", r.draft());
        m.put("tokens_per_second", BenchCommand.round(r.tokensPerSecond()));
        m.put("stddev_ts", BenchCommand.round(r.stddev()));
        m.put("generated", r.generated());
        m.put("drafted", r.drafted());
        m.put("accepted", r.accepted());
        m.put("acceptance_rate", BenchCommand.round(r.acceptance()));
        m.put("tokens_per_target_pass", BenchCommand.round(r.tokensPerPass()));
        m.put("speedup", base > 0 ? BenchCommand.round(r.tokensPerSecond() / base) : null);
        m.put("identical_to_plain", r.sameAsPlain());
        return m;
    }

    static Map<String, Object> verifyJson(VerifyRow r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("test", "verify");
        m.put("draft", r.tokens() - 1);
        m.put("tokens", r.tokens());
        m.put("n_depth", r.depth());
        m.put("ms_per_pass", BenchCommand.round(r.millis()));
        m.put("stddev_ms", BenchCommand.round(r.stddevMillis()));
        m.put("relative_to_one_token", BenchCommand.round(r.relative()));
        m.put("speedup_bound", BenchCommand.round(r.speedupBound()));
        return m;
    }

}
