package dev.panamax.kernels;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

/**
 * Causal grouped-query attention of several query tokens (a prompt, a speculative check) against
 * a key/value cache, as two products through the float panels ({@link FloatDot}): the scores of a
 * block of positions are the block's dequantized key rows times the queries, and the output is
 * the softmaxed scores times the values, each weight or probability broadcast against vectors of
 * queries or of value dimensions. Work goes in parallel over (tile of query tokens, key/value
 * head): a tile's query rows are its tokens times the heads sharing the KV head, about one panel
 * of them ({@link FloatDot#PANEL_ROWS}), so every key and value row is dequantized once for all.
 *
 * <p>Until now the scores were one dot product per query head and position and the output one
 * axpy per query head and position: three memory operations per multiply-add, about a seventh of
 * the prompt time of a Qwen3-0.6B-shaped file for about 1% of its arithmetic.
 */
public final class PromptAttention {
    private final int heads;
    private final int kvHeads;
    private final int group;
    private final int headDim;
    private final int valueDim;
    private final int context;
    private final int queryTile;
    private final int panelRows;
    private final float[][] scores;
    private final float[][] keyRows;
    private final float[][] queries;
    private final float[][] queryColumn;
    private final float[][] scoreSums;
    private final float[][] valueColumns;
    private final float[][] valueRow;
    private final float[][] outSums;

    /** For caches of {@code context} positions and prompts of up to {@code maxTokens} tokens, on {@code threads} workers. */
    public PromptAttention(int heads, int kvHeads, int headDim, int valueDim, int context, int maxTokens, int threads) {
        if (kvHeads < 1 || heads % kvHeads != 0) {
            throw new IllegalArgumentException(heads + " query heads do not group over " + kvHeads + " KV heads");
        }
        this.heads = heads;
        this.kvHeads = kvHeads;
        this.group = heads / kvHeads;
        this.headDim = headDim;
        this.valueDim = valueDim;
        this.context = context;
        // about one panel of query rows a tile; fewer tokens for long contexts, so that a worker's
        // scores stay within about 8 MB
        long perToken = (long) group * context;
        this.queryTile = (int) Math.max(1, Math.min(Math.min(Math.max(1, FloatDot.PANEL_ROWS / group), maxTokens),
                (2L << 20) / perToken));
        int rows = queryTile * group;
        // the panels read whole groups of twelve rows
        this.panelRows = (rows + 11) / 12 * 12;
        int tq = FloatDot.paddedTokens(rows);
        int tv = FloatDot.paddedTokens(valueDim);
        this.scores = new float[threads][Math.toIntExact((long) panelRows * context)];
        this.keyRows = new float[threads][FloatDot.PANEL_ROWS * headDim];
        this.queries = new float[threads][tq * headDim];
        this.queryColumn = new float[threads][tq];
        this.scoreSums = new float[threads][FloatDot.PANEL_ROWS * tq];
        this.valueColumns = new float[threads][FloatDot.PANEL_DEPTH * tv];
        this.valueRow = new float[threads][valueDim];
        this.outSums = new float[threads][panelRows * tv];
    }

    /**
     * out[t * heads * valueDim + h * valueDim ..] = softmax(scale * q_th . keys[0 .. pos0 + t])
     * values[0 .. pos0 + t] for query tokens t < tokens (at positions pos0 + t) and heads h, the
     * heads sharing a KV head consecutive; q_th at {@code q[(t * heads + h) * headDim]}; the cache
     * row of position p and KV head g at {@code (p * kvHeads + g) * rowBytes} of its segment (as
     * {@link DecodeAttention} reads it).
     */
    public void run(float[] q, int tokens, int pos0, QuantFormat keyFormat, MemorySegment keys, QuantFormat valueFormat,
            MemorySegment values, float scale, float[] out, WorkerPool pool) {
        if (pos0 + tokens > context) {
            throw new IllegalArgumentException((pos0 + tokens) + " positions in a cache of " + context);
        }
        long keyRowBytes = keyFormat.rowBytes(headDim);
        long valueRowBytes = valueFormat.rowBytes(valueDim);
        int tiles = (tokens + queryTile - 1) / queryTile;
        pool.parallelFor(tiles * kvHeads, 1, (worker, start, end) -> {
            for (int i = start; i < end; i++) {
                int t0 = i / kvHeads * queryTile;
                unit(worker, q, t0, Math.min(tokens, t0 + queryTile), pos0, i % kvHeads, keyFormat, keys, keyRowBytes,
                        valueFormat, values, valueRowBytes, scale, out);
            }
        });
    }

    private void unit(int worker, float[] q, int t0, int t1, int pos0, int kvh, QuantFormat kf, MemorySegment keys,
            long keyRowBytes, QuantFormat vf, MemorySegment values, long valueRowBytes, float scale, float[] out) {
        int hd = headDim;
        int vd = valueDim;
        int ctx = context;
        int pr = FloatDot.PANEL_ROWS;
        int rows = (t1 - t0) * group;
        int n = pos0 + t1;
        int tq = FloatDot.paddedTokens(rows);
        int tv = FloatDot.paddedTokens(vd);
        float[] s = scores[worker];
        float[] kr = keyRows[worker];
        float[] qc = queries[worker];
        float[] ss = scoreSums[worker];
        float[] vc = valueColumns[worker];
        float[] vr = valueRow[worker];
        float[] os = outSums[worker];
        int h0 = kvh * group;

        // query row m is token t0 + m / group, head h0 + m % group: as the "tokens" of the scores
        float[] column = queryColumn[worker];
        for (int k = 0; k < hd; k++) {
            for (int m = 0; m < rows; m++) {
                column[m] = q[((t0 + m / group) * heads + h0 + m % group) * hd + k];
            }
            FloatDot.putColumn(column, rows, qc, hd, tq, k);
        }
        // scores: key rows of a panel of positions times the query rows
        for (int p0 = 0; p0 < n; p0 += pr) {
            int rn = Math.min(pr, n - p0);
            for (int j = 0; j < rn; j++) {
                kf.dequantize(keys, ((long) (p0 + j) * kvHeads + kvh) * keyRowBytes, kr, j * hd, hd);
            }
            Arrays.fill(kr, rn * hd, FloatDot.rowsRead(rn) * hd, 0f);
            Arrays.fill(ss, 0, pr * tq, 0f);
            FloatDot.panelTimesTokens(kr, 0, hd, rn, hd, qc, hd, tq, 0, ss, 0);
            for (int m = 0; m < rows; m++) {
                for (int j = 0, o = m * ctx + p0; j < rn; j++) {
                    s[o + j] = ss[j * tq + m] * scale;
                }
            }
        }
        // token t sees positions 0 .. pos0 + t: the rest of its row is zero for the product below
        for (int m = 0; m < rows; m++) {
            int seen = pos0 + t0 + m / group + 1;
            Ops.softmax(s, m * ctx, seen);
            Arrays.fill(s, m * ctx + seen, m * ctx + n, 0f);
        }
        // output: the probabilities of the query rows times the value rows, a chunk of positions at a time
        Arrays.fill(os, 0, panelRows * tv, 0f);
        for (int c0 = 0; c0 < n; c0 += FloatDot.PANEL_DEPTH) {
            int len = Math.min(FloatDot.PANEL_DEPTH, n - c0);
            for (int p = 0; p < len; p++) {
                vf.dequantize(values, ((long) (c0 + p) * kvHeads + kvh) * valueRowBytes, vr, 0, vd);
                FloatDot.putColumn(vr, vd, vc, len, tv, p);
            }
            // rows past this tile's (to a group of twelve) hold finite leftovers: their sums are not read
            for (int m0 = 0; m0 < rows; m0 += pr) {
                FloatDot.panelTimesTokens(s, m0 * ctx + c0, ctx, Math.min(pr, rows - m0), len, vc, len, tv, 0, os, m0 * tv);
            }
        }
        for (int m = 0; m < rows; m++) {
            System.arraycopy(os, m * tv, out, ((t0 + m / group) * heads + h0 + m % group) * vd, vd);
        }
    }
}
