package dev.panamax.engine.backend;

/**
 * Runs a contiguous range of transformer layers on some device, owning those layers' KV cache.
 * The hidden state crosses into and out of a runner once per step.
 */
public interface LayerRunner extends AutoCloseable {

    /** First layer this runner computes. */
    int firstLayer();

    /** One past the last layer this runner computes. */
    int endLayer();

    /**
     * Applies the layers in place to {@code tokens} hidden states (token-major, embedding values
     * each) at positions {@code pos0 .. pos0+tokens-1}, appending their keys and values to the cache.
     */
    void forward(float[] hidden, int tokens, int pos0);

    /** Forgets cached positions at or after {@code length} (speculative rollback, /reset). */
    void truncate(int length);

    @Override
    void close();
}
