package dev.panamax.kernels;

import static dev.panamax.kernels.Int8Dot.B16;
import static dev.panamax.kernels.Int8Dot.F;

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
 * Q5_1: blocks of 32 with fp16 scale d and minimum m, 32 high bits and 16 nibble bytes
 * (24 bytes): x = d * q + m, q = low 4 bits | high bit << 4. The dot products fold m through the
 * activation block sums, as Q4_1 does.
 */
final class Q5_1Format implements QuantFormat {
    private static final int BLOCK = 24;

    @Override
    public GgmlType type() {
        return GgmlType.Q5_1;
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
            int qh = QuantMath.u32(src, o + 4);
            for (int j = 0; j < 16; j++) {
                int q = QuantMath.u8(src, o + 8 + j);
                int q0 = (q & 0xF) | ((qh >>> j) & 1) << 4;
                int q1 = (q >> 4) | ((qh >>> (j + 16)) & 1) << 4;
                dst[dstOffset + 32 * b + j] = q0 * d + m;
                dst[dstOffset + 32 * b + j + 16] = q1 * d + m;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            float d = QuantMath.fp16(src, o);
            float m = QuantMath.fp16(src, o + 2);
            int qh = QuantMath.u32(src, o + 4);
            int y = dstOffset + 32 * b;
            for (int j = 0; j < 16; j++) {
                int q = QuantMath.u8(src, o + 8 + j);
                dst[y + j] = ((q & 0xF) | ((qh >>> j) & 1) << 4) * d + m;
                dst[y + j + 16] = ((q >> 4) | ((qh >>> (j + 16)) & 1) << 4) * d + m;
            }
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
            float d = (max - min) / 31;
            float id = d != 0 ? 1f / d : 0f;
            QuantMath.putFp16(dst, o, d);
            QuantMath.putFp16(dst, o + 2, min);
            int qh = 0;
            for (int j = 0; j < 16; j++) {
                float x0 = (src[xo + j] - min) * id;
                float x1 = (src[xo + 16 + j] - min) * id;
                int q0 = (int) (x0 + 0.5f) & 0xFF;
                int q1 = (int) (x1 + 0.5f) & 0xFF;
                dst.set(ValueLayout.JAVA_BYTE, o + 8 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
                qh |= ((q0 & 0x10) >> 4) << j;
                qh |= ((q1 & 0x10) >> 4) << (j + 16);
            }
            dst.set(QuantMath.INT_LE, o + 4, qh);
        }
    }

    /** One 16-lane half of a block's int16 weights: values p*L.. (or 16+p*L.. when high). */
    private static ShortVector half(ByteVector q, int qh, int p, boolean high) {
        ShortVector s = Int8Dot.widenUnsigned(q, p);
        return high ? Int8Dot.high(s).or(Int8Dot.fifth(qh >>> 16, p)) : Int8Dot.low(s).or(Int8Dot.fifth(qh, p));
    }

    /** Int lanes of one block's dot product with x[xo ..]. */
    private static IntVector blockDot(ByteVector q, int qh, short[] x, int xo) {
        IntVector acc = Int8Dot.dot(half(q, qh, 0, false), half(q, qh, 0, true), x, xo);
        for (int p = 1; p < Int8Dot.PARTS; p++) {
            acc = acc.add(Int8Dot.dot(half(q, qh, p, false), half(q, qh, p, true), x, xo + p * Int8Dot.L));
        }
        return acc;
    }

    /** Decodes a row into int16 weights and per-block scales (see {@link Int8Dot.Decoded}). */
    private static void decodeRow(MemorySegment w, long rowOffset, int n, Int8Dot.Decoded dec) {
        long o = rowOffset;
        for (int b = 0; b < n / 32; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            float m = QuantMath.fp16(w, o + 2);
            int qh = QuantMath.u32(w, o + 4);
            ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 8, ByteOrder.LITTLE_ENDIAN);
            dec.d[b] = d;
            dec.m[b] = m;
            for (int p = 0; p < Int8Dot.PARTS; p++) {
                half(q, qh, p, false).intoArray(dec.q, 32 * b + p * Int8Dot.L);
                half(q, qh, p, true).intoArray(dec.q, 32 * b + 16 + p * Int8Dot.L);
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
        FloatVector acc = FloatVector.zero(F);
        float ms = 0;
        long o = rowOffset;
        for (int b = 0; b < nb; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            float m = QuantMath.fp16(w, o + 2);
            int qh = QuantMath.u32(w, o + 4);
            ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 8, ByteOrder.LITTLE_ENDIAN);
            acc = Int8Dot.fma(blockDot(q, qh, xq, xo + 32 * b), d * xs[so + b], acc);
            ms += m * xs[so + b] * xsum[so + b];
        }
        return acc.reduceLanes(VectorOperators.ADD) + ms;
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
