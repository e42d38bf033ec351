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

/** Q8_0: blocks of 32 int8 with an fp16 scale (34 bytes): x = d * q. */
final class Q8_0Format implements QuantFormat {
    private static final int BLOCK = 34;

    @Override
    public GgmlType type() {
        return GgmlType.Q8_0;
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
            for (int j = 0; j < 32; j++) {
                dst[dstOffset + 32 * b + j] = src.get(ValueLayout.JAVA_BYTE, o + 2 + j) * d;
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            FloatVector d = FloatVector.broadcast(F, QuantMath.fp16(src, o));
            for (int h = 0; h < 2; h++) {
                ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 2 + 16 * h, ByteOrder.LITTLE_ENDIAN);
                Dequant.store(q, d, dst, dstOffset + 32 * b + 16 * h);
            }
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            int xo = srcOffset + 32 * b;
            long o = dstOffset + (long) b * BLOCK;
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(src[xo + j]));
            }
            float d = amax / 127;
            float id = d != 0 ? 1f / d : 0f;
            QuantMath.putFp16(dst, o, d);
            for (int j = 0; j < 32; j++) {
                dst.set(ValueLayout.JAVA_BYTE, o + 2 + j, (byte) QuantMath.roundf(src[xo + j] * id));
            }
        }
    }

    /** One 16-lane half of a block's int16 weights: values p*L.. (or 16+p*L.. when high). */
    private static ShortVector half(ByteVector w0, ByteVector w16, int p, boolean high) {
        return Int8Dot.widen(high ? w16 : w0, p);
    }

    /** Int lanes of one block's dot product with x[xo ..]. */
    private static IntVector blockDot(ByteVector w0, ByteVector w16, short[] x, int xo) {
        IntVector acc = Int8Dot.dot(half(w0, w16, 0, false), half(w0, w16, 0, true), x, xo);
        for (int p = 1; p < Int8Dot.PARTS; p++) {
            acc = acc.add(Int8Dot.dot(half(w0, w16, p, false), half(w0, w16, p, true), x, xo + p * Int8Dot.L));
        }
        return acc;
    }

    /** Decodes a row into int16 weights and per-block scales (see {@link Int8Dot.Decoded}). */
    private static void decodeRow(MemorySegment w, long rowOffset, int n, Int8Dot.Decoded dec) {
        long o = rowOffset;
        for (int b = 0; b < n / 32; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            ByteVector w0 = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
            ByteVector w16 = ByteVector.fromMemorySegment(B16, w, o + 18, ByteOrder.LITTLE_ENDIAN);
            dec.d[b] = d;
            for (int p = 0; p < Int8Dot.PARTS; p++) {
                half(w0, w16, p, false).intoArray(dec.q, 32 * b + p * Int8Dot.L);
                half(w0, w16, p, true).intoArray(dec.q, 32 * b + 16 + p * Int8Dot.L);
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
            ByteVector w0 = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
            ByteVector w16 = ByteVector.fromMemorySegment(B16, w, o + 18, ByteOrder.LITTLE_ENDIAN);
            acc = Int8Dot.fma(blockDot(w0, w16, xq, xo + 32 * b), d * xs[so + b], acc);
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
