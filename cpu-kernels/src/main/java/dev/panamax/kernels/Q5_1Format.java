package dev.panamax.kernels;

import static dev.panamax.kernels.Int8Dot.B16;
import static dev.panamax.kernels.Int8Dot.F;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
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
            FloatVector d = FloatVector.broadcast(F, QuantMath.fp16(src, o));
            FloatVector m = FloatVector.broadcast(F, QuantMath.fp16(src, o + 2));
            int qh = QuantMath.u32(src, o + 4);
            ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 8, ByteOrder.LITTLE_ENDIAN);
            Dequant.store(Int8Dot.low(q).or(Int8Dot.fifthBits(qh)), d, m, dst, dstOffset + 32 * b);
            Dequant.store(Int8Dot.high(q).or(Int8Dot.fifthBits(qh >>> 16)), d, m, dst, dstOffset + 32 * b + 16);
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

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        int nb = n / 32;
        byte[] xq = x.q8_0();
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
            ByteVector w0 = Int8Dot.low(q).or(Int8Dot.fifthBits(qh));
            ByteVector w16 = Int8Dot.high(q).or(Int8Dot.fifthBits(qh >>> 16));
            acc = Int8Dot.fma(Int8Dot.block(w0, w16, xq, xo + 32 * b), d * xs[so + b], acc);
            ms += m * xs[so + b] * xsum[so + b];
        }
        return acc.reduceLanes(VectorOperators.ADD) + ms;
    }

    @Override
    public void dotTokens(MemorySegment w, long rowOffset, Activations x, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        int n = x.dim();
        int nb = n / 32;
        byte[] xq = x.q8_0();
        float[] xs = x.q8_0Scale();
        int[] xsum = x.q8_0Sum();
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
            float m0 = 0;
            float m1 = 0;
            float m2 = 0;
            float m3 = 0;
            long o = rowOffset;
            for (int b = 0; b < nb; b++, o += BLOCK) {
                float d = QuantMath.fp16(w, o);
                float m = QuantMath.fp16(w, o + 2);
                int qh = QuantMath.u32(w, o + 4);
                ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 8, ByteOrder.LITTLE_ENDIAN);
                ByteVector w0 = Int8Dot.low(q).or(Int8Dot.fifthBits(qh));
                ByteVector w16 = Int8Dot.high(q).or(Int8Dot.fifthBits(qh >>> 16));
                a0 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t0 * n + 32 * b), d * xs[t0 * nb + b], a0);
                m0 += m * xs[t0 * nb + b] * xsum[t0 * nb + b];
                a1 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t1 * n + 32 * b), d * xs[t1 * nb + b], a1);
                m1 += m * xs[t1 * nb + b] * xsum[t1 * nb + b];
                a2 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t2 * n + 32 * b), d * xs[t2 * nb + b], a2);
                m2 += m * xs[t2 * nb + b] * xsum[t2 * nb + b];
                a3 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t3 * n + 32 * b), d * xs[t3 * nb + b], a3);
                m3 += m * xs[t3 * nb + b] * xsum[t3 * nb + b];
            }
            Int8Dot.store4(a0, a1, a2, a3, m0, m1, m2, m3, tn, out, outOffset + t * outStride, outStride);
        }
    }
}
