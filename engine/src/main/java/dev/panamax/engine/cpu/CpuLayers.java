package dev.panamax.engine.cpu;

import dev.panamax.engine.backend.LayerRunner;
import dev.panamax.engine.model.Architecture.RopeLayout;
import dev.panamax.engine.model.KvCache;
import dev.panamax.engine.model.LayerWeights;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.RopeTable;
import dev.panamax.engine.model.Vec;
import dev.panamax.kernels.Activations;
import dev.panamax.kernels.MatOps;
import dev.panamax.kernels.Ops;
import dev.panamax.kernels.QuantFormat;
import dev.panamax.kernels.WorkerPool;

/**
 * Transformer layers on the CPU: for a micro-batch of tokens, each layer is
 * <pre>
 *   h = rmsnorm(x) ; q,k,v = h Wq,Wk,Wv (+ biases) ; q,k = qk-norm, rope ; cache k,v
 *   x += softmax(q k^T / sqrt(d), causal) v  Wo
 *   h = rmsnorm(x) ; x += (silu(h Wgate) * h Wup) Wdown
 * </pre>
 * Projections go through the matrix-matrix kernels (each weight row is read once per token tile);
 * all buffers are sized once for {@code maxTokens} tokens.
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
    private final Activations query;      // one "token" per (token, head): headDim values
    private final float[] key;
    private final float[] value;
    private final Activations attention;  // attention output, input of Wo
    private final Activations ffn;        // silu(gate) * up, input of Wdown
    private final float[] up;
    private final float[] delta;          // Wo / Wdown outputs before the residual add
    private final float[] cos;
    private final float[] sin;
    private final float[][] scores;       // per worker
    private final float[][] valueRow;     // per worker

    public CpuLayers(ModelConfig c, LayerWeights[] allLayers, int first, int end, KvCache cache, WorkerPool pool,
            int maxTokens) {
        this.c = c;
        this.first = first;
        this.layers = java.util.Arrays.copyOfRange(allLayers, first, end);
        this.cache = cache;
        this.pool = pool;
        this.rope = new RopeTable(c.rope());
        this.neox = c.arch().ropeLayout() == RopeLayout.NEOX;
        this.attnScale = (float) (1.0 / Math.sqrt(c.headDim()));
        this.normed = new Activations(maxTokens, c.embedding());
        this.query = new Activations(maxTokens * c.heads(), c.headDim());
        this.key = new float[maxTokens * c.kvDim()];
        this.value = new float[maxTokens * c.kvValueDim()];
        this.attention = new Activations(maxTokens, c.heads() * c.valueDim());
        this.ffn = new Activations(maxTokens, c.feedForward());
        this.up = new float[maxTokens * c.feedForward()];
        this.delta = new float[maxTokens * c.embedding()];
        this.cos = new float[maxTokens * c.rope().dims() / 2];
        this.sin = new float[maxTokens * c.rope().dims() / 2];
        this.scores = new float[pool.threads()][cache.context()];
        this.valueRow = new float[pool.threads()][c.valueDim()];
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
        int half = c.rope().dims() / 2;
        for (int t = 0; t < tokens; t++) {
            rope.angles(pos0 + t, cos, sin, t * half);
        }
        normed.setTokens(tokens);
        query.setTokens(tokens * c.heads());
        attention.setTokens(tokens);
        ffn.setTokens(tokens);
        for (int l = 0; l < layers.length; l++) {
            attentionBlock(l, layers[l], x, tokens, pos0);
            feedForwardBlock(layers[l], x, tokens);
        }
    }

    private void attentionBlock(int l, LayerWeights w, float[] x, int tokens, int pos0) {
        int dim = c.embedding();
        float[] h = normed.f32();
        for (int t = 0; t < tokens; t++) {
            Ops.rmsNorm(h, t * dim, x, t * dim, w.attnNorm().data(), dim, c.rmsEps());
        }
        normed.invalidate();
        MatOps.matmul(w.wq(), normed, query.f32(), pool);
        MatOps.matmul(w.wk(), normed, key, pool);
        MatOps.matmul(w.wv(), normed, value, pool);
        float[] q = query.f32();
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
        query.invalidate();
        QuantFormat kf = cache.keyFormat();
        query.prepare(kf.activationType());
        attend(first + l, tokens, pos0);
        attention.invalidate();
        MatOps.matmul(w.wo(), attention, delta, pool);
        Ops.add(x, 0, delta, 0, tokens * dim);
    }

    private void ropeHead(float[] v, int o, int t, int half) {
        Ops.rope(v, o, c.rope().dims(), cos, sin, t * half, neox);
    }

    /** Causal grouped-query attention of every (token, head) against the cache, in parallel. */
    private void attend(int layer, int tokens, int pos0) {
        int heads = c.heads();
        int group = c.groupSize();
        int vd = c.valueDim();
        QuantFormat kf = cache.keyFormat();
        QuantFormat vf = cache.valueFormat();
        float[] out = attention.f32();
        pool.parallelFor(tokens * heads, 1, (worker, start, end) -> {
            float[] s = scores[worker];
            float[] vrow = valueRow[worker];
            for (int i = start; i < end; i++) {
                int t = i / heads;
                int hq = i % heads;
                int kvh = hq / group;
                int n = pos0 + t + 1;
                for (int p = 0; p < n; p++) {
                    s[p] = kf.dot(cache.keys(layer), cache.keyOffset(p, kvh), query, i) * attnScale;
                }
                Ops.softmax(s, 0, n);
                int o = t * heads * vd + hq * vd;
                java.util.Arrays.fill(out, o, o + vd, 0f);
                for (int p = 0; p < n; p++) {
                    vf.dequantize(cache.values(layer), cache.valueOffset(p, kvh), vrow, 0, vd);
                    Ops.axpy(out, o, s[p], vrow, 0, vd);
                }
            }
        });
    }

    private void feedForwardBlock(LayerWeights w, float[] x, int tokens) {
        int dim = c.embedding();
        int ff = c.feedForward();
        float[] h = normed.f32();
        for (int t = 0; t < tokens; t++) {
            Ops.rmsNorm(h, t * dim, x, t * dim, w.ffnNorm().data(), dim, c.rmsEps());
        }
        normed.invalidate();
        MatOps.matmul(w.gate(), normed, ffn.f32(), pool);
        MatOps.matmul(w.up(), normed, up, pool);
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
