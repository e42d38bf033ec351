package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * The multi-token dot products of the quantized types (prompt processing): a weight row is
 * dequantized once into a float scratch row, then multiplied with four tokens at a time of the
 * dequantized int8 activations ({@link Activations#q8_KFloat()})
 * by float FMAs: each weight vector is loaded once for four tokens, and the FMA units do in one
 * instruction what the int16 path needs a multiply, an add and its share of the pair sums and
 * scale products for. {@link MatOps} dequantizes a tile of rows once and runs every group of four
 * tokens over it; {@link QuantFormat#dotTokens} of the K-quants decodes its one row per call.
 *
 * <p>Same values, same sums as the int8 kernels, in float: every weight is one rounding of its
 * exact dequantized value (d*sc*q is exact; the min term is subtracted in one FMA), every activation
 * one rounding of q*scale, and sums are taken in three levels (4 to 8 products per lane per 32
 * values, 8 such per 256, then the 256-value blocks) so that no value passes through more than
 * about 16 + n/256 roundings: within the bounds the int8 kernels' tests allow.
 */
final class FloatDot {
    private FloatDot() {}

    private static final int L = F32.length();
    private static final int GROUP = 32;
    private static final int BLOCK = 256;

    private static final ThreadLocal<float[][]> ROW = ThreadLocal.withInitial(() -> new float[][] {new float[0]});

    /** This thread's scratch row of at least {@code n} floats. */
    static float[] row(int n) {
        float[][] r = ROW.get();
        if (r[0].length < n) {
            r[0] = new float[n];
        }
        return r[0];
    }

    /**
     * Dequantizes the row at {@code rowOffset} with {@code f} and writes its dot product with tokens
     * {@code token0 .. token0 + tokens - 1} of the float activations {@code act} ({@code n} values
     * per token) to {@code out[outOffset + t * outStride]}.
     */
    static void dotTokens(QuantFormat f, MemorySegment w, long rowOffset, int n, float[] act, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        float[] wf = row(n);
        f.dequantize(w, rowOffset, wf, 0, n);
        dotTokens(wf, 0, n, act, token0, tokens, out, outOffset, outStride);
    }

    /** out[outOffset + t * outStride] = w[wo..wo+n) . act[(token0 + t) * n ..) for t < tokens. */
    static void dotTokens(float[] w, int wo, int n, float[] act, int token0, int tokens, float[] out, int outOffset,
            int outStride) {
        if (n % GROUP != 0) {
            throw new IllegalArgumentException("row length must be a multiple of 32: " + n);
        }
        int t = 0;
        for (; t < tokens; t += 4) {
            int valid = Math.min(4, tokens - t);
            int a0 = (token0 + t) * n;
            // missing tokens repeat the last one; their sums are not stored
            int a1 = (token0 + t + Math.min(1, valid - 1)) * n;
            int a2 = (token0 + t + Math.min(2, valid - 1)) * n;
            int a3 = (token0 + t + Math.min(3, valid - 1)) * n;
            dot4(w, wo, n, act, a0, a1, a2, a3, out, outOffset + t * outStride, outStride, valid);
        }
    }

    private static void dot4(float[] w, int wo, int n, float[] a, int a0, int a1, int a2, int a3, float[] out, int o,
            int stride, int valid) {
        FloatVector r0 = FloatVector.zero(F32);
        FloatVector r1 = r0;
        FloatVector r2 = r0;
        FloatVector r3 = r0;
        int full = n / BLOCK * BLOCK;
        // loops with constant trip counts (C2 unrolls the inner one and hoists the range checks)
        for (int b = 0; b < full; b += BLOCK) {
            FloatVector k0 = FloatVector.zero(F32);
            FloatVector k1 = k0;
            FloatVector k2 = k0;
            FloatVector k3 = k0;
            for (int j = 0; j < BLOCK; j += GROUP) {
                int g = b + j;
                // two chains per token (even and odd vectors of the group): FMA latency, not
                // throughput, bounds a single chain
                FloatVector s0 = FloatVector.zero(F32);
                FloatVector s1 = s0;
                FloatVector s2 = s0;
                FloatVector s3 = s0;
                FloatVector t0 = s0;
                FloatVector t1 = s0;
                FloatVector t2 = s0;
                FloatVector t3 = s0;
                for (int k = 0; k < GROUP; k += 2 * L) {
                    FloatVector wv = FloatVector.fromArray(F32, w, wo + g + k);
                    FloatVector wu = FloatVector.fromArray(F32, w, wo + g + k + L);
                    s0 = wv.fma(FloatVector.fromArray(F32, a, a0 + g + k), s0);
                    s1 = wv.fma(FloatVector.fromArray(F32, a, a1 + g + k), s1);
                    s2 = wv.fma(FloatVector.fromArray(F32, a, a2 + g + k), s2);
                    s3 = wv.fma(FloatVector.fromArray(F32, a, a3 + g + k), s3);
                    t0 = wu.fma(FloatVector.fromArray(F32, a, a0 + g + k + L), t0);
                    t1 = wu.fma(FloatVector.fromArray(F32, a, a1 + g + k + L), t1);
                    t2 = wu.fma(FloatVector.fromArray(F32, a, a2 + g + k + L), t2);
                    t3 = wu.fma(FloatVector.fromArray(F32, a, a3 + g + k + L), t3);
                }
                k0 = k0.add(s0.add(t0));
                k1 = k1.add(s1.add(t1));
                k2 = k2.add(s2.add(t2));
                k3 = k3.add(s3.add(t3));
            }
            r0 = r0.add(k0);
            r1 = r1.add(k1);
            r2 = r2.add(k2);
            r3 = r3.add(k3);
        }
        // a last partial block (rows of 32-value blocks)
        for (int g = full; g < n; g += GROUP) {
            FloatVector s0 = FloatVector.zero(F32);
            FloatVector s1 = s0;
            FloatVector s2 = s0;
            FloatVector s3 = s0;
            for (int k = 0; k < GROUP; k += L) {
                FloatVector wv = FloatVector.fromArray(F32, w, wo + g + k);
                s0 = wv.fma(FloatVector.fromArray(F32, a, a0 + g + k), s0);
                s1 = wv.fma(FloatVector.fromArray(F32, a, a1 + g + k), s1);
                s2 = wv.fma(FloatVector.fromArray(F32, a, a2 + g + k), s2);
                s3 = wv.fma(FloatVector.fromArray(F32, a, a3 + g + k), s3);
            }
            r0 = r0.add(s0);
            r1 = r1.add(s1);
            r2 = r2.add(s2);
            r3 = r3.add(s3);
        }
        out[o] = r0.reduceLanes(VectorOperators.ADD);
        if (valid > 1) {
            out[o + stride] = r1.reduceLanes(VectorOperators.ADD);
        }
        if (valid > 2) {
            out[o + 2 * stride] = r2.reduceLanes(VectorOperators.ADD);
        }
        if (valid > 3) {
            out[o + 3 * stride] = r3.reduceLanes(VectorOperators.ADD);
        }
    }

    /** Rows of a packed panel: two vectors, so each broadcast activation feeds two FMAs. */
    static final int PANEL_ROWS = 2 * L;
    /** Columns packed at a time: a panel chunk of about 32 KiB that stays in L1/L2 while every token passes over it. */
    static final int PANEL_DEPTH = BLOCK * Math.max(1, 32 / PANEL_ROWS);
    /** Tokens per {@link #panelTimesTokens} step: 8 accumulators, 2 weight vectors and a broadcast fit 16 registers. */
    private static final int PANEL_TOKENS = 4;

    /**
     * Packs {@code depth} columns of {@code rows} dequantized rows (row j at {@code rowsData[j * depth]})
     * into {@code panel} column by column: {@code panel[k * PANEL_ROWS + j]}. Rows past
     * {@code rows} are zero.
     */
    static void pack(float[] rowsData, int rows, int depth, float[] panel) {
        if (rows < PANEL_ROWS) {
            java.util.Arrays.fill(rowsData, rows * depth, PANEL_ROWS * depth, 0f);
        }
        for (int k = 0, p = 0; k < depth; k++, p += PANEL_ROWS) {
            for (int j = 0, o = k; j < PANEL_ROWS; j++, o += depth) {
                panel[p + j] = rowsData[o];
            }
        }
    }

    /** The most roundings a product passes through in {@link #panelTimesTokens} for rows of {@code n} values. */
    static int panelRoundings(int n) {
        int depth = Math.min(PANEL_DEPTH, n);
        return depth + (n + depth - 1) / depth + 1;
    }

    /**
     * acc[t * PANEL_ROWS + j] += panel row j . token t's values k0 ..+depth for every token t <
     * tokens, the tokens given four by four interleaved ({@link Activations#q8_KQuads()}): a packed
     * panel chunk ({@link #pack}) times all tokens, four at a time. For each column the
     * two weight vectors are loaded once and each token's activation is broadcast once (6 loads
     * per 8 FMAs); the sums come out as vectors over rows, so no horizontal reduction is needed,
     * and the chunk stays in cache for all the tokens. Vectorizing over rows instead of columns
     * also keeps the loop small enough that C2 leaves it rolled (unrolled, its live vectors spill).
     *
     * <p>Each lane chains the {@code depth} products of a chunk from zero, then adds that sum to
     * {@code acc}: a product passes through at most {@link #panelRoundings} roundings.
     */
    static void panelTimesTokens(float[] panel, int depth, float[] quads, int n, int k0, int tokens, float[] acc) {
        for (int t0 = 0; t0 < tokens; t0 += PANEL_TOKENS) {
            int tn = Math.min(PANEL_TOKENS, tokens - t0);
            int q0 = t0 * n + PANEL_TOKENS * k0;
            FloatVector c00 = FloatVector.zero(F32);
            FloatVector c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
            for (int k = 0; k < depth; k++) {
                int p = k * PANEL_ROWS;
                int q = q0 + PANEL_TOKENS * k;
                FloatVector v0 = FloatVector.fromArray(F32, panel, p);
                FloatVector v1 = FloatVector.fromArray(F32, panel, p + L);
                FloatVector b = FloatVector.broadcast(F32, quads[q]);
                c00 = v0.fma(b, c00);
                c10 = v1.fma(b, c10);
                b = FloatVector.broadcast(F32, quads[q + 1]);
                c01 = v0.fma(b, c01);
                c11 = v1.fma(b, c11);
                b = FloatVector.broadcast(F32, quads[q + 2]);
                c02 = v0.fma(b, c02);
                c12 = v1.fma(b, c12);
                b = FloatVector.broadcast(F32, quads[q + 3]);
                c03 = v0.fma(b, c03);
                c13 = v1.fma(b, c13);
            }
            int o = t0 * PANEL_ROWS;
            c00.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
            c10.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
            if (tn > 1) {
                o += PANEL_ROWS;
                c01.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
                c11.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
            }
            if (tn > 2) {
                o += PANEL_ROWS;
                c02.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
                c12.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
            }
            if (tn > 3) {
                o += PANEL_ROWS;
                c03.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
                c13.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
            }
        }
    }
}
