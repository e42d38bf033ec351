package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import jdk.incubator.vector.FloatVector;

/**
 * The multi-token products of every weight type (prompt processing, speculative verification), in
 * float: rows are dequantized a chunk at a time, packed column by column into panels of two
 * vectors of rows, and each token's values are broadcast against them ({@link #panelTimesTokens}).
 * The FMA units do in one instruction what the int16 path needs a multiply, an add and its share of
 * the pair sums and scale products for, and each dequantized weight serves every token.
 *
 * <p>Same values as the int8 kernels: every weight is the format's dequantized float, every
 * activation one rounding of q*scale ({@link Activations#quads}); only the order of the sums
 * differs ({@link #panelRoundings}).
 */
final class FloatDot {
    private FloatDot() {}

    private static final int L = F32.length();
    private static final int BLOCK = 256;

    /** Rows of a packed panel: two vectors, so each broadcast activation feeds two FMAs. */
    static final int PANEL_ROWS = 2 * L;
    /** Columns packed at a time: a panel chunk of about 32 KiB that stays in L1/L2 while every token passes over it. */
    static final int PANEL_DEPTH = BLOCK * Math.max(1, 32 / PANEL_ROWS);
    /** Tokens per {@link #panelTimesTokens} step: 8 accumulators, 2 weight vectors and a broadcast fit 16 registers. */
    private static final int PANEL_TOKENS = 4;

    /** {@code tokens} rounded up to whole groups of four: the sums {@link #panelTimesTokens} writes hold this many tokens. */
    static int paddedTokens(int tokens) {
        return (tokens + PANEL_TOKENS - 1) / PANEL_TOKENS * PANEL_TOKENS;
    }

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
     * tokens, the tokens given four by four interleaved ({@link Activations#quads}): a packed
     * panel chunk ({@link #pack}) times all tokens, four at a time. For each column the
     * two weight vectors are loaded once and each token's activation is broadcast once (6 loads
     * per 8 FMAs); the sums come out as vectors over rows, so no horizontal reduction is needed,
     * and the chunk stays in cache for all the tokens. Vectorizing over rows instead of columns
     * also keeps the loop small enough that C2 leaves it rolled (unrolled, its live vectors spill).
     *
     * <p>Each lane chains the {@code depth} products of a chunk from zero, then adds that sum to
     * {@code acc}: a product passes through at most {@link #panelRoundings} roundings. {@code acc}
     * holds {@link #paddedTokens} tokens: a short last group writes its padding too.
     */
    static void panelTimesTokens(float[] panel, int depth, float[] quads, int n, int k0, int tokens, float[] acc) {
        for (int t0 = 0; t0 < tokens; t0 += PANEL_TOKENS) {
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
            // a short last group's repeated tokens add into the padding, which is never copied out
            int o = t0 * PANEL_ROWS;
            c00.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
            c10.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
            o += PANEL_ROWS;
            c01.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
            c11.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
            o += PANEL_ROWS;
            c02.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
            c12.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
            o += PANEL_ROWS;
            c03.add(FloatVector.fromArray(F32, acc, o)).intoArray(acc, o);
            c13.add(FloatVector.fromArray(F32, acc, o + L)).intoArray(acc, o + L);
        }
    }
}
