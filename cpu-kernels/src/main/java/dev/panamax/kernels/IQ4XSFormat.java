package dev.panamax.kernels;

import static dev.panamax.kernels.Int8Dot.B16;
import static dev.panamax.kernels.Int8Dot.BQ;
import static dev.panamax.kernels.Int8Dot.F;
import static dev.panamax.kernels.Int8Dot.HIGH_NIBBLE_MASK;
import static dev.panamax.kernels.Int8Dot.I;
import static dev.panamax.kernels.Int8Dot.IQ4_VALUES;
import static dev.panamax.kernels.Int8Dot.L;
import static dev.panamax.kernels.Int8Dot.LE;
import static dev.panamax.kernels.Int8Dot.LOW_NIBBLE_Q;
import static dev.panamax.kernels.Int8Dot.PARTS;
import static dev.panamax.kernels.Int8Dot.S;
import static dev.panamax.kernels.QuantMath.INT_LE;
import static dev.panamax.kernels.QuantMath.SHORT_LE;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
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
                FloatVector dl = FloatVector.broadcast(VectorShapes.F32, d * subScale(sh, sl, ib));
                ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 8 + 16 * ib, ByteOrder.LITTLE_ENDIAN);
                int y = dstOffset + 256 * b + 32 * ib;
                Dequant.store(Dequant.iq4(Dequant.lowNibbles(q)), dl, dst, y);
                Dequant.store(Dequant.iq4(Dequant.highNibbles(q)), dl, dst, y + 16);
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

    /** Decodes a row into int16 grid values and per-32 scales d * (ls - 32). */
    private static void decodeRow(MemorySegment w, long rowOffset, int n, Int8Dot.Decoded dec) {
        MemorySegment row = w.asSlice(rowOffset, (long) (n / 256) * BLOCK);
        short[] out = dec.q;
        for (int b = 0; b < n / 256; b++) {
            long o = (long) b * BLOCK;
            float d = Float.float16ToFloat(row.get(SHORT_LE, o));
            int sh = row.get(SHORT_LE, o + 2);
            int sl = row.get(INT_LE, o + 4);
            for (int ib = 0; ib < 8; ib++) {
                dec.d[8 * b + ib] = d * subScale(sh, sl, ib);
                for (int p = 0; p < PARTS; p++) {
                    ByteVector q = ByteVector.fromMemorySegment(BQ, row, o + 8 + 16 * ib + p * L, LE);
                    ByteVector i0 = q.and(LOW_NIBBLE_Q);
                    ByteVector i16 = q.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).and(HIGH_NIBBLE_MASK).reinterpretAsBytes();
                    ShortVector w0 = (ShortVector) ((ByteVector) i0.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                            .convertShape(VectorOperators.B2S, S, 0);
                    ShortVector w16 = (ShortVector) ((ByteVector) i16.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                            .convertShape(VectorOperators.B2S, S, 0);
                    int y = 256 * b + 32 * ib + p * L;
                    w0.intoArray(out, y);
                    w16.intoArray(out, y + 16);
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
        MemorySegment row = w.asSlice(rowOffset, (long) nb * BLOCK);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = (long) b * BLOCK;
            float d = Float.float16ToFloat(row.get(SHORT_LE, o));
            int sh = row.get(SHORT_LE, o + 2);
            int sl = row.get(INT_LE, o + 4);
            IntVector sum = IntVector.zero(I);
            for (int ib = 0; ib < 8; ib++) {
                IntVector sub = IntVector.zero(I);
                for (int p = 0; p < PARTS; p++) {
                    ByteVector q = ByteVector.fromMemorySegment(BQ, row, o + 8 + 16 * ib + p * L, LE);
                    ByteVector i0 = q.and(LOW_NIBBLE_Q);
                    ByteVector i16 = q.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).and(HIGH_NIBBLE_MASK).reinterpretAsBytes();
                    ShortVector w0 = (ShortVector) ((ByteVector) i0.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                            .convertShape(VectorOperators.B2S, S, 0);
                    ShortVector w16 = (ShortVector) ((ByteVector) i16.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                            .convertShape(VectorOperators.B2S, S, 0);
                    int xi = xo + 256 * b + 32 * ib + p * L;
                    IntVector pi = w0.mul(ShortVector.fromArray(S, xq, xi)).add(w16.mul(ShortVector.fromArray(S, xq, xi + 16)))
                            .reinterpretAsInts();
                    sub = sub.add(pi.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                            .add(pi.lanewise(VectorOperators.ASHR, 16)));
                }
                sum = sum.add(sub.mul(subScale(sh, sl, ib)));
            }
            acc = ((FloatVector) sum.convertShape(VectorOperators.I2F, Int8Dot.F, 0)).fma(FloatVector.broadcast(F, d * xd[so + b]), acc);
        }
        // the lane sum in place (see Int8Dot.FOLD4)
        if (Int8Dot.F8) {
            acc = acc.add(acc.rearrange(Int8Dot.FOLD4));
        }
        acc = acc.add(acc.rearrange(Int8Dot.FOLD2));
        return acc.add(acc.rearrange(Int8Dot.FOLD1)).lane(0);
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
