package dev.panamax.engine.cpu;

import dev.panamax.engine.backend.LayerRunner;
import dev.panamax.engine.backend.LayerOffload;
import dev.panamax.engine.model.Architecture.RopeLayout;
import dev.panamax.engine.model.KvCache;
import dev.panamax.engine.model.LayerWeights;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.RopeTable;
import dev.panamax.engine.model.Vec;
import dev.panamax.kernels.Activations;
import dev.panamax.kernels.DecodeAttention;
import dev.panamax.kernels.MatOps;
import dev.panamax.kernels.Ops;
import dev.panamax.kernels.PromptAttention;
import dev.panamax.kernels.QuantMatrix;
import dev.panamax.kernels.WorkerPool;

/**
 * Transformer layers on the CPU: for a micro-batch of tokens, each layer is
 * <pre>
 *   h = rmsnorm(x) ; q,k,v = h Wq,Wk,Wv (+ biases) ; q,k = qk-norm, rope ; cache k,v
 *   x += softmax(q k^T / sqrt(d), causal) v  Wo
 *   h = rmsnorm(x) ; x += (silu(h Wgate) * h Wup) Wdown
 * </pre>
 * Projections go through the matrix-matrix kernels (each weight row is read once per token tile);
 * all buffers are sized once for {@code maxTokens} tokens. Batches of {@link LayerOffload#MIN_TOKENS}
 * or more run on a device instead when one offers it ({@link LayerOffload}).
 */
public final class CpuLayers implements LayerRunner {
    private final ModelConfig c;
    private final LayerWeights[] layers;
    private final int first;
    private final KvCache cache;
    private final WorkerPool pool;
    private final RopeTable rope;
    private final boolean neox;
    private final float attnScale;

    private final Activations normed;     // rmsnorm(x), input of q/k/v and gate/up
    private final float[] query;          // q of each token: heads x headDim values
    private final float[] key;
    private final float[] value;
    private final Activations attention;  // attention output, input of Wo
    private final Activations ffn;        // silu(gate) * up, input of Wdown
    private final float[] up;
    private final float[] delta;          // Wo / Wdown outputs before the residual add
    private final float[] cos;
    private final float[] sin;
    private final QuantMatrix[][] qkv;    // per layer: wq, wk, wv (one parallel loop)
    private final QuantMatrix[][] gateUp; // per layer: gate, up
    private final float[][] qkvOut;
    private final float[][] gateUpOut;
    private final LayerOffload offload;   // null: every batch on the CPU
    private final DecodeAttention decode; // attention of a single token (generation)
    private final PromptAttention prompt; // attention of several tokens (prompts, speculative checks)

    public CpuLayers(ModelConfig c, LayerWeights[] allLayers, int first, int end, KvCache cache, WorkerPool pool,
            int maxTokens) {
        this(c, allLayers, first, end, cache, pool, maxTokens, null);
    }

    /** @param offload a device for big batches of these layers (which must start at layer 0), or null */
    public CpuLayers(ModelConfig c, LayerWeights[] allLayers, int first, int end, KvCache cache, WorkerPool pool,
            int maxTokens, LayerOffload offload) {
        if (offload != null && first != 0) {
            throw new IllegalArgumentException("a layer offload computes layers from 0, these start at " + first);
        }
        this.c = c;
        this.first = first;
        this.layers = java.util.Arrays.copyOfRange(allLayers, first, end);
        this.cache = cache;
        this.pool = pool;
        this.rope = new RopeTable(c.rope());
        this.neox = c.arch().ropeLayout() == RopeLayout.NEOX;
        this.attnScale = (float) (1.0 / Math.sqrt(c.headDim()));
        this.normed = new Activations(maxTokens, c.embedding());
        this.query = new float[maxTokens * c.queryDim()];
        this.key = new float[maxTokens * c.kvDim()];
        this.value = new float[maxTokens * c.kvValueDim()];
        this.attention = new Activations(maxTokens, c.heads() * c.valueDim());
        this.ffn = new Activations(maxTokens, c.feedForward());
        this.up = new float[maxTokens * c.feedForward()];
        this.delta = new float[maxTokens * c.embedding()];
        this.cos = new float[maxTokens * c.rope().dims() / 2];
        this.sin = new float[maxTokens * c.rope().dims() / 2];
        this.decode = new DecodeAttention(c.heads(), c.kvHeads(), c.headDim(), c.valueDim(), pool.threads());
        this.prompt = new PromptAttention(c.heads(), c.kvHeads(), c.headDim(), c.valueDim(), cache.context(), maxTokens,
                pool.threads());
        this.qkv = new QuantMatrix[layers.length][];
        this.gateUp = new QuantMatrix[layers.length][];
        for (int l = 0; l < layers.length; l++) {
            qkv[l] = new QuantMatrix[] {layers[l].wq(), layers[l].wk(), layers[l].wv()};
            gateUp[l] = new QuantMatrix[] {layers[l].gate(), layers[l].up()};
        }
        this.offload = offload;
        this.qkvOut = new float[][] {query, key, value};
        this.gateUpOut = new float[][] {ffn.f32(), up};
    }

    @Override
    public int firstLayer() {
        return first;
    }

    @Override
    public int endLayer() {
        return first + layers.length;
    }

    @Override
    public void forward(float[] x, int tokens, int pos0) {
        if (offload != null && tokens >= LayerOffload.MIN_TOKENS) {
            offload.forward(cache, x, tokens, pos0, pool);
            return;
        }
        int half = c.rope().dims() / 2;
        for (int t = 0; t < tokens; t++) {
            rope.angles(pos0 + t, cos, sin, t * half);
        }
        normed.setTokens(tokens);
        attention.setTokens(tokens);
        ffn.setTokens(tokens);
        for (int l = 0; l < layers.length; l++) {
            attentionBlock(l, layers[l], x, tokens, pos0);
            feedForwardBlock(l, layers[l], x, tokens);
        }
    }

    private void attentionBlock(int l, LayerWeights w, float[] x, int tokens, int pos0) {
        int dim = c.embedding();
        float[] h = normed.f32();
        for (int t = 0; t < tokens; t++) {
            Ops.rmsNorm(h, t * dim, x, t * dim, w.attnNorm().data(), dim, c.rmsEps());
        }
        normed.invalidate();
        MatOps.matmul(qkv[l], normed, qkvOut, pool);
        float[] q = query;
        int hd = c.headDim();
        int half = c.rope().dims() / 2;
        for (int t = 0; t < tokens; t++) {
            addBias(q, t * c.queryDim(), w.bq());
            addBias(key, t * c.kvDim(), w.bk());
            addBias(value, t * c.kvValueDim(), w.bv());
            for (int hq = 0; hq < c.heads(); hq++) {
                int o = t * c.queryDim() + hq * hd;
                if (w.qNorm() != null) {
                    Ops.rmsNorm(q, o, q, o, w.qNorm().data(), hd, c.rmsEps());
                }
                ropeHead(q, o, t, half);
            }
            for (int hk = 0; hk < c.kvHeads(); hk++) {
                int o = t * c.kvDim() + hk * hd;
                if (w.kNorm() != null) {
                    Ops.rmsNorm(key, o, key, o, w.kNorm().data(), hd, c.rmsEps());
                }
                ropeHead(key, o, t, half);
            }
            cache.store(first + l, pos0 + t, key, t * c.kvDim(), value, t * c.kvValueDim());
        }
        attend(first + l, tokens, pos0);
        attention.invalidate();
        MatOps.matmul(w.wo(), attention, delta, pool);
        Ops.add(x, 0, delta, 0, tokens * dim);
    }

    private void ropeHead(float[] v, int o, int t, int half) {
        Ops.rope(v, o, c.rope().dims(), cos, sin, t * half, neox);
    }

    /**
     * Causal grouped-query attention against the cache. One token (generation) goes through {@link
     * DecodeAttention}, split over ranges of positions; several (prompts, speculative checks)
     * through {@link PromptAttention}, in parallel over (tile of query tokens, key/value head), the
     * scores and the weighted sum of values as products of the float panels, each key and value
     * row dequantized once for all the query heads that share it and all the tile's tokens.
     */
    private void attend(int layer, int tokens, int pos0) {
        if (tokens == 1) {
            decode.run(query, 0, cache.keyFormat(), cache.keys(layer), cache.valueFormat(), cache.values(layer),
                    pos0 + 1, attnScale, attention.f32(), 0, pool);
            return;
        }
        prompt.run(query, tokens, pos0, cache.keyFormat(), cache.keys(layer), cache.valueFormat(), cache.values(layer),
                attnScale, attention.f32(), pool);
    }

    private void feedForwardBlock(int l, LayerWeights w, float[] x, int tokens) {
        int dim = c.embedding();
        int ff = c.feedForward();
        float[] h = normed.f32();
        for (int t = 0; t < tokens; t++) {
            Ops.rmsNorm(h, t * dim, x, t * dim, w.ffnNorm().data(), dim, c.rmsEps());
        }
        normed.invalidate();
        MatOps.matmul(gateUp[l], normed, gateUpOut, pool);
        Ops.swiglu(ffn.f32(), 0, up, 0, tokens * ff);
        ffn.invalidate();
        MatOps.matmul(w.down(), ffn, delta, pool);
        Ops.add(x, 0, delta, 0, tokens * dim);
    }

    private static void addBias(float[] v, int o, Vec b) {
        if (b != null) {
            Ops.addBias(v, o, b.data(), b.size());
        }
    }

    @Override
    public void truncate(int length) {
        // positions past length are simply overwritten later: attention reads only [0, pos]
    }

    @Override
    public void close() {
        // the cache and pool belong to the session
    }
}
