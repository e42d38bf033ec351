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
                Dequant.store(Int8Dot.iq4(Int8Dot.lowNibbles(q)), dl, dst, y);
                Dequant.store(Int8Dot.iq4(Int8Dot.highNibbles(q)), dl, dst, y + 16);
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

    /** Int lanes of one 32-value sub-block's dot product with x[xo ..]. */
    private static IntVector blockDot(ByteVector q, short[] x, int xo) {
        IntVector acc = Int8Dot.dot(Int8Dot.iq4Half(q, 0, false), Int8Dot.iq4Half(q, 0, true), x, xo);
        for (int p = 1; p < Int8Dot.PARTS; p++) {
            acc = acc.add(Int8Dot.dot(Int8Dot.iq4Half(q, p, false), Int8Dot.iq4Half(q, p, true), x, xo + p * Int8Dot.L));
        }
        return acc;
    }

    /** Decodes a row into int16 grid values and per-32 scales d * (ls - 32). */
    private static void decodeRow(MemorySegment w, long rowOffset, int n, Int8Dot.Decoded dec) {
        long o = rowOffset;
        for (int b = 0; b < n / 256; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            int sh = w.get(QuantMath.SHORT_LE, o + 2);
            int sl = QuantMath.u32(w, o + 4);
            for (int ib = 0; ib < 8; ib++) {
                dec.d[8 * b + ib] = d * subScale(sh, sl, ib);
                ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 8 + 16 * ib, ByteOrder.LITTLE_ENDIAN);
                int y = 256 * b + 32 * ib;
                for (int p = 0; p < Int8Dot.PARTS; p++) {
                    Int8Dot.iq4Half(q, p, false).intoArray(dec.q, y + p * Int8Dot.L);
                    Int8Dot.iq4Half(q, p, true).intoArray(dec.q, y + 16 + p * Int8Dot.L);
                }
            }
        }
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        int nb = n / 256;
        short[] xq = x.q8_KWide();
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
                IntVector s = blockDot(q, xq, xo + 256 * b + 32 * ib);
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
        if (tokens == 1) {
            out[outOffset] = dot(w, rowOffset, x, token0);
            return;
        }
        Int8Dot.Decoded dec = Int8Dot.decoded(n);
        decodeRow(w, rowOffset, n, dec);
        Int8Dot.dotDecoded(dec, n, x, token0, tokens, true, false, out, outOffset, outStride);
    }
}
