package dev.panamax.kernels;

import java.util.Arrays;

/**
 * Activation vectors of up to {@code maxTokens} tokens, {@code dim} values each, in float and, on
 * demand, in the int8 block forms the quantized dot products read. Allocated once (per session)
 * and reused: write floats into {@link #f32()}, call {@link #invalidate}, then {@link #prepare}
 * the forms the weights need; each form is computed at most once per invalidation, so Q, K and V
 * (or gate and up) share one quantization of their common input.
 *
 * <p>Layouts (token-major):
 * <ul>
 *   <li>Q8_0: {@code q8_0[t*dim + i]} int8, {@code q8_0Scale[t*dim/32 + b]} float scale of block b,
 *       {@code q8_0Sum[t*dim/32 + b]} sum of that block's int8 values;
 *   <li>Q8_K: {@code q8_K[t*dim + i]} int8, {@code q8_KScale[t*dim/256 + b]} float d,
 *       {@code q8_KSum16[t*dim/16 + g]} sum of each group of 16 int8 values (ggml's bsums),
 *       {@code q8_KSum32[t*dim/32 + g]} the same per 32 values.
 * </ul>
 * Each int8 form also comes widened to int16 ({@link #q8_0Wide()}, {@link #q8_KWide()}, same
 * values and layout): the Vector API has no int8 multiply-add, so kernels multiply in 16-bit
 * lanes, and widening the activations once per prepare instead of once per weight row saves
 * most of a quantized dot product's shuffle work. The int16 Q8_K form comes once more with each
 * group of 32 split into its even and odd values, in the orders in which the even/odd K-quant
 * kernels take their levels out of the weight bytes ({@link #q8_KPairs}).
 */
public final class Activations {
    private final int maxTokens;
    private final int dim;
    private final float[] f32;
    private int tokens;

    private final byte[] q8_0;
    private final float[] q8_0Scale;
    private final int[] q8_0Sum;
    private final byte[] q8_K;
    private final float[] q8_KScale;
    private final int[] q8_KSum16;
    private final int[] q8_KSum32;
    private final short[] q8_0Wide;
    private final short[] q8_KWide;
    /**
     * The even/odd forms by pairing stride 1, 2, 4 (slot 0 for all when vectors hold one chunk),
     * each built and sized on first use after the Q8_K form changes: only the single-token kernels
     * read them, so a prompt that goes through the float panels never pays for them.
     */
    private final short[][] q8_KPairs = {new short[0], new short[0], new short[0]};
    /** Bit i: q8_KPairs for stride 1 << i reflects the current Q8_K form. */
    private volatile int pairsReady;
    private final boolean[] ready = new boolean[ActivationType.values().length];
    /** Per activation type, its values as floats column by column ({@link #columns}). */
    private final float[][] columns = {new float[0], new float[0], new float[0]};
    private final boolean[] columnsReady = new boolean[ActivationType.values().length];

    public Activations(int maxTokens, int dim) {
        if (maxTokens < 1 || dim < 1) {
            throw new IllegalArgumentException("tokens and dim must be positive: " + maxTokens + ", " + dim);
        }
        this.maxTokens = maxTokens;
        this.dim = dim;
        this.tokens = maxTokens;
        this.f32 = new float[Math.multiplyExact(maxTokens, dim)];
        boolean by32 = dim % 32 == 0;
        boolean by256 = dim % 256 == 0;
        this.q8_0 = by32 ? new byte[f32.length] : new byte[0];
        this.q8_0Scale = by32 ? new float[f32.length / 32] : new float[0];
        this.q8_0Sum = by32 ? new int[f32.length / 32] : new int[0];
        this.q8_K = by256 ? new byte[f32.length] : new byte[0];
        this.q8_KScale = by256 ? new float[f32.length / 256] : new float[0];
        this.q8_KSum16 = by256 ? new int[f32.length / 16] : new int[0];
        this.q8_KSum32 = by256 ? new int[f32.length / 32] : new int[0];
        this.q8_0Wide = by32 ? new short[f32.length] : new short[0];
        this.q8_KWide = by256 ? new short[f32.length] : new short[0];
    }

    /** A single-token activation holding a copy of {@code x}, prepared for nothing yet. */
    public static Activations of(float[] x) {
        Activations a = new Activations(1, x.length);
        System.arraycopy(x, 0, a.f32, 0, x.length);
        return a;
    }

    public int dim() {
        return dim;
    }

    public int maxTokens() {
        return maxTokens;
    }

    /** Tokens currently held (at most {@link #maxTokens()}). */
    public int tokens() {
        return tokens;
    }

    /** Sets how many tokens are held and forgets derived forms. */
    public void setTokens(int tokens) {
        if (tokens < 1 || tokens > maxTokens) {
            throw new IllegalArgumentException("tokens must be 1.." + maxTokens + ": " + tokens);
        }
        this.tokens = tokens;
        invalidate();
    }

    /** The float values, token-major: token t starts at {@code t * dim()}. Writable. */
    public float[] f32() {
        return f32;
    }

    /** Forget the derived int8 forms after {@link #f32()} changed. */
    public void invalidate() {
        Arrays.fill(ready, false);
        Arrays.fill(columnsReady, false);
        pairsReady = 0;
    }

    /** Makes sure the form {@code type} reflects the current floats. */
    public void prepare(ActivationType type) {
        prepare(type, null);
    }

    /**
     * As {@link #prepare(ActivationType)}, a prompt's tokens spread over {@code pool}'s workers
     * (null: the calling thread): quantizing them one after another was a tenth of Qwen3-0.6B's
     * prompt time, spent while the other workers waited.
     */
    public void prepare(ActivationType type, WorkerPool pool) {
        if (ready[type.ordinal()]) {
            return;
        }
        switch (type) {
            case F32 -> { }
            case Q8_0 -> requireMultiple(32);
            case Q8_K -> requireMultiple(256);
        }
        if (type != ActivationType.F32) {
            spread(pool, tokens, (t0, t1) -> quantize(type, t0, t1));
        }
        ready[type.ordinal()] = true;
    }

    /** body over [0, n), on the pool's workers when n is a prompt's worth, else on this thread. */
    private static void spread(WorkerPool pool, int n, WorkerPool.RangeTask body) {
        if (pool == null || n < SPREAD_MIN) {
            body.run(0, n);
        } else {
            pool.parallelFor(n, 1, body);
        }
    }

    /** Items (tokens, groups of four) from which {@link #spread} hands work to the pool. */
    private static final int SPREAD_MIN = 8;

    /** The int8 form {@code type} of tokens [t0, t1), with its scales and sums. */
    private void quantize(ActivationType type, int t0, int t1) {
        switch (type) {
            case F32 -> { }
            case Q8_0 -> {
                for (int t = t0; t < t1; t++) {
                    ActivationQuantizer.q8_0(f32, t * dim, dim, q8_0, q8_0Scale, q8_0Sum);
                }
                widen(q8_0, q8_0Wide, t0 * dim, t1 * dim);
            }
            case Q8_K -> {
                for (int t = t0; t < t1; t++) {
                    ActivationQuantizer.q8_K(f32, t * dim, dim, q8_K, q8_KScale, q8_KSum16);
                }
                widen(q8_K, q8_KWide, t0 * dim, t1 * dim);
                for (int g = t0 * dim / 32; g < t1 * dim / 32; g++) {
                    q8_KSum32[g] = q8_KSum16[2 * g] + q8_KSum16[2 * g + 1];
                }
            }
        }
    }

    /**
     * The tokens of form {@code type} as floats, column by column in blocks of tokens: value k of
     * token t at {@link FloatDot#columnStart} + k * {@link FloatDot#columnStride}, for the token
     * count rounded up to whole vectors ({@link FloatDot#paddedTokens}; the padding is zero).
     * These feed the multi-token float kernels ({@link FloatDot}); built on first use.
     */
    public float[] columns(ActivationType type) {
        return columns(type, null);
    }

    /** As {@link #columns(ActivationType)}, the columns spread over {@code pool}'s workers (null: this thread). */
    public float[] columns(ActivationType type, WorkerPool pool) {
        if (type != ActivationType.F32 && !ready[type.ordinal()]) {
            throw new IllegalStateException(type + " activations are not prepared");
        }
        int i = type.ordinal();
        if (columnsReady[i]) {
            return columns[i];
        }
        int tp = FloatDot.paddedTokens(tokens);
        if (columns[i].length < tp * dim) {
            columns[i] = new float[FloatDot.paddedTokens(maxTokens) * dim];
        }
        float[] out = columns[i];
        // in pieces of 32 columns (one Q8_0 block, an eighth of a Q8_K one)
        int pieces = (dim + 31) / 32;
        spread(pool, pieces, (p0, p1) -> transpose(type, out, tp, 32 * p0, Math.min(dim, 32 * p1)));
        columnsReady[i] = true;
        return out;
    }

    private void transpose(ActivationType type, float[] out, int tp, int k0, int k1) {
        for (int t = 0; t < tp; t++) {
            int o = FloatDot.columnStart(t, dim, tp);
            int stride = FloatDot.columnStride(t, tp);
            if (t >= tokens) {
                for (int k = k0; k < k1; k++) {
                    out[o + k * stride] = 0f;
                }
                continue;
            }
            int src = t * dim;
            switch (type) {
                case F32 -> {
                    for (int k = k0; k < k1; k++) {
                        out[o + k * stride] = f32[src + k];
                    }
                }
                case Q8_0 -> {
                    for (int k = k0; k < k1; k++) {
                        out[o + k * stride] = q8_0[src + k] * q8_0Scale[(src + k) >> 5];
                    }
                }
                case Q8_K -> {
                    for (int k = k0; k < k1; k++) {
                        out[o + k * stride] = q8_K[src + k] * q8_KScale[(src + k) >> 8];
                    }
                }
            }
        }
    }

    private static void widen(byte[] q, short[] wide, int from, int to) {
        for (int i = from; i < to; i++) {
            wide[i] = q[i];
        }
    }

    /**
     * The even/odd order of {@link #q8_KPairs}: per 256 values, sub-block j's 16 even values
     * E(j) and 16 odd values O(j). With one chunk per vector: E(0), O(0), E(1), O(1), ...; with
     * two, the sub-blocks pair as (j, j + stride) for the j with (j / stride) even, and pair p
     * (in order of j) fills shorts 64p .. 64p + 63 with E(j), E(j + stride), O(j), O(j + stride).
     */
    static void pairEvenOdd(short[] q, short[] out, int n, int stride, int chunks) {
        for (int sb = 0; sb < n; sb += 256) {
            int p = 0;
            for (int j = 0; j < 8; j++) {
                if (chunks == 2 && (j / stride) % 2 != 0) {
                    continue;
                }
                for (int m = 0; m < chunks; m++) {
                    int src = sb + 32 * (j + m * stride);
                    int dst = sb + 32 * chunks * p + 16 * m;
                    for (int i = 0; i < 16; i++) {
                        out[dst + i] = q[src + 2 * i];
                        out[dst + 16 * chunks + i] = q[src + 2 * i + 1];
                    }
                }
                p++;
            }
        }
    }

    /** Whether {@code type} has been prepared since the last change. */
    public boolean isPrepared(ActivationType type) {
        return type == ActivationType.F32 || ready[type.ordinal()];
    }

    private void requireMultiple(int block) {
        if (dim % block != 0) {
            throw new IllegalStateException("activation length " + dim + " is not a multiple of " + block);
        }
    }

    public byte[] q8_0() {
        return q8_0;
    }

    /** {@link #q8_0()} widened to int16 (same values, same layout). */
    public short[] q8_0Wide() {
        return q8_0Wide;
    }

    public float[] q8_0Scale() {
        return q8_0Scale;
    }

    public int[] q8_0Sum() {
        return q8_0Sum;
    }

    public byte[] q8_K() {
        return q8_K;
    }

    /** {@link #q8_K()} widened to int16 (same values, same layout). */
    public short[] q8_KWide() {
        return q8_KWide;
    }

    /**
     * The int16 Q8_K values ({@link #q8_KWide()}) with each group of 32 split into its even- and
     * odd-indexed halves, in the order the even/odd kernels read them (see {@link #pairEvenOdd}).
     * A kernel that loads 32 weight bytes as 16 shorts has value 2i in the low byte and value 2i+1
     * in the high byte of lane i: it masks both out with whole-vector shifts and ands (no widening
     * or shuffles) and multiplies them with the even and odd halves. At 512 bits a vector holds two
     * such chunks, whose sub-blocks are {@code stride} apart (1: Q6_K, 2: Q4_K and Q5_K, 4: Q3_K);
     * at 256 bits every stride gives the same array.
     */
    public short[] q8_KPairs(int stride) {
        int i = Integer.numberOfTrailingZeros(stride);
        if ((pairsReady >> i & 1) == 0) {
            buildPairs(i);
        }
        return q8_KPairs[KQuants.KW == 1 ? 0 : i];
    }

    /** Builds the stride-(1 << i) form once, whichever kernel thread asks first. */
    private synchronized void buildPairs(int i) {
        if ((pairsReady >> i & 1) != 0) {
            return;
        }
        if (!ready[ActivationType.Q8_K.ordinal()]) {
            throw new IllegalStateException("Q8_K activations are not prepared");
        }
        int slot = KQuants.KW == 1 ? 0 : i;
        int n = tokens * dim;
        if (q8_KPairs[slot].length < n) {
            q8_KPairs[slot] = new short[n];
        }
        pairEvenOdd(q8_KWide, q8_KPairs[slot], n, 1 << i, KQuants.KW);
        pairsReady |= KQuants.KW == 1 ? 7 : 1 << i;
    }

    public float[] q8_KScale() {
        return q8_KScale;
    }

    public int[] q8_KSum16() {
        return q8_KSum16;
    }

    /** Sum of each group of 32 int8 values of the Q8_K form ({@code q8_KSum32[t*dim/32 + g]}). */
    public int[] q8_KSum32() {
        return q8_KSum32;
    }
}
