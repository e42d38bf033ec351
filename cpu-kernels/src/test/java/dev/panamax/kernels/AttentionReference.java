package dev.panamax.kernels;

import java.lang.foreign.MemorySegment;

/** Attention in double precision from a cache's own dequantized rows: what the attention kernels are checked against. */
final class AttentionReference {
    private AttentionReference() {}

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
