package dev.panamax.kernels;

/**
 * Matrix-vector and matrix-matrix products of quantized weights with activations, spread over a
 * {@link WorkerPool} in contiguous row ranges (each thread streams its own part of the matrix).
 * Several matrices with the same input (q, k and v; gate and up) can go in one call: their rows
 * form one parallel loop, so the threads meet once instead of once per matrix. One token goes
 * through each format's own dot product (int8 activations for the quantized types); several go
 * through the float panels of {@link FloatDot}, whatever the weight type.
 */
public final class MatOps {
    /** Rows per partition unit: keeps each thread's range a whole number of cache-friendly rows. */
    private static final int ROW_GRAIN = 16;
    /** The same for several tokens: whole panels of the float kernel. */
    private static final int TOKENS_ROW_GRAIN = Math.max(ROW_GRAIN, FloatDot.PANEL_ROWS);
    /**
     * Tokens from which the float panels beat the formats' own multi-token dots, by activation
     * type. Measured single-threaded at 8960x1536 with the unpacked panels (GFLOP/s, panels against
     * the formats' dots): Q4_K and Q6_K 34 against 25-42 at 8 tokens, 50 against 16-41 at 12; the
     * 32-value types at 12 tokens 47-50 against 38-51 (Q4_0's dot ahead), at 16 59-66 against
     * 25-46, at 19 42-46 against 23-42.
     */
    static int panelMinTokens(ActivationType type) {
        return type == ActivationType.Q8_K ? 12 : 16;
    }

    private MatOps() {}

    private static boolean usesPanels(ActivationType type, int tokens) {
        return tokens >= panelMinTokens(type);
    }

    /**
     * Checks w against x and prepares the activation forms its products with {@code tokens} tokens
     * read: the int8 form, and the floats column by column when the panels will run (built here,
     * once, so the workers only read them).
     */
    private static void prepare(QuantMatrix w, Activations x, int tokens, WorkerPool pool) {
        check(w, x);
        ActivationType type = w.format().activationType();
        x.prepare(type, pool);
        if (usesPanels(type, tokens)) {
            x.columns(type, pool);
        }
    }

    /** out[outOffset + r] = row r . token 0 of x. */
    public static void matvec(QuantMatrix w, Activations x, float[] out, int outOffset, WorkerPool pool) {
        prepare(w, x, 1, pool);
        QuantFormat f = w.format();
        long rowBytes = w.rowBytes();
        pool.parallelFor(w.rows(), ROW_GRAIN, (start, end) -> {
            for (int r = start; r < end; r++) {
                out[outOffset + r] = f.dot(w.data(), r * rowBytes, x, 0);
            }
        });
    }

    /** out[t * w.rows() + r] = row r . token t of x, for every token x holds. */
    public static void matmul(QuantMatrix w, Activations x, float[] out, WorkerPool pool) {
        int tokens = x.tokens();
        if (tokens == 1) {
            matvec(w, x, out, 0, pool);
            return;
        }
        prepare(w, x, tokens, pool);
        pool.parallelFor(w.rows(), TOKENS_ROW_GRAIN, (start, end) -> rowsTimesTokens(w, x, out, tokens, start, end));
    }

    /**
     * For each i, outs[i][t * ws[i].rows() + r] = row r of ws[i] . token t of x: the products of
     * several matrices with one input, as one parallel loop over all their rows. Matrices of
     * different types may share a call (each activation form is prepared once).
     */
    public static void matmul(QuantMatrix[] ws, Activations x, float[][] outs, WorkerPool pool) {
        if (ws.length != outs.length) {
            throw new IllegalArgumentException(ws.length + " matrices but " + outs.length + " outputs");
        }
        int total = 0;
        int tokens = x.tokens();
        for (QuantMatrix w : ws) {
            prepare(w, x, tokens, pool);
            total += w.rows();
        }
        pool.parallelFor(total, tokens == 1 ? ROW_GRAIN : TOKENS_ROW_GRAIN, (start, end) -> {
            int base = 0;
            for (int i = 0; i < ws.length && base < end; i++) {
                QuantMatrix w = ws[i];
                int s = Math.max(start, base) - base;
                int e = Math.min(end, base + w.rows()) - base;
                if (s < e) {
                    if (tokens == 1) {
                        QuantFormat f = w.format();
                        long rowBytes = w.rowBytes();
                        float[] out = outs[i];
                        for (int r = s; r < e; r++) {
                            out[r] = f.dot(w.data(), r * rowBytes, x, 0);
                        }
                    } else {
                        rowsTimesTokens(w, x, outs[i], tokens, s, e);
                    }
                }
                base += w.rows();
            }
        });
    }

    /**
     * Rows [start, end) of w times every token: a few tokens go through the format's own dot
     * product row by row (each row is read from memory once and stays in L1 for the tokens),
     * more through the float panels, whose dequantizing pays off only over many tokens.
     */
    private static void rowsTimesTokens(QuantMatrix w, Activations x, float[] out, int tokens, int start, int end) {
        ActivationType type = w.format().activationType();
        if (usesPanels(type, tokens)) {
            panelsTimesTokens(w, x.columns(type), out, tokens, start, end);
            return;
        }
        QuantFormat f = w.format();
        long rowBytes = w.rowBytes();
        int rows = w.rows();
        for (int r = start; r < end; r++) {
            f.dotTokens(w.data(), r * rowBytes, x, 0, tokens, out, r, rows);
        }
    }

    /**
     * Rows [start, end) of w times every token in float ({@link FloatDot}): the rows go in panels
     * of {@link FloatDot#PANEL_ROWS}; each panel is dequantized a chunk of
     * {@link FloatDot#PANEL_DEPTH} columns at a time, and every token passes over the chunk while
     * it is in cache. Sums collect per panel in a small row-major buffer and are copied out once.
     */
    private static void panelsTimesTokens(QuantMatrix w, float[] columns, float[] out, int tokens, int start, int end) {
        QuantFormat f = w.format();
        long rowBytes = w.rowBytes();
        int rows = w.rows();
        int cols = w.cols();
        int pr = FloatDot.PANEL_ROWS;
        int tp = FloatDot.paddedTokens(tokens);
        PanelScratch s = PANEL_SCRATCH.get().fit(tokens);
        for (int r0 = start; r0 < end; r0 += pr) {
            int rn = Math.min(pr, end - r0);
            java.util.Arrays.fill(s.acc, 0, pr * tp, 0f);
            for (int k0 = 0; k0 < cols; k0 += FloatDot.PANEL_DEPTH) {
                int depth = Math.min(FloatDot.PANEL_DEPTH, cols - k0);
                long skip = f.rowBytes(k0);
                for (int j = 0; j < rn; j++) {
                    f.dequantize(w.data(), (r0 + j) * rowBytes + skip, s.rows, j * depth, depth);
                }
                java.util.Arrays.fill(s.rows, rn * depth, FloatDot.rowsRead(rn) * depth, 0f);
                FloatDot.panelTimesTokens(s.rows, 0, depth, rn, depth, columns, cols, tp, k0, s.acc, 0);
            }
            // token by token: each token's rows are one contiguous run of out
            for (int t = 0; t < tokens; t++) {
                for (int j = 0, o = t * rows + r0; j < rn; j++) {
                    out[o + j] = s.acc[j * tp + t];
                }
            }
        }
    }

    /** Per-thread buffers of {@link #panelsTimesTokens}: a chunk of the panel's dequantized rows, their sums. */
    private static final class PanelScratch {
        final float[] rows = new float[FloatDot.PANEL_ROWS * FloatDot.PANEL_DEPTH];
        float[] acc = new float[0];

        PanelScratch fit(int tokens) {
            int n = FloatDot.paddedTokens(tokens) * FloatDot.PANEL_ROWS;
            if (acc.length < n) {
                acc = new float[n];
            }
            return this;
        }
    }

    private static final ThreadLocal<PanelScratch> PANEL_SCRATCH = ThreadLocal.withInitial(PanelScratch::new);

    private static void check(QuantMatrix w, Activations x) {
        if (w.cols() != x.dim()) {
            throw new IllegalArgumentException("matrix has " + w.cols() + " columns, activations have " + x.dim());
        }
    }
}
