package dev.panamax.kernels;

import static dev.panamax.kernels.Int8Dot.B16;
import static dev.panamax.kernels.Int8Dot.BQ;
import static dev.panamax.kernels.Int8Dot.F;
import static dev.panamax.kernels.Int8Dot.FIFTEEN;
import static dev.panamax.kernels.Int8Dot.I;
import static dev.panamax.kernels.Int8Dot.L;
import static dev.panamax.kernels.Int8Dot.LE;
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
 * Q4_1: blocks of 32 with fp16 scale d and minimum m and 16 nibble bytes (20 bytes):
 * x = d * q + m. The dot products fold m into one scalar term per block through the activation
 * block sums: sum(m * dx * xq) = m * dx * sum(xq).
 */
final class Q4_1Format implements QuantFormat {
    private static final int BLOCK = 20;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_1;
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
            float m = QuantMath.fp16(src, o + 2);
            for (int j = 0; j < 16; j++) {
                int q = QuantMath.u8(src, o + 4 + j);
                dst[dstOffset + 32 * b + j] = (q & 0xF) * d + m;
                dst[dstOffset + 32 * b + j + 16] = (q >> 4) * d + m;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            FloatVector d = FloatVector.broadcast(VectorShapes.F32, QuantMath.fp16(src, o));
            FloatVector m = FloatVector.broadcast(VectorShapes.F32, QuantMath.fp16(src, o + 2));
            ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 4, ByteOrder.LITTLE_ENDIAN);
            Dequant.store(Dequant.lowNibbles(q), d, m, dst, dstOffset + 32 * b);
            Dequant.store(Dequant.highNibbles(q), d, m, dst, dstOffset + 32 * b + 16);
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            int xo = srcOffset + 32 * b;
            long o = dstOffset + (long) b * BLOCK;
            float min = Float.MAX_VALUE;
            float max = -Float.MAX_VALUE;
            for (int j = 0; j < 32; j++) {
                float v = src[xo + j];
                if (v < min) {
                    min = v;
                }
                if (v > max) {
                    max = v;
                }
            }
            float d = (max - min) / 15;
            float id = d != 0 ? 1f / d : 0f;
            QuantMath.putFp16(dst, o, d);
            QuantMath.putFp16(dst, o + 2, min);
            for (int j = 0; j < 16; j++) {
                float x0 = (src[xo + j] - min) * id;
                float x1 = (src[xo + 16 + j] - min) * id;
                int q0 = Math.min(15, (int) (x0 + 0.5f));
                int q1 = Math.min(15, (int) (x1 + 0.5f));
                dst.set(ValueLayout.JAVA_BYTE, o + 4 + j, (byte) (q0 | q1 << 4));
            }
        }
    }

    /** Decodes a row into int16 weights and per-block scales (see {@link Int8Dot.Decoded}). */
    private static void decodeRow(MemorySegment w, long rowOffset, int n, Int8Dot.Decoded dec) {
        MemorySegment row = w.asSlice(rowOffset, (long) (n / 32) * BLOCK);
        short[] out = dec.q;
        for (int b = 0; b < n / 32; b++) {
            long o = (long) b * BLOCK;
            float d = Float.float16ToFloat(row.get(SHORT_LE, o));
            float m = Float.float16ToFloat(row.get(SHORT_LE, o + 2));
            dec.d[b] = d;
            dec.m[b] = m;
            for (int p = 0; p < PARTS; p++) {
                ShortVector s = (ShortVector) ByteVector.fromMemorySegment(BQ, row, o + 4 + p * L, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                ShortVector w0 = s.and(FIFTEEN);
                ShortVector w16 = s.lanewise(VectorOperators.ASHR, 4);
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
        int[] xsum = x.q8_0Sum();
        int xo = token * n;
        int so = token * nb;
        MemorySegment row = w.asSlice(rowOffset, (long) nb * BLOCK);
        FloatVector acc = FloatVector.zero(F);
        float ms = 0;
        for (int b = 0; b < nb; b++) {
            long o = (long) b * BLOCK;
            float d = Float.float16ToFloat(row.get(SHORT_LE, o));
            float m = Float.float16ToFloat(row.get(SHORT_LE, o + 2));
            IntVector sum = IntVector.zero(I);
            for (int p = 0; p < PARTS; p++) {
                ShortVector s = (ShortVector) ByteVector.fromMemorySegment(BQ, row, o + 4 + p * L, LE)
                        .convertShape(VectorOperators.ZERO_EXTEND_B2S, S, 0);
                ShortVector w0 = s.and(FIFTEEN);
                ShortVector w16 = s.lanewise(VectorOperators.ASHR, 4);
                int xi = xo + 32 * b + p * L;
                ShortVector prod = w0.mul(ShortVector.fromArray(S, xq, xi)).add(w16.mul(ShortVector.fromArray(S, xq, xi + 16)));
                IntVector pi = prod.reinterpretAsInts();
                sum = sum.add(pi.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(pi.lanewise(VectorOperators.ASHR, 16)));
            }
            acc = ((FloatVector) sum.convertShape(VectorOperators.I2F, Int8Dot.F, 0)).fma(FloatVector.broadcast(F, d * xs[so + b]), acc);
            ms += m * xs[so + b] * xsum[so + b];
        }
        // the lane sum in place (see Int8Dot.FOLD4)
        if (Int8Dot.F8) {
            acc = acc.add(acc.rearrange(Int8Dot.FOLD4));
        }
        acc = acc.add(acc.rearrange(Int8Dot.FOLD2));
        return acc.add(acc.rearrange(Int8Dot.FOLD1)).lane(0) + ms;
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
        Int8Dot.dotDecoded(dec, n, x, token0, tokens, false, true, out, outOffset, outStride);
    }
}
