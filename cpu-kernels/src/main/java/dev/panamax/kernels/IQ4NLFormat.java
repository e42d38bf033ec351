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
import static dev.panamax.kernels.QuantMath.SHORT_LE;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/**
 * IQ4_NL: blocks of 32 with an fp16 scale and 16 nibble bytes indexing the non-linear grid
 * {@link IQ4#VALUES} (18 bytes): x = d * VALUES[q].
 */
final class IQ4NLFormat implements QuantFormat {
    private static final int BLOCK = 18;

    @Override
    public GgmlType type() {
        return GgmlType.IQ4_NL;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.Q8_0;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            float d = QuantMath.fp16(src, o);
            for (int j = 0; j < 16; j++) {
                int q = QuantMath.u8(src, o + 2 + j);
                dst[dstOffset + 32 * b + j] = d * IQ4.VALUES[q & 0xF];
                dst[dstOffset + 32 * b + j + 16] = d * IQ4.VALUES[q >> 4];
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            FloatVector d = FloatVector.broadcast(VectorShapes.F32, QuantMath.fp16(src, o));
            ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 2, ByteOrder.LITTLE_ENDIAN);
            Dequant.store(Dequant.iq4(Dequant.lowNibbles(q)), d, dst, dstOffset + 32 * b);
            Dequant.store(Dequant.iq4(Dequant.highNibbles(q)), d, dst, dstOffset + 32 * b + 16);
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = dstOffset + (long) b * BLOCK;
            IQ4.quantize(src, srcOffset + 32 * b, 32, 7, dst, o, o + 2, -1, -1);
        }
    }

    /** Decodes a row into int16 weights and per-block scales (see {@link Int8Dot.Decoded}). */
    private static void decodeRow(MemorySegment w, long rowOffset, int n, Int8Dot.Decoded dec) {
        MemorySegment row = w.asSlice(rowOffset, (long) (n / 32) * BLOCK);
        short[] out = dec.q;
        for (int b = 0; b < n / 32; b++) {
            long o = (long) b * BLOCK;
            float d = Float.float16ToFloat(row.get(SHORT_LE, o));
            dec.d[b] = d;
            for (int p = 0; p < PARTS; p++) {
                ByteVector q = ByteVector.fromMemorySegment(BQ, row, o + 2 + p * L, LE);
                ByteVector i0 = q.and(LOW_NIBBLE_Q);
                ByteVector i16 = q.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).and(HIGH_NIBBLE_MASK).reinterpretAsBytes();
                // the grid shuffle needs 16 index lanes (a step has only 8 at 128 bits)
                ShortVector w0 = (ShortVector) ((ByteVector) i0.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                        .convertShape(VectorOperators.B2S, S, 0);
                ShortVector w16 = (ShortVector) ((ByteVector) i16.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                        .convertShape(VectorOperators.B2S, S, 0);
                w0.intoArray(out, 32 * b + p * L);
                w16.intoArray(out, 32 * b + 16 + p * L);
            }
        }
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        int nb = n / 32;
        short[] xq = x.q8_0Wide();
        float[] xs = x.q8_0Scale();
        int xo = token * n;
        int so = token * nb;
        MemorySegment row = w.asSlice(rowOffset, (long) nb * BLOCK);
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            long o = (long) b * BLOCK;
            float d = Float.float16ToFloat(row.get(SHORT_LE, o));
            IntVector sum = IntVector.zero(I);
            for (int p = 0; p < PARTS; p++) {
                ByteVector q = ByteVector.fromMemorySegment(BQ, row, o + 2 + p * L, LE);
                ByteVector i0 = q.and(LOW_NIBBLE_Q);
                ByteVector i16 = q.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).and(HIGH_NIBBLE_MASK).reinterpretAsBytes();
                // the grid shuffle needs 16 index lanes (a step has only 8 at 128 bits)
                ShortVector w0 = (ShortVector) ((ByteVector) i0.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                        .convertShape(VectorOperators.B2S, S, 0);
                ShortVector w16 = (ShortVector) ((ByteVector) i16.reinterpretShape(B16, 0)).selectFrom(IQ4_VALUES)
                        .convertShape(VectorOperators.B2S, S, 0);
                int xi = xo + 32 * b + p * L;
                ShortVector prod = w0.mul(ShortVector.fromArray(S, xq, xi)).add(w16.mul(ShortVector.fromArray(S, xq, xi + 16)));
                IntVector pi = prod.reinterpretAsInts();
                sum = sum.add(pi.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(pi.lanewise(VectorOperators.ASHR, 16)));
            }
            acc = ((FloatVector) sum.convertShape(VectorOperators.I2F, Int8Dot.F, 0)).fma(FloatVector.broadcast(F, d * xs[so + b]), acc);
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
        Int8Dot.dotDecoded(dec, n, x, token0, tokens, false, false, out, outOffset, outStride);
    }
}
