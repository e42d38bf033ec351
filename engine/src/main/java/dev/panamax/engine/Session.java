package dev.panamax.engine;

import dev.panamax.engine.backend.Backend;
import dev.panamax.engine.backend.LayerRunner;
import dev.panamax.engine.backend.Offload;
import dev.panamax.engine.cpu.CpuLayers;
import dev.panamax.engine.model.Architecture;
import dev.panamax.engine.model.KvCache;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.Vec;
import dev.panamax.engine.model.Weights;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.engine.model.LayerWeights;
import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.Activations;
import dev.panamax.kernels.KernelWarmUp;
import dev.panamax.kernels.MatOps;
import dev.panamax.kernels.QuantMatrix;
import dev.panamax.kernels.Ops;
import dev.panamax.kernels.WorkerPool;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * One conversation's state over a model: the KV cache, the position, and buffers sized once.
 * Tokens go in through {@link #forward}; logits come out for the positions asked for.
 */
public final class Session implements AutoCloseable {
    // prompt tokens a forward pass of the layers takes: a device's products want more blocks
    private static final int CPU_MICRO_BATCH = 256;
    private static final int DEVICE_MICRO_BATCH = 512;
    /** Tokens whose logits the output head computes together. */
    private static final int HEAD_TILE = 8;

    /** Receives the logits of token {@code index} of a forward call: {@code logits[offset .. offset+vocab)}. */
    @FunctionalInterface
    public interface LogitsConsumer {
        void accept(int index, float[] logits, int offset);
    }

    private final ModelConfig config;
    private final Weights weights;
    private final SessionOptions options;
    private final WorkerPool pool;
    private final boolean ownsPool;
    private final KvCache cache;
    private final List<LayerRunner> runners;
    private final LayerRunner deviceHead;   // the last runner when it owns the output head, else null
    private final String backendSummary;
    private final int layersOnDevice;
    private final int microBatch;
    private final float[] hidden;
    private final Activations headInput;
    private final float[] logits;
    private final int[] oneToken = new int[1];
    private int position;

    private static final LogitsConsumer IGNORE = (i, l, o) -> { };

    /**
     * @param sharedPool compute threads shared with other sessions (not closed with this one), or
     *     null for a pool of {@code options.threads()} threads owned by the session
     * @param backend the accelerator for the last layers (as {@link SessionOptions#backend()} plans),
     *     or null to detect one with those options
     */
    Session(Model model, SessionOptions options, WorkerPool sharedPool, Backend backend) {
        this.config = model.config();
        this.weights = model.weights();
        this.options = options;
        if (options.context() < 1) {
            throw new PanamaxException("context size must be at least 1, got " + options.context());
        }
        if (options.batch() < 1) {
            throw new PanamaxException("batch size must be at least 1, got " + options.batch());
        }
        if (options.threads() < 1) {
            throw new PanamaxException("threads must be at least 1, got " + options.threads());
        }
        // a device takes prompts in micro-batches of up to 512 tokens (its products get twice the
        // blocks to spread over the multiprocessors: 14B Q4_K_H pp512 on an H200 3,403/3,435 ->
        // 4,359/4,362 tokens/s), the CPU 256
        int deviceBatch = deviceMicroBatch(options.batch());
        Offload offload = Offload.decide(config, weights, options.backend(), options.context(), deviceBatch,
                options.keyType(), options.valueType(), backend);
        LayerRunner device = null;
        if (offload.backend() != null) {
            int n = config.layers();
            try {
                device = offload.backend().load(config, weights, n - offload.layersOnDevice(), n, true,
                        options.context(), options.keyType(), options.valueType(), deviceBatch);
            } catch (RuntimeException e) {
                offload = offload.failed(e.getMessage() == null ? e.toString() : e.getMessage());
            }
        }
        this.microBatch = device != null ? deviceBatch : Math.min(options.batch(), CPU_MICRO_BATCH);
        this.backendSummary = offload.summary();
        int cpuLayers = device == null ? config.layers() : device.firstLayer();
        this.ownsPool = sharedPool == null;
        this.pool = ownsPool ? new WorkerPool(options.threads()) : sharedPool;
        try {
            this.cache = new KvCache(config, cpuLayers, options.context(), options.keyType(), options.valueType());
        } catch (RuntimeException e) {
            if (ownsPool) {
                pool.close();
            }
            if (device != null) {
                device.close();
            }
            throw e;
        }
        List<LayerRunner> rs = new ArrayList<>();
        if (cpuLayers > 0) {
            rs.add(new CpuLayers(config, weights.layers(), 0, cpuLayers, cache, pool, microBatch,
                    device == null ? null : device.cpuLayers().orElse(null)));
        }
        if (device != null) {
            rs.add(device);
        }
        this.runners = List.copyOf(rs);
        this.deviceHead = device != null && device.hasHead() ? device : null;
        this.layersOnDevice = config.layers() - cpuLayers;
        this.hidden = new float[microBatch * config.embedding()];
        this.headInput = new Activations(HEAD_TILE, config.embedding());
        this.logits = new float[HEAD_TILE * config.vocab()];
    }

    public ModelConfig config() {
        return config;
    }

    public SessionOptions options() {
        return options;
    }

    /** Positions filled so far. */
    public int position() {
        return position;
    }

    public int context() {
        return options.context();
    }

    public int vocab() {
        return config.vocab();
    }

    /** The micro-batch of a session whose device holds layers, for a batch size: what its plan budgets. */
    public static int deviceMicroBatch(int batch) {
        return Math.min(batch, DEVICE_MICRO_BATCH);
    }

    /** Tokens per forward pass of the layers while prefilling (forward calls split at multiples of it compute the same). */
    public int microBatch() {
        return microBatch;
    }

    /**
     * Appends {@code n} tokens and computes the logits of tokens {@code logitsFrom .. n-1} (indices
     * into this call), handing each to {@code consumer}; the buffer is reused between calls.
     */
    public void forward(int[] tokens, int off, int n, int logitsFrom, LogitsConsumer consumer) {
        if (n < 1) {
            return;
        }
        if (position + n > options.context()) {
            throw new PanamaxException((position > 0 ? "conversation of " + (position + n) : "prompt of " + n)
                    + " tokens does not fit the context of " + options.context() + " tokens"
                    + (position > 0 ? " (" + (options.context() - position) + " left)" : "")
                    + "; raise it with -c (the model was trained for " + config.trainedContext() + ")");
        }
        int dim = config.embedding();
        for (int b = 0; b < n; b += microBatch) {
            int count = Math.min(microBatch, n - b);
            for (int t = 0; t < count; t++) {
                int id = tokens[off + b + t];
                if (id < 0 || id >= config.vocab()) {
                    throw new PanamaxException("token id " + id + " is outside the vocabulary of " + config.vocab());
                }
                weights.tokenEmbedding().dequantizeRow(id, hidden, t * dim);
            }
            for (LayerRunner r : runners) {
                r.forward(hidden, count, position);
            }
            position += count;
            int from = Math.max(logitsFrom - b, 0);
            for (int t0 = from; t0 < count; t0 += HEAD_TILE) {
                int tn = Math.min(HEAD_TILE, count - t0);
                if (deviceHead != null) {
                    deviceHead.logits(t0, tn, logits, 0);
                } else {
                    head(t0, tn);
                }
                for (int t = 0; t < tn; t++) {
                    consumer.accept(b + t0 + t, logits, t * config.vocab());
                }
            }
        }
    }

    private void head(int t0, int tn) {
        int dim = config.embedding();
        headInput.setTokens(tn);
        float[] h = headInput.f32();
        for (int t = 0; t < tn; t++) {
            Ops.rmsNorm(h, t * dim, hidden, (t0 + t) * dim, weights.outputNorm().data(), dim, config.rmsEps());
        }
        headInput.invalidate();
        MatOps.matmul(weights.output(), headInput, logits, pool);
    }

    /**
     * Gets the JIT to compile the CPU kernels this session's weights and cache will run, on the
     * first rows of each weight type ({@link KernelWarmUp}, a second or two), while the system maps
     * the weights in behind it ({@link Weights#prefault}): call it once before the first prompt,
     * whose latency it cuts by seconds on big models. Computes nothing of the model's.
     */
    public void warmUp() {
        weights.prefault();
        Map<GgmlType, QuantMatrix> byType = new LinkedHashMap<>();
        int cpuLayers = config.layers() - layersOnDevice;
        for (int l = 0; l < cpuLayers; l++) {
            LayerWeights w = weights.layers()[l];
            for (QuantMatrix m : w.matrices()) {
                byType.putIfAbsent(m.format().type(), m);
            }
        }
        if (deviceHead == null) {
            byType.putIfAbsent(weights.output().format().type(), weights.output());
        }
        if (!byType.isEmpty()) {
            LayerWeights first = weights.layers()[0];
            Vec bias = first.bq() != null ? first.bq() : first.bk() != null ? first.bk() : first.bv();
            KernelWarmUp.run(byType.values(), new KernelWarmUp.ModelShape(config.heads(), config.kvHeads(), config.headDim(),
                    config.valueDim(), options.keyType(), options.valueType(), first.attnNorm().data(),
                    bias == null ? null : bias.data(), config.rope().dims(),
                    config.arch().ropeLayout() == Architecture.RopeLayout.NEOX), pool);
        }
    }

    /** Appends tokens and returns the logits of the last one (a view valid until the next call). */
    public float[] prefill(int[] tokens) {
        float[][] last = new float[1][];
        forward(tokens, 0, tokens.length, tokens.length - 1, (i, l, o) -> last[0] = copyRow(l, o));
        return last[0];
    }

    /** Appends one token and returns its logits (a fresh array). */
    public float[] decode(int token) {
        return prefill(new int[] {token});
    }

    /**
     * Appends one token and returns its logits without copying or allocating: {@code [0, vocab())}
     * of the returned buffer, which the next call of any method of this session overwrites.
     */
    public float[] decodeInPlace(int token) {
        oneToken[0] = token;
        forward(oneToken, 0, 1, 0, IGNORE);
        return logits;
    }

    private float[] copyRow(float[] l, int o) {
        float[] r = new float[config.vocab()];
        System.arraycopy(l, o, r, 0, r.length);
        return r;
    }

    /** Forgets positions at or after {@code length}. */
    public void truncate(int length) {
        if (length < 0 || length > position) {
            throw new IllegalArgumentException("cannot truncate to " + length + " of " + position + " positions");
        }
        for (LayerRunner r : runners) {
            r.truncate(length);
        }
        position = length;
    }

    /** One line on where the layers run (the GPU found and the split, or why everything is on the CPU). */
    public String backendSummary() {
        return backendSummary;
    }

    /** Layers computed by an accelerator (the last ones). */
    public int layersOnDevice() {
        return layersOnDevice;
    }

    public long cacheBytes() {
        return cache.bytes();
    }

    public WorkerPool pool() {
        return pool;
    }

    @Override
    public void close() {
        runners.forEach(LayerRunner::close);
        cache.close();
        if (ownsPool) {
            pool.close();
        }
    }
}
