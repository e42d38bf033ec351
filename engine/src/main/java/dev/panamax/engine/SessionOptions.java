package dev.panamax.engine;

import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.WorkerPool;

/**
 * Per-session settings.
 *
 * @param context positions the KV cache holds (-c)
 * @param batch tokens per forward micro-batch during prompt processing (-b)
 * @param keyType KV cache key type (-ctk): F32, F16 or Q8_0
 * @param valueType KV cache value type (-ctv)
 * @param threads compute threads (-t)
 * @param backend accelerator use (-ngl, --no-gpu, --main-gpu, --vram-reserve, --vram-limit); a session
 *     uses a GPU only when asked ({@link #withBackend}, e.g. {@code BackendOptions.auto()}), so
 *     front ends opt in one by one (each session uploads its own copy of the offloaded weights)
 */
public record SessionOptions(int context, int batch, GgmlType keyType, GgmlType valueType, int threads,
        BackendOptions backend) {

    public SessionOptions {
        if (backend == null) {
            backend = BackendOptions.cpuOnly();
        }
    }

    /** Settings for a session on the CPU. */
    public SessionOptions(int context, int batch, GgmlType keyType, GgmlType valueType, int threads) {
        this(context, batch, keyType, valueType, threads, BackendOptions.cpuOnly());
    }

    public static SessionOptions defaults() {
        return new SessionOptions(4096, 512, GgmlType.F16, GgmlType.F16, WorkerPool.defaultThreads());
    }

    public SessionOptions withContext(int c) {
        return new SessionOptions(c, batch, keyType, valueType, threads, backend);
    }

    public SessionOptions withBatch(int b) {
        return new SessionOptions(context, b, keyType, valueType, threads, backend);
    }

    public SessionOptions withCacheTypes(GgmlType k, GgmlType v) {
        return new SessionOptions(context, batch, k, v, threads, backend);
    }

    public SessionOptions withThreads(int t) {
        return new SessionOptions(context, batch, keyType, valueType, t, backend);
    }

    public SessionOptions withBackend(BackendOptions b) {
        return new SessionOptions(context, batch, keyType, valueType, threads, b);
    }
}
