package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * Attention of one query token (every head) against a key/value cache stored position-major with
 * the KV heads of a position side by side, split over positions rather than heads (as in
 * flash-decoding): each work unit takes a range of positions, converts them block by block for all
 * KV heads at once, and keeps a running softmax (max, sum of exponentials, weighted sum of values)
 * per query head; the units' partial results are merged at the end.
 *
 * <p>Why: with one unit per KV head, a model with 2 KV heads had work for only 2 threads, and each
 * unit converted its keys and values one 128-value row at a time, where the converting loop's
 * start-up cost was most of the work; the scores and value sums went through a call per query head
 * and position (1.5B at depth 2048 spent as long in attention as in its weights). A block of
 * positions of all heads is one contiguous range of the cache: one long conversion loop, then the
 * scores of every query head against it.
 */
public final class DecodeAttention {
    /** Positions converted at a time: a block of keys and of values of all KV heads stays in L2. */
    static final int BLOCK = 32;
    /** Position ranges per thread: enough for claimed chunks to even out threads that lose their core. */
    private static final int UNITS_PER_THREAD = 4;
    private static final int L = F32.length();
    // the selections of scores' lane sums: lane i of lo/hi takes lane index[i] of (v1, v2) (>= L: v2)
    private static final FloatVector HALF_LO = indices(i -> i < L / 2 ? i : L + i - L / 2);
    private static final FloatVector HALF_HI = indices(i -> i < L / 2 ? i + L / 2 : L + i);
    private static final FloatVector QUARTER_LO = indices(i -> quarter(i, 0));
    private static final FloatVector QUARTER_HI = indices(i -> quarter(i, 1));
    private static final VectorShuffle<Float> FOLD2 = VectorShuffle.fromOp(F32, i -> i ^ 2);
    private static final VectorShuffle<Float> FOLD1 = VectorShuffle.fromOp(F32, i -> i ^ 1);
    private static final VectorMask<Float> QUARTER_STARTS = VectorMask.fromLong(F32, L == 4 ? 0xF : L == 8 ? 0x55 : 0x1111);
    private static final VectorMask<Float> FIRST4 = VectorMask.fromLong(F32, 0xF);

    private final int heads;
    private final int kvHeads;
    private final int group;
    private final int headDim;
    private final int valueDim;
    private final int maxUnits;
    // per worker
    private final float[][] keyBlock;
    private final float[][] valueBlock;
    private final float[][] weights;
    // per unit: the running max and sum of each head, and its weighted sum of values
    private final float[] unitMax;
    private final float[] unitSum;
    private final float[] unitOut;

    public DecodeAttention(int heads, int kvHeads, int headDim, int valueDim, int threads) {
        if (heads % kvHeads != 0) {
            throw new IllegalArgumentException("query heads " + heads + " not a multiple of KV heads " + kvHeads);
        }
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.group = heads / kvHeads;
        this.headDim = headDim;
        this.valueDim = valueDim;
        this.maxUnits = threads * UNITS_PER_THREAD;
        this.keyBlock = new float[threads][BLOCK * kvHeads * headDim];
        this.valueBlock = new float[threads][BLOCK * kvHeads * valueDim];
        this.weights = new float[threads][heads * BLOCK + L];
        this.unitMax = new float[maxUnits * heads];
        this.unitSum = new float[maxUnits * heads];
        this.unitOut = new float[maxUnits * heads * valueDim];
    }

    /**
     * out[outOffset + h * valueDim ..] = softmax(scale * q_h . keys[0..n)) values[0..n) for every query
     * head h, the heads sharing a KV head in consecutive groups; q_h at {@code q[qOffset + h * headDim]}.
     * Position p of KV head k is at byte {@code (p * kvHeads + k) * rowBytes} of its segment.
     */
    public void run(float[] q, int qOffset, QuantFormat keyFormat, MemorySegment keys, QuantFormat valueFormat,
            MemorySegment values, int n, float scale, float[] out, int outOffset, WorkerPool pool) {
        if (n < 1) {
            throw new IllegalArgumentException("no positions to attend to");
        }
        long keyRow = keyFormat.rowBytes(headDim) * kvHeads;
        long valueRow = valueFormat.rowBytes(valueDim) * kvHeads;
        int blocks = (n + BLOCK - 1) / BLOCK;
        int blocksPerUnit = (blocks + maxUnits - 1) / maxUnits;
        int units = (blocks + blocksPerUnit - 1) / blocksPerUnit;
        pool.parallelFor(units, 1, (worker, start, end) -> {
            for (int u = start; u < end; u++) {
                int p0 = u * blocksPerUnit * BLOCK;
                int p1 = Math.min(n, p0 + blocksPerUnit * BLOCK);
                unit(worker, u, q, qOffset, keyFormat, keys, keyRow, valueFormat, values, valueRow, p0, p1, scale);
            }
        });
        merge(units, out, outOffset);
    }

    /** The running softmax of every head over positions [p0, p1), left in unit u's slots. */
    private void unit(int worker, int u, float[] q, int qOffset, QuantFormat kf, MemorySegment keys, long keyRow,
            QuantFormat vf, MemorySegment values, long valueRow, int p0, int p1, float scale) {
        float[] kb = keyBlock[worker];
        float[] vb = valueBlock[worker];
        float[] w = weights[worker];
        int hd = headDim;
        int vd = valueDim;
        int m0 = u * heads;
        int o0 = u * heads * vd;
        Arrays.fill(unitMax, m0, m0 + heads, Float.NEGATIVE_INFINITY);
        Arrays.fill(unitSum, m0, m0 + heads, 0f);
        Arrays.fill(unitOut, o0, o0 + heads * vd, 0f);
        for (int b0 = p0; b0 < p1; b0 += BLOCK) {
            int m = Math.min(BLOCK, p1 - b0);
            kf.dequantize(keys, b0 * keyRow, kb, 0, m * kvHeads * hd);
            for (int h = 0; h < heads; ) {
                // two heads of a group at a time: each key vector loaded serves both
                int n = (h + 1) % group != 0 ? 2 : 1;
                scores(q, qOffset + h * hd, n, kb, h / group * hd, kvHeads * hd, m, hd, scale, w, h * BLOCK);
                h += n;
            }
            for (int h = 0; h < heads; h++) {
                int wo = h * BLOCK;
                // the running softmax: rescale what came before when the max grows
                float blockMax = max(w, wo, m);
                float runMax = unitMax[m0 + h];
                float newMax = Math.max(runMax, blockMax);
                if (newMax > runMax && runMax != Float.NEGATIVE_INFINITY) {
                    float c = (float) Math.exp(runMax - newMax);
                    unitSum[m0 + h] *= c;
                    Ops.scale(unitOut, o0 + h * vd, vd, c);
                }
                unitMax[m0 + h] = newMax;
                unitSum[m0 + h] += expInPlace(w, wo, m, newMax);
            }
            vf.dequantize(values, b0 * valueRow, vb, 0, m * kvHeads * vd);
            for (int h = 0; h < heads; ) {
                int xo = (h / group) * vd;
                if ((h + 1) % group != 0 && vd % (4 * L) == 0) {
                    weightedSum2(unitOut, o0 + h * vd, w, h * BLOCK, vb, xo, kvHeads * vd, m, vd);
                    h += 2;
                } else {
                    weightedSum(unitOut, o0 + h * vd, w, h * BLOCK, vb, xo, kvHeads * vd, m, vd);
                    h++;
                }
            }
        }
    }

    /** Merges the units' partial softmaxes: out_h = sum_u e^(m_u - M) o_u / sum_u e^(m_u - M) l_u. */
    private void merge(int units, float[] out, int outOffset) {
        int vd = valueDim;
        for (int h = 0; h < heads; h++) {
            float max = Float.NEGATIVE_INFINITY;
            for (int u = 0; u < units; u++) {
                max = Math.max(max, unitMax[u * heads + h]);
            }
            float sum = 0;
            int o = outOffset + h * vd;
            Arrays.fill(out, o, o + vd, 0f);
            for (int u = 0; u < units; u++) {
                float c = (float) Math.exp(unitMax[u * heads + h] - max);
                sum += c * unitSum[u * heads + h];
                Ops.axpy(out, o, c, unitOut, (u * heads + h) * vd, vd);
            }
            Ops.scale(out, o, vd, 1 / sum);
        }
    }

    private static float max(float[] x, int o, int n) {
        FloatVector mv = FloatVector.broadcast(F32, Float.NEGATIVE_INFINITY);
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            mv = mv.max(FloatVector.fromArray(F32, x, o + i));
        }
        float max = mv.reduceLanes(VectorOperators.MAX);
        for (; i < n; i++) {
            max = Math.max(max, x[o + i]);
        }
        return max;
    }

    /** x[o..o+n) = e^(x - max); returns their sum. */
    private static float expInPlace(float[] x, int o, int n, float max) {
        FloatVector sum = FloatVector.zero(F32);
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector e = FloatLanes.exp(FloatVector.fromArray(F32, x, o + i).sub(max));
            e.intoArray(x, o + i);
            sum = sum.add(e);
        }
        float s = sum.reduceLanes(VectorOperators.ADD);
        for (; i < n; i++) {
            x[o + i] = (float) Math.exp(x[o + i] - max);
            s += x[o + i];
        }
        return s;
    }

    private static FloatVector indices(java.util.function.IntUnaryOperator index) {
        float[] v = new float[L];
        for (int i = 0; i < L; i++) {
            v[i] = index.applyAsInt(i);
        }
        return FloatVector.fromArray(F32, v, 0);
    }

    /**
     * Lane i of the quarters step: segment i / (L/4) alternates between the first (even segments)
     * and second vector, taking piece {@code piece} of that vector's half i / (L/2).
     */
    private static int quarter(int i, int piece) {
        int q = L / 4;
        int segment = i / q;
        int lane = segment / 2 * (L / 2) + piece * q + i % q;
        return segment % 2 == 0 ? lane : L + lane;
    }

    /**
     * w[wo + j] = scale * q[qo..qo+len) . k[ko + j * stride ..] for j < m, and when {@code heads} is 2
     * the same for the next query head (q[qo + len ..], w[wo + BLOCK ..]): four keys per pass, so
     * each loaded key vector serves both heads and each query vector four products, with eight (or
     * four) independent sums hiding the FMA latency.
     */
    private static void scores(float[] q, int qo, int heads, float[] k, int ko, int stride, int m, int len, float scale,
            float[] w, int wo) {
        int j = 0;
        int qo2 = heads == 2 ? qo + len : qo;
        for (; len % L == 0 && j + 4 <= m; j += 4) {
            int k0 = ko + j * stride;
            FloatVector a0 = FloatVector.zero(F32);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            FloatVector b0 = a0;
            FloatVector b1 = a0;
            FloatVector b2 = a0;
            FloatVector b3 = a0;
            for (int i = 0; i < len; i += L) {
                FloatVector qa = FloatVector.fromArray(F32, q, qo + i);
                FloatVector qb = FloatVector.fromArray(F32, q, qo2 + i);
                FloatVector k0v = FloatVector.fromArray(F32, k, k0 + i);
                FloatVector k1v = FloatVector.fromArray(F32, k, k0 + stride + i);
                FloatVector k2v = FloatVector.fromArray(F32, k, k0 + 2 * stride + i);
                FloatVector k3v = FloatVector.fromArray(F32, k, k0 + 3 * stride + i);
                a0 = k0v.fma(qa, a0);
                a1 = k1v.fma(qa, a1);
                a2 = k2v.fma(qa, a2);
                a3 = k3v.fma(qa, a3);
                b0 = k0v.fma(qb, b0);
                b1 = k1v.fma(qb, b1);
                b2 = k2v.fma(qb, b2);
                b3 = k3v.fma(qb, b3);
            }
            // the four lane sums in lanes i * L / 4: halves of (a0, a2) and (a1, a3) side by side, then
            // quarters of those, then in-place folds within each quarter; written out for each head
            // (a helper taking the vectors stayed a call in the compiled scores, its arguments boxed)
            FloatVector x = HALF_LO.selectFrom(a0, a2).add(HALF_HI.selectFrom(a0, a2));
            FloatVector y = HALF_LO.selectFrom(a1, a3).add(HALF_HI.selectFrom(a1, a3));
            FloatVector sums = QUARTER_LO.selectFrom(x, y).add(QUARTER_HI.selectFrom(x, y));
            if (L >= 16) {
                sums = sums.add(sums.rearrange(FOLD2));
            }
            if (L >= 8) {
                sums = sums.add(sums.rearrange(FOLD1));
            }
            sums.mul(scale).compress(QUARTER_STARTS).intoArray(w, wo + j, FIRST4);
            if (heads == 2) {
                x = HALF_LO.selectFrom(b0, b2).add(HALF_HI.selectFrom(b0, b2));
                y = HALF_LO.selectFrom(b1, b3).add(HALF_HI.selectFrom(b1, b3));
                sums = QUARTER_LO.selectFrom(x, y).add(QUARTER_HI.selectFrom(x, y));
                if (L >= 16) {
                    sums = sums.add(sums.rearrange(FOLD2));
                }
                if (L >= 8) {
                    sums = sums.add(sums.rearrange(FOLD1));
                }
                sums.mul(scale).compress(QUARTER_STARTS).intoArray(w, wo + BLOCK + j, FIRST4);
            }
        }
        for (; j < m; j++) {
            w[wo + j] = Ops.dot(q, qo, k, ko + j * stride, len) * scale;
            if (heads == 2) {
                w[wo + BLOCK + j] = Ops.dot(q, qo2, k, ko + j * stride, len) * scale;
            }
        }
    }

    /**
     * The weighted sums of two query heads that share their values: y[yo..] with weights a[ao..] and
     * y[yo + len..] with a[ao + BLOCK..], over rows x_j = x[xo + j * stride ..] for j < m. Four vectors
     * of each head's sums stay in registers over all the rows (eight independent FMA chains), and
     * each loaded value serves both heads. len must be a multiple of 4 * L.
     */
    private static void weightedSum2(float[] y, int yo, float[] a, int ao, float[] x, int xo, int stride, int m, int len) {
        int zo = yo + len;
        int bo = ao + BLOCK;
        for (int i = 0; i < len; i += 4 * L) {
            FloatVector p0 = FloatVector.fromArray(F32, y, yo + i);
            FloatVector p1 = FloatVector.fromArray(F32, y, yo + i + L);
            FloatVector p2 = FloatVector.fromArray(F32, y, yo + i + 2 * L);
            FloatVector p3 = FloatVector.fromArray(F32, y, yo + i + 3 * L);
            FloatVector q0 = FloatVector.fromArray(F32, y, zo + i);
            FloatVector q1 = FloatVector.fromArray(F32, y, zo + i + L);
            FloatVector q2 = FloatVector.fromArray(F32, y, zo + i + 2 * L);
            FloatVector q3 = FloatVector.fromArray(F32, y, zo + i + 3 * L);
            for (int j = 0, r = xo + i; j < m; j++, r += stride) {
                FloatVector wa = FloatVector.broadcast(F32, a[ao + j]);
                FloatVector wb = FloatVector.broadcast(F32, a[bo + j]);
                FloatVector v0 = FloatVector.fromArray(F32, x, r);
                FloatVector v1 = FloatVector.fromArray(F32, x, r + L);
                FloatVector v2 = FloatVector.fromArray(F32, x, r + 2 * L);
                FloatVector v3 = FloatVector.fromArray(F32, x, r + 3 * L);
                p0 = v0.fma(wa, p0);
                p1 = v1.fma(wa, p1);
                p2 = v2.fma(wa, p2);
                p3 = v3.fma(wa, p3);
                q0 = v0.fma(wb, q0);
                q1 = v1.fma(wb, q1);
                q2 = v2.fma(wb, q2);
                q3 = v3.fma(wb, q3);
            }
            p0.intoArray(y, yo + i);
            p1.intoArray(y, yo + i + L);
            p2.intoArray(y, yo + i + 2 * L);
            p3.intoArray(y, yo + i + 3 * L);
            q0.intoArray(y, zo + i);
            q1.intoArray(y, zo + i + L);
            q2.intoArray(y, zo + i + 2 * L);
            q3.intoArray(y, zo + i + 3 * L);
        }
    }

    /**
     * y[yo..yo+len) += sum over j < m of a[ao + j] * x[xo + j * stride ..]: four positions per pass,
     * so y is loaded and stored once per four rows instead of once per row.
     */
    private static void weightedSum(float[] y, int yo, float[] a, int ao, float[] x, int xo, int stride, int m, int len) {
        int j = 0;
        for (; len % L == 0 && j + 4 <= m; j += 4) {
            FloatVector a0 = FloatVector.broadcast(F32, a[ao + j]);
            FloatVector a1 = FloatVector.broadcast(F32, a[ao + j + 1]);
            FloatVector a2 = FloatVector.broadcast(F32, a[ao + j + 2]);
            FloatVector a3 = FloatVector.broadcast(F32, a[ao + j + 3]);
            int x0 = xo + j * stride;
            for (int i = 0; i < len; i += L) {
                FloatVector acc = FloatVector.fromArray(F32, y, yo + i);
                acc = FloatVector.fromArray(F32, x, x0 + i).fma(a0, acc);
                acc = FloatVector.fromArray(F32, x, x0 + stride + i).fma(a1, acc);
                acc = FloatVector.fromArray(F32, x, x0 + 2 * stride + i).fma(a2, acc);
                acc = FloatVector.fromArray(F32, x, x0 + 3 * stride + i).fma(a3, acc);
                acc.intoArray(y, yo + i);
            }
        }
        for (; j < m; j++) {
            Ops.axpy(y, yo, a[ao + j], x, xo + j * stride, len);
        }
    }
}
