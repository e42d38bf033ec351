package dev.panamax.kernels;

import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/** Attention in double precision from a cache's own dequantized rows: what the attention kernels are checked against. */
final class AttentionReference {
    private AttentionReference() {}

    /**
     * Fills a cache's first {@code rows} rows with random keys (headDim values) and values
     * (valueDim), both in format f: the keys scaled up, so that the softmax is far from uniform
     * and its running maximum moves.
     */
    static void fillCache(QuantFormat f, MemorySegment keys, int headDim, MemorySegment values, int valueDim, int rows,
            SplittableRandom rnd) {
        long keyBytes = f.rowBytes(headDim);
        long valueBytes = f.rowBytes(valueDim);
        float[] k = new float[headDim];
        float[] v = new float[valueDim];
        for (int r = 0; r < rows; r++) {
            fill(k, rnd, 4 + r % 7);
            f.quantize(k, 0, keys, r * keyBytes, headDim);
            fill(v, rnd, 1);
            f.quantize(v, 0, values, r * valueBytes, valueDim);
        }
    }

    /** Uniform values in [-scale/2, scale/2). */
    static void fill(float[] v, SplittableRandom rnd, double scale) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) ((rnd.nextDouble() - 0.5) * scale);
        }
    }

    /**
     * softmax(scale * q . keys[0 .. seen)) values[0 .. seen) for one query vector at
     * {@code q[qOffset]} and KV head {@code kvh}, the cache row of position p at
     * {@code (p * kvHeads + kvh) * rowBytes} of its segment.
     */
    static double[] attend(float[] q, int qOffset, QuantFormat kf, MemorySegment keys, long keyBytes, QuantFormat vf,
            MemorySegment values, long valueBytes, int kvHeads, int kvh, int headDim, int valueDim, int seen, double scale) {
        float[] k = new float[headDim];
        float[] v = new float[valueDim];
        double[] s = new double[seen];
        double max = Double.NEGATIVE_INFINITY;
        for (int p = 0; p < seen; p++) {
            kf.dequantizeReference(keys, (p * kvHeads + kvh) * keyBytes, k, 0, headDim);
            double d = 0;
            for (int i = 0; i < headDim; i++) {
                d += (double) q[qOffset + i] * k[i];
            }
            s[p] = d * scale;
            max = Math.max(max, s[p]);
        }
        double sum = 0;
        double[] o = new double[valueDim];
        for (int p = 0; p < seen; p++) {
            double e = Math.exp(s[p] - max);
            sum += e;
            vf.dequantizeReference(values, (p * kvHeads + kvh) * valueBytes, v, 0, valueDim);
            for (int i = 0; i < valueDim; i++) {
                o[i] += e * v[i];
            }
        }
        for (int i = 0; i < valueDim; i++) {
            o[i] /= sum;
        }
        return o;
    }
}
