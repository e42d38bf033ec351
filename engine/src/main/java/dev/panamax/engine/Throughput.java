package dev.panamax.engine;

import dev.panamax.kernels.KernelWarmUp;
import java.util.SplittableRandom;

/**
 * One llama-bench test on a session: a prompt of {@code nPrompt} tokens in one forward call
 * ({@code ppN}), or {@code nGen} tokens generated one forward call each ({@code tgN}), after
 * {@code depth} tokens already in the cache. Token ids are random (fixed seed): speed does not depend
 * on them. The depth is filled once, untimed; each repetition truncates back to it.
 */
public final class Throughput {
    private final Session session;
    private final int depth;
    private final int nPrompt;
    private final int nGen;
    private final int[] tokens;

    /** Fills the cache to {@code depth}; exactly one of {@code nPrompt} and {@code nGen} is positive. */
    public Throughput(Session session, int depth, int nPrompt, int nGen) {
        if (depth < 0 || (nPrompt > 0) == (nGen > 0) || nPrompt < 0 || nGen < 0) {
            throw new IllegalArgumentException("one of nPrompt and nGen positive, depth >= 0: got depth " + depth
                    + ", nPrompt " + nPrompt + ", nGen " + nGen);
        }
        this.session = session;
        this.depth = depth;
        this.nPrompt = nPrompt;
        this.nGen = nGen;
        SplittableRandom rnd = new SplittableRandom(42);
        tokens = new int[Math.max(depth, Math.max(nPrompt, nGen))];
        for (int i = 0; i < tokens.length; i++) {
            tokens[i] = rnd.nextInt(session.vocab());
        }
        session.truncate(0);
        if (depth > 0) {
            session.forward(tokens, 0, depth, depth, (i, l, o) -> { });
        }
    }

    /** Tokens the test processes per repetition. */
    public int tokens() {
        return nPrompt > 0 ? nPrompt : nGen;
    }

    /**
     * Untimed: runs the test's kind of work (short prompts, or a few generated tokens) for at least
     * {@code seconds} and once at least, while the JIT compiles the kernels it uses.
     */
    public void warmUp(double seconds) {
        long end = System.nanoTime() + (long) (seconds * 1e9);
        do {
            session.truncate(depth);
            if (nPrompt > 0) {
                // long enough for both float panel kernels
                int n = Math.min(nPrompt, KernelWarmUp.TOKENS);
                session.forward(tokens, 0, n, n - 1, (i, l, o) -> { });
            } else {
                for (int i = 0; i < Math.min(nGen, 4); i++) {
                    session.forward(tokens, i, 1, 0, (j, l, o) -> { });
                }
            }
        } while (System.nanoTime() < end);
    }

    /** One timed repetition, in tokens per second. */
    public double tokensPerSecond() {
        session.truncate(depth);
        long t0 = System.nanoTime();
        if (nPrompt > 0) {
            session.forward(tokens, 0, nPrompt, nPrompt - 1, (i, l, o) -> { });
        } else {
            for (int i = 0; i < nGen; i++) {
                session.forward(tokens, i, 1, 0, (j, l, o) -> { });
            }
        }
        return tokens() * 1e9 / (System.nanoTime() - t0);
    }

    /** The mean of repetitions' figures. */
    public static double mean(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s / v.length;
    }

    /** Their sample standard deviation (0 for one sample). */
    public static double stddev(double[] v) {
        if (v.length < 2) {
            return 0;
        }
        double m = mean(v);
        double s = 0;
        for (double x : v) {
            s += (x - m) * (x - m);
        }
        return Math.sqrt(s / (v.length - 1));
    }
}
