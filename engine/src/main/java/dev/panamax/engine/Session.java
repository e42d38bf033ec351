package dev.panamax.engine;

import dev.panamax.engine.backend.LayerRunner;
import dev.panamax.engine.cpu.CpuLayers;
import dev.panamax.engine.model.KvCache;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.Weights;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.kernels.Activations;
import dev.panamax.kernels.MatOps;
import dev.panamax.kernels.Ops;
import dev.panamax.kernels.WorkerPool;
import java.util.List;

/**
 * One conversation's state over a model: the KV cache, the position, and buffers sized once.
 * Tokens go in through {@link #forward}; logits come out for the positions asked for.
 */
public final class Session implements AutoCloseable {
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
    private final KvCache cache;
    private final List<LayerRunner> runners;
    private final int microBatch;
    private final float[] hidden;
    private final Activations headInput;
    private final float[] logits;
    private final int[] oneToken = new int[1];
    private int position;

    private static final LogitsConsumer IGNORE = (i, l, o) -> { };

    Session(Model model, SessionOptions options) {
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
        this.microBatch = Math.min(options.batch(), 256);
        this.pool = new WorkerPool(options.threads());
        try {
            this.cache = new KvCache(config, config.layers(), options.context(), options.keyType(), options.valueType());
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
        this.runners = List.of(new CpuLayers(config, weights.layers(), 0, config.layers(), cache, pool, microBatch));
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
                head(t0, tn);
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
        pool.close();
    }
}
