package dev.panamax.kernels;

import static dev.panamax.kernels.Int8Dot.B16;
import static dev.panamax.kernels.Int8Dot.F;
import static dev.panamax.kernels.Int8Dot.I;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;

/**
 * IQ4_XS: super-blocks of 256 (136 bytes): fp16 d, u16 scales_h, 4 bytes scales_l, 128 nibble
 * bytes. Sub-block ib (32 values) has the 6-bit scale ls = low nibble of scales_l[ib/2] (high
 * nibble for odd ib) | 2 bits of scales_h at 2*ib, shifted up by 4; x = d * (ls - 32) *
 * VALUES[q]. The dot products run against Q8_K activations: integer sums per sub-block, times
 * (ls - 32) in int, one float FMA per super-block.
 */
final class IQ4XSFormat implements QuantFormat {
    private static final int BLOCK = 136;

    @Override
    public GgmlType type() {
        return GgmlType.IQ4_XS;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.Q8_K;
    }

    private static int subScale(int scalesH, int scalesL, int ib) {
        return ((scalesL >>> (4 * ib)) & 0xF | ((scalesH >>> (2 * ib)) & 3) << 4) - 32;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 256; b++) {
            long o = srcOffset + (long) b * BLOCK;
            float d = QuantMath.fp16(src, o);
            int sh = src.get(QuantMath.SHORT_LE, o + 2) & 0xFFFF;
            int sl = QuantMath.u32(src, o + 4);
            for (int ib = 0; ib < 8; ib++) {
                float dl = d * subScale(sh, sl, ib);
                for (int j = 0; j < 16; j++) {
                    int q = QuantMath.u8(src, o + 8 + 16 * ib + j);
                    dst[dstOffset + 256 * b + 32 * ib + j] = dl * IQ4.VALUES[q & 0xF];
                    dst[dstOffset + 256 * b + 32 * ib + 16 + j] = dl * IQ4.VALUES[q >> 4];
                }
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 256; b++) {
            long o = srcOffset + (long) b * BLOCK;
            float d = QuantMath.fp16(src, o);
            int sh = src.get(QuantMath.SHORT_LE, o + 2) & 0xFFFF;
            int sl = QuantMath.u32(src, o + 4);
            for (int ib = 0; ib < 8; ib++) {
                FloatVector dl = FloatVector.broadcast(F, d * subScale(sh, sl, ib));
                ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 8 + 16 * ib, ByteOrder.LITTLE_ENDIAN);
                int y = dstOffset + 256 * b + 32 * ib;
                Dequant.store(Int8Dot.iq4(Int8Dot.low(q)), dl, dst, y);
                Dequant.store(Int8Dot.iq4(Int8Dot.high(q)), dl, dst, y + 16);
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int b = 0; b < count / 256; b++) {
            long o = dstOffset + (long) b * BLOCK;
            IQ4.quantize(src, srcOffset + 256 * b, 256, 7, dst, o, o + 8, o + 2, o + 4);
        }
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        int nb = n / 256;
        byte[] xq = x.q8_K();
        float[] xd = x.q8_KScale();
        int xo = token * n;
        int so = token * nb;
        FloatVector acc = FloatVector.zero(F);
        long o = rowOffset;
        for (int b = 0; b < nb; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            int sh = w.get(QuantMath.SHORT_LE, o + 2);
            int sl = QuantMath.u32(w, o + 4);
            IntVector sum = IntVector.zero(I);
            for (int ib = 0; ib < 8; ib++) {
                ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 8 + 16 * ib, ByteOrder.LITTLE_ENDIAN);
                IntVector s = Int8Dot.block(Int8Dot.iq4(Int8Dot.low(q)), Int8Dot.iq4(Int8Dot.high(q)), xq, xo + 256 * b + 32 * ib);
                sum = sum.add(s.mul(subScale(sh, sl, ib)));
            }
            acc = Int8Dot.fma(sum, d * xd[so + b], acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void dotTokens(MemorySegment w, long rowOffset, Activations x, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        int n = x.dim();
        int nb = n / 256;
        byte[] xq = x.q8_K();
        float[] xd = x.q8_KScale();
        for (int t = 0; t < tokens; t += 4) {
            int tn = Math.min(4, tokens - t);
            if (tn == 1) {
                out[outOffset + t * outStride] = dot(w, rowOffset, x, token0 + t);
                continue;
            }
            int t0 = token0 + t;
            int t1 = t0 + 1;
            int t2 = t0 + Math.min(2, tn - 1);
            int t3 = t0 + Math.min(3, tn - 1);
            FloatVector a0 = FloatVector.zero(F);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            long o = rowOffset;
            for (int b = 0; b < nb; b++, o += BLOCK) {
                float d = QuantMath.fp16(w, o);
                int sh = w.get(QuantMath.SHORT_LE, o + 2);
                int sl = QuantMath.u32(w, o + 4);
                IntVector s0 = IntVector.zero(I);
                IntVector s1 = s0;
                IntVector s2 = s0;
                IntVector s3 = s0;
                for (int ib = 0; ib < 8; ib++) {
                    ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 8 + 16 * ib, ByteOrder.LITTLE_ENDIAN);
                    ByteVector w0 = Int8Dot.iq4(Int8Dot.low(q));
                    ByteVector w16 = Int8Dot.iq4(Int8Dot.high(q));
                    int ls = subScale(sh, sl, ib);
                    int xb = 256 * b + 32 * ib;
                    s0 = s0.add(Int8Dot.block(w0, w16, xq, t0 * n + xb).mul(ls));
                    s1 = s1.add(Int8Dot.block(w0, w16, xq, t1 * n + xb).mul(ls));
                    s2 = s2.add(Int8Dot.block(w0, w16, xq, t2 * n + xb).mul(ls));
                    s3 = s3.add(Int8Dot.block(w0, w16, xq, t3 * n + xb).mul(ls));
                }
                a0 = Int8Dot.fma(s0, d * xd[t0 * nb + b], a0);
                a1 = Int8Dot.fma(s1, d * xd[t1 * nb + b], a1);
                a2 = Int8Dot.fma(s2, d * xd[t2 * nb + b], a2);
                a3 = Int8Dot.fma(s3, d * xd[t3 * nb + b], a3);
            }
            Int8Dot.store4(a0, a1, a2, a3, 0, 0, 0, 0, tn, out, outOffset + t * outStride, outStride);
        }
    }
}
