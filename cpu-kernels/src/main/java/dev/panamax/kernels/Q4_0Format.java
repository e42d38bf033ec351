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
 * Q4_0: blocks of 32 with an fp16 scale and 16 nibble bytes (18 bytes): x = d * (q - 8); byte j
 * holds value j in its low nibble and value j+16 in its high nibble.
 */
final class Q4_0Format implements QuantFormat {
    private static final int BLOCK = 18;

    @Override
    public GgmlType type() {
        return GgmlType.Q4_0;
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
                dst[dstOffset + 32 * b + j] = ((q & 0xF) - 8) * d;
                dst[dstOffset + 32 * b + j + 16] = ((q >> 4) - 8) * d;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            FloatVector d = FloatVector.broadcast(F, QuantMath.fp16(src, o));
            ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 2, ByteOrder.LITTLE_ENDIAN);
            Dequant.store(Int8Dot.lowNibbles(q).sub((byte) 8), d, dst, dstOffset + 32 * b);
            Dequant.store(Int8Dot.highNibbles(q).sub((byte) 8), d, dst, dstOffset + 32 * b + 16);
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
            float d = max / -8;
            float id = d != 0 ? 1f / d : 0f;
            QuantMath.putFp16(dst, o, d);
            for (int j = 0; j < 16; j++) {
                float x0 = src[xo + j] * id;
                float x1 = src[xo + 16 + j] * id;
                int q0 = Math.min(15, (int) (x0 + 8.5f));
                int q1 = Math.min(15, (int) (x1 + 8.5f));
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) (q0 | q1 << 4));
            }
        }
    }

    /** One 16-lane half of a block's int16 weights: values p*L.. (or 16+p*L.. when high). */
    private static ShortVector half(ByteVector q, int p, boolean high) {
        ShortVector s = Int8Dot.widenUnsigned(q, p);
        return (high ? Int8Dot.high(s) : Int8Dot.low(s)).sub(Int8Dot.EIGHT);
    }

    /** Int lanes of one block's dot product with x[xo ..]. */
    private static IntVector blockDot(ByteVector q, short[] x, int xo) {
        IntVector acc = Int8Dot.dot(half(q, 0, false), half(q, 0, true), x, xo);
        for (int p = 1; p < Int8Dot.PARTS; p++) {
            acc = acc.add(Int8Dot.dot(half(q, p, false), half(q, p, true), x, xo + p * Int8Dot.L));
        }
        return acc;
    }

    /** Decodes a row into int16 weights and per-block scales (see {@link Int8Dot.Decoded}). */
    private static void decodeRow(MemorySegment w, long rowOffset, int n, Int8Dot.Decoded dec) {
        long o = rowOffset;
        for (int b = 0; b < n / 32; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
            dec.d[b] = d;
            for (int p = 0; p < Int8Dot.PARTS; p++) {
                half(q, p, false).intoArray(dec.q, 32 * b + p * Int8Dot.L);
                half(q, p, true).intoArray(dec.q, 32 * b + 16 + p * Int8Dot.L);
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
            ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
            acc = Int8Dot.fma(blockDot(q, xq, xo + 32 * b), d * xs[so + b], acc);
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
