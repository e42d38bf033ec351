package dev.panamax.engine.generate;

/**
 * Detects a generation stuck in a loop: the last tokens are one block of {@code p} tokens
 * repeated, covering at least {@code minTokens} tokens and at least {@link #MIN_REPEATS} copies
 * (greedy decoding of reasoning models can otherwise repeat forever).
 */
public final class LoopGuard {
    public static final int MIN_REPEATS = 3;
    public static final int MAX_PERIOD = 256;

    private final int minTokens;

    /** @param minTokens shortest repeated span that counts as a loop; 0 disables the guard */
    public LoopGuard(int minTokens) {
        if (minTokens < 0) {
            throw new IllegalArgumentException("loop guard span must be >= 0");
        }
        this.minTokens = minTokens;
    }

    public boolean enabled() {
        return minTokens > 0;
    }

    /** The period of the loop ending at tokens[n-1], or 0 if there is none. */
    public int loopPeriod(int[] tokens, int n) {
        if (minTokens == 0) {
            return 0;
        }
        for (int p = 1; p <= MAX_PERIOD; p++) {
            int window = Math.max(minTokens, MIN_REPEATS * p);
            if (window > n) {
                if (MIN_REPEATS * p > n) {
                    break;
                }
                continue;
            }
            int i = 0;
            int span = window - p;
            while (i < span && tokens[n - 1 - i] == tokens[n - 1 - i - p]) {
                i++;
            }
            if (i == span) {
                return p;
            }
        }
        return 0;
    }
}
