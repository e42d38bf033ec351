package dev.panamax.engine.backend;

import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.Weights;
import dev.panamax.gguf.GgmlType;

/** A device that can run a contiguous range of layers (and the output head) with its own memory. */
public interface Backend extends AutoCloseable {
    String name();

    /** Device description for the plan line, e.g. "NVIDIA H100 80GB HBM3 (sm_90)". */
    String device();

    /** Free device memory now, in bytes (before any --vram-limit). */
    long freeBytes();

    /**
     * Uploads layers [first, end) (and the final norm and output head when {@code withHead}) and
     * allocates their KV cache for {@code context} positions; returns the runner that computes them.
     */
    LayerRunner load(ModelConfig config, Weights weights, int first, int end, boolean withHead, int context,
            GgmlType keyType, GgmlType valueType, int maxTokens);

    @Override
    void close();
}
