package dev.panamax.engine.backend;

/**
 * Runs a contiguous range of transformer layers on some device, owning those layers' KV cache.
 * The hidden state crosses into and out of a runner once per step.
 *
 * <p>A runner may also own the final norm and the output head ({@link #hasHead()}); it is then the
 * last runner of a session, the hidden state does not come back to the host, and only the logits
 * the caller asks for cross back ({@link #logits}).
 */
public interface LayerRunner extends AutoCloseable {

    /** First layer this runner computes. */
    int firstLayer();

    /** One past the last layer this runner computes. */
    int endLayer();

    /**
     * Applies the layers in place to {@code tokens} hidden states (token-major, embedding values
     * each) at positions {@code pos0 .. pos0+tokens-1}, appending their keys and values to the cache.
     * A runner with {@link #hasHead()} keeps the result on its device and may leave {@code hidden}
     * as it was.
     */
    void forward(float[] hidden, int tokens, int pos0);

    /** Whether this runner computes the final norm and output head itself (see {@link #logits}). */
    default boolean hasHead() {
        return false;
    }

    /**
     * The logits of tokens {@code first .. first+count-1} of the last {@link #forward} call (the final
     * norm and output head applied to their hidden states), token after token from
     * {@code out[offset]}, vocabulary-size values each. Only for runners with {@link #hasHead()}.
     */
    default void logits(int first, int count, float[] out, int offset) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no output head");
    }

    /**
     * The CPU's layers (those before this runner's) on this runner's device for big batches, while
     * it waits for the hidden state (its scratch is free then), or empty.
     */
    default java.util.Optional<LayerOffload> cpuLayers() {
        return java.util.Optional.empty();
    }

    /** Forgets cached positions at or after {@code length} (speculative rollback, /reset). */
    void truncate(int length);

    @Override
    void close();
}
