package dev.panamax.kernels;

import static dev.panamax.kernels.KQuants.F16W;
import static dev.panamax.kernels.KQuants.I16W;
import static dev.panamax.kernels.KQuants.LE;
import static dev.panamax.kernels.KQuants.QK_K;
import static dev.panamax.kernels.KQuants.S16;
import static dev.panamax.kernels.KQuants.fp16;
import static dev.panamax.kernels.KQuants.nearestInt;
import static dev.panamax.kernels.KQuants.superBlocks;
import static dev.panamax.kernels.VectorShapes.F32;
import static dev.panamax.kernels.VectorShapes.I32;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Q2_K: super-blocks of 256 values in 84 bytes: scales[16] (low nibble scale, high nibble min,
 * one pair per 16 values), qs[64] (2-bit levels), fp16 d, fp16 dmin. Value e = 128h + 32j + l:
 * q = (qs[32h+l] &gt;&gt; 2j) &amp; 3; x = d*(sc&amp;0xF)*q - dmin*(sc&gt;&gt;4), sc = scales[e/16].
 */
final class Q2KFormat implements QuantFormat {
    static final int BLOCK = 84;

    @Override
    public GgmlType type() {
        return GgmlType.Q2_K;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.Q8_K;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int nb = superBlocks(count);
        byte[] blk = new byte[BLOCK];
        for (int b = 0; b < nb; b++) {
            MemorySegment.copy(src, ValueLayout.JAVA_BYTE, srcOffset + (long) b * BLOCK, blk, 0, BLOCK);
            float d = fp16(blk, 80);
            float min = fp16(blk, 82);
            for (int e = 0; e < QK_K; e++) {
                int h = e / 128;
                int j = (e % 128) / 32;
                int l = e % 32;
                int q = ((blk[16 + 32 * h + l] & 0xFF) >> (2 * j)) & 3;
                int sc = blk[e / 16] & 0xFF;
                float dl = d * (sc & 0xF);
                float ml = min * (sc >> 4);
                dst[dstOffset + b * QK_K + e] = dl * q - ml;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int nb = superBlocks(count);
        for (int b = 0; b < nb; b++) {
            long o = srcOffset + (long) b * BLOCK;
            float d = fp16(src, o + 80);
            float min = fp16(src, o + 82);
            int y = dstOffset + b * QK_K;
            for (int h = 0; h < 2; h++) {
                for (int l0 = 0; l0 < 32; l0 += KQuants.QB) {
                    ByteVector qsb = KQuants.loadQ(src, o + 16 + 32 * h + l0);
                    for (int p = 0; p < KQuants.QPARTS; p++) {
                        int l = l0 + p * I32.length();
                        IntVector qs = KQuants.toInts(qsb, p);
                        for (int j = 0; j < 4; j++) {
                            int e = 128 * h + 32 * j + l;
                            int sc = src.get(ValueLayout.JAVA_BYTE, o + e / 16) & 0xFF;
                            FloatVector q = (FloatVector) qs.lanewise(VectorOperators.LSHR, 2 * j).and(3)
                                    .convertShape(VectorOperators.I2F, VectorShapes.F32, 0);
                            // d*sc*q is exact, so the fused form rounds once, as the reference
                            q.fma(FloatVector.broadcast(F32, d * (sc & 0xF)), FloatVector.broadcast(F32, -(min * (sc >> 4))))
                                    .intoArray(dst, y + e);
                        }
                    }
                }
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        int nb = superBlocks(count);
        byte[] L = new byte[QK_K];
        byte[] laux = new byte[16];
        float[] weights = new float[16];
        float[] mins = new float[16];
        float[] scales = new float[16];
        byte[] y = new byte[BLOCK];
        CandidateSearch.Scratch scratch = new CandidateSearch.Scratch();
        for (int b = 0; b < nb; b++) {
            int x = srcOffset + b * QK_K;
            java.util.Arrays.fill(y, (byte) 0);
            float maxScale = 0;
            float maxMin = 0;
            for (int j = 0; j < 16; j++) {
                for (int l = 0; l < 16; l++) {
                    weights[l] = Math.abs(src[x + 16 * j + l]);
                }
                scales[j] = KQuants.makeQkx2Quants(16, 3, src, x + 16 * j, weights, 0, L, 16 * j, mins, j, laux,
                        -0.5f, 0.1f, 15, true, scratch);
                if (scales[j] > maxScale) {
                    maxScale = scales[j];
                }
                if (mins[j] > maxMin) {
                    maxMin = mins[j];
                }
            }
            if (maxScale > 0) {
                float iscale = 15f / maxScale;
                for (int j = 0; j < 16; j++) {
                    y[j] = (byte) nearestInt(iscale * scales[j]);
                }
                KQuants.putFp16(y, 80, maxScale / 15f);
            }
            if (maxMin > 0) {
                float iscale = 15f / maxMin;
                for (int j = 0; j < 16; j++) {
                    y[j] |= (byte) (nearestInt(iscale * mins[j]) << 4);
                }
                KQuants.putFp16(y, 82, maxMin / 15f);
            }
            float d0 = fp16(y, 80);
            float m0 = fp16(y, 82);
            for (int j = 0; j < 16; j++) {
                float d = d0 * (y[j] & 0xF);
                if (d == 0) {
                    continue;
                }
                float dm = m0 * ((y[j] & 0xFF) >> 4);
                for (int ii = 0; ii < 16; ii++) {
                    int l = nearestInt((src[x + 16 * j + ii] + dm) / d);
                    L[16 * j + ii] = (byte) Math.max(0, Math.min(3, l));
                }
            }
            for (int h = 0; h < 2; h++) {
                for (int l = 0; l < 32; l++) {
                    int e = 128 * h + l;
                    y[16 + 32 * h + l] = (byte) (L[e] | (L[e + 32] << 2) | (L[e + 64] << 4) | (L[e + 96] << 6));
                }
            }
            MemorySegment.copy(y, 0, dst, ValueLayout.JAVA_BYTE, dstOffset + (long) b * BLOCK, BLOCK);
        }
    }

    /** Sum over the 16 groups of (scales[g] >> 4) * bsum[g]: the min correction. */
    private static int minSum(long s0, long s1, int[] bsum, int g0) {
        int m = 0;
        for (int g = 0; g < 8; g++) {
            m += (int) ((s0 >>> (8 * g + 4)) & 0xF) * bsum[g0 + g];
            m += (int) ((s1 >>> (8 * g + 4)) & 0xF) * bsum[g0 + 8 + g];
        }
        return m;
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        int nb = n / QK_K;
        short[] a = x.q8_KWide();
        float[] ad = x.q8_KScale();
        int[] bsum = x.q8_KSum16();
        FloatVector acc = FloatVector.zero(F16W);
        float minAcc = 0;
        for (int b = 0; b < nb; b++) {
            long o = rowOffset + (long) b * BLOCK;
            int tb = token * nb + b;
            float da = ad[tb];
            // scales and d, dmin through vector loads (scalar segment reads become calls in big compilations)
            LongVector sv = ByteVector.fromMemorySegment(KQuants.B2, w, o, LE).reinterpretAsLongs();
            long s0 = sv.lane(0);
            long s1 = sv.lane(1);
            int dd = ByteVector.fromMemorySegment(KQuants.B2, w, o + 68, LE).reinterpretAsInts().lane(3);
            minAcc += Float.float16ToFloat((short) (dd >>> 16)) * da * minSum(s0, s1, bsum, tb * 16);
            int ao = tb * QK_K;
            IntVector isum = IntVector.zero(I16W);
            for (int h = 0; h < 2; h++) {
                long s = h == 0 ? s0 : s1;
                for (int l = 0; l < 32; l += S16.length()) {
                    ShortVector qs = (ShortVector) ByteVector.fromMemorySegment(KQuants.SB16, w, o + 16 + 32 * h + l, LE)
                            .convertShape(VectorOperators.B2S, S16, 0);
                    ShortVector p = ShortVector.zero(S16);
                    for (int j = 0; j < 4; j++) {
                        // the 4-bit scale folded into the level: |q*sc*a| <= 3*15*127 = 5715, four per lane
                        short sc = (short) ((s >>> (8 * (2 * j + l / 16))) & 0xF);
                        ShortVector q = qs.lanewise(VectorOperators.LSHR, 2 * j).and((short) 3).mul(sc);
                        p = p.add(q.mul(ShortVector.fromArray(S16, a, ao + 128 * h + 32 * j + l)));
                    }
                    // widened pair sums, written out (a helper call would not be inlined past C2's node cutoff)
                    IntVector v = p.reinterpretAsInts();
                    isum = isum.add(v.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(v.lanewise(VectorOperators.ASHR, 16)));
                }
            }
            FloatVector fs = (FloatVector) isum.convertShape(VectorOperators.I2F, KQuants.F16W, 0);
            acc = fs.fma(FloatVector.broadcast(F16W, Float.float16ToFloat((short) dd) * da), acc);
        }
        return FloatLanes.sum(acc) - minAcc;
    }
}
