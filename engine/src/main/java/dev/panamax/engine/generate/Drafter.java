package dev.panamax.engine.generate;

/**
 * Proposes the next tokens (in the target's vocabulary) for speculative decoding, given the
 * target's committed tokens.
 */
public interface Drafter extends AutoCloseable {
    /** Up to {@code max} proposed target tokens following {@code history[0..length)}; may be empty. */
    int[] propose(int[] history, int length, int max);

    /** The configured block length N. */
    int maxDraft();

    /** Forget cached state (a new conversation). */
    void reset();

    /** Releases what the drafter owns (nothing by default). */
    @Override
    default void close() {
    }
}
