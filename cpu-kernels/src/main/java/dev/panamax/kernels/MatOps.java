package dev.panamax.kernels;

/**
 * Matrix-vector and matrix-matrix products of quantized weights with activations, spread over a
 * {@link WorkerPool} in contiguous row ranges (each thread streams its own part of the matrix).
 * Several matrices with the same input (q, k and v; gate and up) can go in one call: their rows
 * form one parallel loop, so the threads meet once instead of once per matrix.
 */
public final class MatOps {
    /** Rows per partition unit: keeps each thread's range a whole number of cache-friendly rows. */
    private static final int ROW_GRAIN = 16;
    /** Tokens per {@link QuantFormat#dotTokens} call in a matmul. */
    static final int TOKEN_TILE = 4;
    /** Rows that stay in cache while every token passes over them. */
    private static final int ROW_TILE = 16;

    private MatOps() {}

    /** out[outOffset + r] = row r . token 0 of x. */
    public static void matvec(QuantMatrix w, Activations x, float[] out, int outOffset, WorkerPool pool) {
        check(w, x);
        x.prepare(w.format().activationType());
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
        check(w, x);
        int tokens = x.tokens();
        if (tokens == 1) {
            matvec(w, x, out, 0, pool);
            return;
        }
        x.prepare(w.format().activationType());
        int rows = w.rows();
        pool.parallelFor(rows, ROW_GRAIN, (start, end) -> rowsTimesTokens(w, x, out, tokens, start, end));
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
        for (QuantMatrix w : ws) {
            check(w, x);
            x.prepare(w.format().activationType());
            total += w.rows();
        }
        int tokens = x.tokens();
        pool.parallelFor(total, ROW_GRAIN, (start, end) -> {
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

    /** Rows [start, end) of w times every token, in row tiles that stay in cache across token tiles. */
    private static void rowsTimesTokens(QuantMatrix w, Activations x, float[] out, int tokens, int start, int end) {
        QuantFormat f = w.format();
        long rowBytes = w.rowBytes();
        int rows = w.rows();
        for (int r0 = start; r0 < end; r0 += ROW_TILE) {
            int r1 = Math.min(end, r0 + ROW_TILE);
            for (int t0 = 0; t0 < tokens; t0 += TOKEN_TILE) {
                int tn = Math.min(TOKEN_TILE, tokens - t0);
                for (int r = r0; r < r1; r++) {
                    f.dotTokens(w.data(), r * rowBytes, x, t0, tn, out, t0 * rows + r, rows);
                }
            }
        }
    }

    private static void check(QuantMatrix w, Activations x) {
        if (w.cols() != x.dim()) {
            throw new IllegalArgumentException("matrix has " + w.cols() + " columns, activations have " + x.dim());
        }
    }
}
