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
 * Q5_0: blocks of 32 with an fp16 scale, 32 high bits (u32, bit j for value j) and 16 nibble
 * bytes (22 bytes): x = d * (q - 16), q = low 4 bits | high bit << 4.
 */
final class Q5_0Format implements QuantFormat {
    private static final int BLOCK = 22;

    @Override
    public GgmlType type() {
        return GgmlType.Q5_0;
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
            int qh = QuantMath.u32(src, o + 2);
            for (int j = 0; j < 16; j++) {
                int q = QuantMath.u8(src, o + 6 + j);
                int q0 = (q & 0xF) | ((qh >>> j) & 1) << 4;
                int q1 = (q >> 4) | ((qh >>> (j + 16)) & 1) << 4;
                dst[dstOffset + 32 * b + j] = (q0 - 16) * d;
                dst[dstOffset + 32 * b + j + 16] = (q1 - 16) * d;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            float d = QuantMath.fp16(src, o);
            int qh = QuantMath.u32(src, o + 2);
            int y = dstOffset + 32 * b;
            for (int j = 0; j < 16; j++) {
                int q = QuantMath.u8(src, o + 6 + j);
                dst[y + j] = (((q & 0xF) | ((qh >>> j) & 1) << 4) - 16) * d;
                dst[y + j + 16] = (((q >> 4) | ((qh >>> (j + 16)) & 1) << 4) - 16) * d;
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            int xo = srcOffset + 32 * b;
            long o = dstOffset + (long) b * BLOCK;
            float amax = 0;
            float max = 0;
            for (int j = 0; j < 32; j++) {
                float v = src[xo + j];
                if (amax < Math.abs(v)) {
                    amax = Math.abs(v);
                    max = v;
                }
            }
            float d = max / -16;
            float id = d != 0 ? 1f / d : 0f;
            QuantMath.putFp16(dst, o, d);
            int qh = 0;
            for (int j = 0; j < 16; j++) {
                float x0 = src[xo + j] * id;
                float x1 = src[xo + 16 + j] * id;
                int q0 = Math.min(31, (int) (x0 + 16.5f));
                int q1 = Math.min(31, (int) (x1 + 16.5f));
                dst.set(ValueLayout.JAVA_BYTE, o + 6 + j, (byte) ((q0 & 0xF) | (q1 & 0xF) << 4));
                qh |= ((q0 & 0x10) >> 4) << j;
                qh |= ((q1 & 0x10) >> 4) << (j + 16);
            }
            dst.set(QuantMath.INT_LE, o + 2, qh);
        }
    }

    /** One 16-lane half of a block's int16 weights: values p*L.. (or 16+p*L.. when high). */
    private static ShortVector half(ByteVector q, int qh, int p, boolean high) {
        ShortVector s = Int8Dot.widenUnsigned(q, p);
        ShortVector v = high ? Int8Dot.high(s).or(Int8Dot.fifth(qh >>> 16, p)) : Int8Dot.low(s).or(Int8Dot.fifth(qh, p));
        return v.sub(Int8Dot.SIXTEEN);
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
            int qh = QuantMath.u32(w, o + 2);
            ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 6, ByteOrder.LITTLE_ENDIAN);
            dec.d[b] = d;
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
        int xo = token * n;
        int so = token * nb;
        FloatVector acc = FloatVector.zero(F);
        long o = rowOffset;
        for (int b = 0; b < nb; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            int qh = QuantMath.u32(w, o + 2);
            ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 6, ByteOrder.LITTLE_ENDIAN);
            acc = Int8Dot.fma(blockDot(q, qh, xq, xo + 32 * b), d * xs[so + b], acc);
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
        Int8Dot.dotDecoded(dec, n, x, token0, tokens, false, false, out, outOffset, outStride);
    }
}
