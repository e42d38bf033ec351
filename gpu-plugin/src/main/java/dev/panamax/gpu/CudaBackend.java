package dev.panamax.gpu;

import dev.panamax.engine.backend.Backend;
import dev.panamax.engine.backend.LayerRunner;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.Weights;
import dev.panamax.gguf.GgmlType;
import java.util.Locale;

/** One CUDA device as a Panamax {@link Backend}: loads layer ranges as {@link CudaLayers}. */
public final class CudaBackend implements Backend {
    private final Gpu gpu;
    private final boolean graphs;

    /** A backend over a device (JCuda's, or an emulator in tests); {@code graphs}: record decode steps. */
    public CudaBackend(Gpu gpu, boolean graphs) {
        this.gpu = gpu;
        this.graphs = graphs;
    }

    public Gpu gpu() {
        return gpu;
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String device() {
        return String.format(Locale.ROOT, "%s (sm_%d, %.0f GiB)", gpu.name(), gpu.capability(),
                gpu.totalBytes() / 1073741824.0);
    }

    @Override
    public long freeBytes() {
        return gpu.freeBytes();
    }

    @Override
    public LayerRunner load(ModelConfig config, Weights weights, int first, int end, boolean withHead, int context,
            GgmlType keyType, GgmlType valueType, int maxTokens) {
        return new CudaLayers(gpu, config, weights, first, end, withHead, context, keyType, valueType, maxTokens,
                graphs);
    }

    /** Greedy tokens computed on the device by a runner of this backend (see {@link CudaLayers#argmax}). */
    public static int[] argmax(LayerRunner runner, int first, int count) {
        return ((CudaLayers) runner).argmax(first, count);
    }

    @Override
    public void close() {
        gpu.close();
    }
}
