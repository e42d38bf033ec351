package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import jdk.incubator.vector.FloatVector;

/**
 * The multi-token products of every weight type (prompt processing, speculative verification), in
 * float: a panel of rows is dequantized a chunk of columns at a time, and each weight is broadcast
 * against vectors of tokens ({@link #panelTimesTokens}), whose values come column by column
 * ({@link Activations#columns}). The FMA units do in one instruction what the int16 path needs a
 * multiply, an add and its share of the pair sums and scale products for, and each dequantized
 * weight serves every token. The rows are read as the dequantizer writes them: no packing.
 *
 * <p>Same values as the int8 kernels: every weight is the format's dequantized float, every
 * activation one rounding of q*scale; only the order of the sums differs ({@link #panelRoundings}).
 */
final class FloatDot {
    private FloatDot() {}

    private static final int L = F32.length();
    private static final int BLOCK = 256;

    /** Rows dequantized together: whole groups of the kernels below (3 rows, and 12 for the last tokens). */
    static final int PANEL_ROWS = 48;
    /** Columns dequantized at a time (48 KiB of rows); whole super-blocks of the K-quants. */
    static final int PANEL_DEPTH = BLOCK;
    /**
     * Columns each group of tokens passes over before the next: a group's 64 columns (16 KiB at
     * 64 tokens) and the panel's (12 KiB) stay in L1 while every row goes over them.
     */
    static final int PANEL_STEP = 64;
    /**
     * Token vectors of the main kernel's step, against 3 rows: 4 where the machine has 32 vector
     * registers (AVX-512, the only case with 512-bit vectors: 12 accumulators, 4 token vectors and
     * a broadcast), 3 where it may have 16 (AVX2: 9 accumulators, 13 registers, no spills).
     */
    static final int TOKEN_VECTORS = VectorShapes.SHAPE.vectorBitSize() == 512 ? 4 : 3;

    /** {@code tokens} rounded up to whole vectors: the token stride of the columns and of the sums. */
    static int paddedTokens(int tokens) {
        return (tokens + L - 1) / L * L;
    }

    /**
     * Where token t's values start in {@link Activations#columns} for {@code tp} padded tokens of
     * {@code n} values; they follow every {@link #columnStride} floats. Tokens go in blocks of
     * {@link #TOKEN_VECTORS} vectors, the rest in one last block, and a block's values column by
     * column (column k of the block's tokens is contiguous), so that a step of a block's columns is
     * one contiguous run of memory (a stride of whole kilobytes, as in plain columns of 256
     * tokens, put a step's columns in the same few L1 sets).
     */
    static int columnStart(int t, int n, int tp) {
        int block = TOKEN_VECTORS * L;
        int main = tp / block * block;
        return t < main ? t / block * block * n + t % block : main * n + t - main;
    }

    /** The distance between token t's consecutive values in {@link Activations#columns}. */
    static int columnStride(int t, int tp) {
        int block = TOKEN_VECTORS * L;
        int main = tp / block * block;
        return t < main ? block : tp - main;
    }

    /** The rows {@link #panelTimesTokens} reads for {@code rowCount} rows: whole groups of twelve. */
    static int rowsRead(int rowCount) {
        return Math.min(PANEL_ROWS, (rowCount + 11) / 12 * 12);
    }

    /**
     * Stores {@code count} tokens' value k ({@code values[i]} for token i) into {@code columns}
     * laid out for {@code tp} tokens of {@code n} values ({@link #columnStart}), the padding
     * tokens' value k zero: a block's tokens are contiguous there, so this is a few copies.
     */
    static void putColumn(float[] values, int count, float[] columns, int n, int tp, int k) {
        int block = TOKEN_VECTORS * L;
        int main = tp / block * block;
        for (int t = 0; t < tp; ) {
            int end = t < main ? t + block : tp;
            int stride = end - t;
            int o = t * n + k * stride;
            int m = Math.max(0, Math.min(end, count) - t);
            System.arraycopy(values, t, columns, o, m);
            if (m < stride) {
                java.util.Arrays.fill(columns, o + m, o + stride, 0f);
            }
            t = end;
        }
    }

    /** The most roundings a product passes through in {@link #panelTimesTokens} for rows of {@code n} values. */
    static int panelRoundings(int n) {
        int step = Math.min(PANEL_STEP, n);
        return step + (n + step - 1) / step + 1;
    }

    /**
     * acc[accBase + j * tp + t] += row j . token t's values k0 ..+depth, for the first
     * {@code rowCount} (at most {@link #PANEL_ROWS}) rows of {@code rows} (row j's columns at
     * {@code rows[rowBase + j * rowStride]}; the kernels go twelve rows at a time, so rows up to
     * {@link #rowsRead} are read and must exist) and the {@code tp} tokens (a
     * multiple of the vector length) of rows of {@code n} values in {@code columns}, laid out as
     * {@link Activations#columns} describes. Per
     * {@link #PANEL_STEP} columns, tokens go {@link #TOKEN_VECTORS} vectors at a time against
     * three rows (each weight broadcast once for all of them, the sums vectors over tokens, so
     * no horizontal reduction), and the vectors left over one at a time against twelve rows.
     *
     * <p>Each lane chains a step's products from zero, then adds that sum to {@code acc}: a
     * product passes through at most {@link #panelRoundings} roundings.
     */
    // (the sums' adds are written out at each use: a helper method, compiled on its own first,
    // was left out of line by C2 in the model's compilation, its vector argument boxed)
    static void panelTimesTokens(float[] rows, int rowBase, int rowStride, int rowCount, int depth, float[] columns,
            int n, int tp, int k0, float[] acc, int accBase) {
        int rowEnd = rowsRead(rowCount);
        int block = TOKEN_VECTORS * L;
        int main = tp / block * block;
        for (int from = 0; from < depth; from += PANEL_STEP) {
            int to = Math.min(depth, from + PANEL_STEP);
            for (int t = 0; t < main; t += block) {
                int x = t * n + k0 * block;
                for (int j = 0; j < rowEnd; j += 3) {
                    int r = rowBase + j * rowStride;
                    int a = accBase + j * tp + t;
                    if (TOKEN_VECTORS == 4) {
                        rows3Tokens4(rows, r, rowStride, from, to, columns, x, tp, a, acc);
                    } else {
                        rows3Tokens3(rows, r, rowStride, from, to, columns, x, tp, a, acc);
                    }
                }
            }
            int rest = tp - main;
            for (int t = main; t < tp; t += L) {
                int x = main * n + k0 * rest + (t - main);
                for (int j = 0; j < rowEnd; j += 12) {
                    rows12Tokens1(rows, rowBase + j * rowStride, rowStride, from, to, columns, x, rest, tp,
                            accBase + j * tp + t, acc);
                }
            }
        }
    }

    /** Three rows (from r0, {@code stride} apart) times four token vectors, columns [from, to) of the chunk. */
    private static void rows3Tokens4(float[] rows, int r0, int stride, int from, int to, float[] columns, int x0,
            int tp, int a, float[] acc) {
        int r1 = r0 + stride;
        int r2 = r1 + stride;
        FloatVector c00 = FloatVector.zero(F32);
        FloatVector c01 = c00, c02 = c00, c03 = c00, c10 = c00, c11 = c00, c12 = c00, c13 = c00;
        FloatVector c20 = c00, c21 = c00, c22 = c00, c23 = c00;
        for (int k = from; k < to; k++) {
            int x = x0 + k * TOKEN_VECTORS * L;
            FloatVector v0 = FloatVector.fromArray(F32, columns, x);
            FloatVector v1 = FloatVector.fromArray(F32, columns, x + L);
            FloatVector v2 = FloatVector.fromArray(F32, columns, x + 2 * L);
            FloatVector v3 = FloatVector.fromArray(F32, columns, x + 3 * L);
            FloatVector w = FloatVector.broadcast(F32, rows[r0 + k]);
            c00 = v0.fma(w, c00);
            c01 = v1.fma(w, c01);
            c02 = v2.fma(w, c02);
            c03 = v3.fma(w, c03);
            w = FloatVector.broadcast(F32, rows[r1 + k]);
            c10 = v0.fma(w, c10);
            c11 = v1.fma(w, c11);
            c12 = v2.fma(w, c12);
            c13 = v3.fma(w, c13);
            w = FloatVector.broadcast(F32, rows[r2 + k]);
            c20 = v0.fma(w, c20);
            c21 = v1.fma(w, c21);
            c22 = v2.fma(w, c22);
            c23 = v3.fma(w, c23);
        }
        c00.add(FloatVector.fromArray(F32, acc, a)).intoArray(acc, a);
        c01.add(FloatVector.fromArray(F32, acc, a + L)).intoArray(acc, a + L);
        c02.add(FloatVector.fromArray(F32, acc, a + 2 * L)).intoArray(acc, a + 2 * L);
        c03.add(FloatVector.fromArray(F32, acc, a + 3 * L)).intoArray(acc, a + 3 * L);
        a += tp;
        c10.add(FloatVector.fromArray(F32, acc, a)).intoArray(acc, a);
        c11.add(FloatVector.fromArray(F32, acc, a + L)).intoArray(acc, a + L);
        c12.add(FloatVector.fromArray(F32, acc, a + 2 * L)).intoArray(acc, a + 2 * L);
        c13.add(FloatVector.fromArray(F32, acc, a + 3 * L)).intoArray(acc, a + 3 * L);
        a += tp;
        c20.add(FloatVector.fromArray(F32, acc, a)).intoArray(acc, a);
        c21.add(FloatVector.fromArray(F32, acc, a + L)).intoArray(acc, a + L);
        c22.add(FloatVector.fromArray(F32, acc, a + 2 * L)).intoArray(acc, a + 2 * L);
        c23.add(FloatVector.fromArray(F32, acc, a + 3 * L)).intoArray(acc, a + 3 * L);
    }

    /** Three rows (from r0, {@code stride} apart) times three token vectors, columns [from, to) of the chunk. */
    private static void rows3Tokens3(float[] rows, int r0, int stride, int from, int to, float[] columns, int x0,
            int tp, int a, float[] acc) {
        int r1 = r0 + stride;
        int r2 = r1 + stride;
        FloatVector c00 = FloatVector.zero(F32);
        FloatVector c01 = c00, c02 = c00, c10 = c00, c11 = c00, c12 = c00, c20 = c00, c21 = c00, c22 = c00;
        for (int k = from; k < to; k++) {
            int x = x0 + k * TOKEN_VECTORS * L;
            FloatVector v0 = FloatVector.fromArray(F32, columns, x);
            FloatVector v1 = FloatVector.fromArray(F32, columns, x + L);
            FloatVector v2 = FloatVector.fromArray(F32, columns, x + 2 * L);
            FloatVector w = FloatVector.broadcast(F32, rows[r0 + k]);
            c00 = v0.fma(w, c00);
            c01 = v1.fma(w, c01);
            c02 = v2.fma(w, c02);
            w = FloatVector.broadcast(F32, rows[r1 + k]);
            c10 = v0.fma(w, c10);
            c11 = v1.fma(w, c11);
            c12 = v2.fma(w, c12);
            w = FloatVector.broadcast(F32, rows[r2 + k]);
            c20 = v0.fma(w, c20);
            c21 = v1.fma(w, c21);
            c22 = v2.fma(w, c22);
        }
        c00.add(FloatVector.fromArray(F32, acc, a)).intoArray(acc, a);
        c01.add(FloatVector.fromArray(F32, acc, a + L)).intoArray(acc, a + L);
        c02.add(FloatVector.fromArray(F32, acc, a + 2 * L)).intoArray(acc, a + 2 * L);
        a += tp;
        c10.add(FloatVector.fromArray(F32, acc, a)).intoArray(acc, a);
        c11.add(FloatVector.fromArray(F32, acc, a + L)).intoArray(acc, a + L);
        c12.add(FloatVector.fromArray(F32, acc, a + 2 * L)).intoArray(acc, a + 2 * L);
        a += tp;
        c20.add(FloatVector.fromArray(F32, acc, a)).intoArray(acc, a);
        c21.add(FloatVector.fromArray(F32, acc, a + L)).intoArray(acc, a + L);
        c22.add(FloatVector.fromArray(F32, acc, a + 2 * L)).intoArray(acc, a + 2 * L);
    }

    /** Twelve rows (from r, {@code stride} apart) times one token vector, columns [from, to): the tokens the blocks leave. */
    private static void rows12Tokens1(float[] rows, int r, int stride, int from, int to, float[] columns, int x0,
            int width, int tp, int a, float[] acc) {
        FloatVector c0 = FloatVector.zero(F32);
        FloatVector c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (int k = from; k < to; k++) {
            FloatVector x = FloatVector.fromArray(F32, columns, x0 + k * width);
            int o = r + k;
            c0 = x.fma(FloatVector.broadcast(F32, rows[o]), c0);
            c1 = x.fma(FloatVector.broadcast(F32, rows[o + stride]), c1);
            c2 = x.fma(FloatVector.broadcast(F32, rows[o + 2 * stride]), c2);
            c3 = x.fma(FloatVector.broadcast(F32, rows[o + 3 * stride]), c3);
            c4 = x.fma(FloatVector.broadcast(F32, rows[o + 4 * stride]), c4);
            c5 = x.fma(FloatVector.broadcast(F32, rows[o + 5 * stride]), c5);
            c6 = x.fma(FloatVector.broadcast(F32, rows[o + 6 * stride]), c6);
            c7 = x.fma(FloatVector.broadcast(F32, rows[o + 7 * stride]), c7);
            c8 = x.fma(FloatVector.broadcast(F32, rows[o + 8 * stride]), c8);
            c9 = x.fma(FloatVector.broadcast(F32, rows[o + 9 * stride]), c9);
            c10 = x.fma(FloatVector.broadcast(F32, rows[o + 10 * stride]), c10);
            c11 = x.fma(FloatVector.broadcast(F32, rows[o + 11 * stride]), c11);
        }
        c0.add(FloatVector.fromArray(F32, acc, a)).intoArray(acc, a);
        c1.add(FloatVector.fromArray(F32, acc, a + tp)).intoArray(acc, a + tp);
        c2.add(FloatVector.fromArray(F32, acc, a + 2 * tp)).intoArray(acc, a + 2 * tp);
        c3.add(FloatVector.fromArray(F32, acc, a + 3 * tp)).intoArray(acc, a + 3 * tp);
        c4.add(FloatVector.fromArray(F32, acc, a + 4 * tp)).intoArray(acc, a + 4 * tp);
        c5.add(FloatVector.fromArray(F32, acc, a + 5 * tp)).intoArray(acc, a + 5 * tp);
        c6.add(FloatVector.fromArray(F32, acc, a + 6 * tp)).intoArray(acc, a + 6 * tp);
        c7.add(FloatVector.fromArray(F32, acc, a + 7 * tp)).intoArray(acc, a + 7 * tp);
        c8.add(FloatVector.fromArray(F32, acc, a + 8 * tp)).intoArray(acc, a + 8 * tp);
        c9.add(FloatVector.fromArray(F32, acc, a + 9 * tp)).intoArray(acc, a + 9 * tp);
        c10.add(FloatVector.fromArray(F32, acc, a + 10 * tp)).intoArray(acc, a + 10 * tp);
        c11.add(FloatVector.fromArray(F32, acc, a + 11 * tp)).intoArray(acc, a + 11 * tp);
    }
}
