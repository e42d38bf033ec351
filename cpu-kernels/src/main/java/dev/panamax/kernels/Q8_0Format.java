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

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        int nb = n / 32;
        byte[] xq = x.q8_0();
        float[] xs = x.q8_0Scale();
        int xo = token * n;
        int so = token * nb;
        FloatVector acc = FloatVector.zero(F);
        long o = rowOffset;
        for (int b = 0; b < nb; b++, o += BLOCK) {
            float d = QuantMath.fp16(w, o);
            ByteVector w0 = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
            ByteVector w16 = ByteVector.fromMemorySegment(B16, w, o + 18, ByteOrder.LITTLE_ENDIAN);
            acc = Int8Dot.fma(Int8Dot.block(w0, w16, xq, xo + 32 * b), d * xs[so + b], acc);
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    @Override
    public void dotTokens(MemorySegment w, long rowOffset, Activations x, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        int n = x.dim();
        int nb = n / 32;
        byte[] xq = x.q8_0();
        float[] xs = x.q8_0Scale();
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
                ByteVector w0 = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
                ByteVector w16 = ByteVector.fromMemorySegment(B16, w, o + 18, ByteOrder.LITTLE_ENDIAN);
                a0 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t0 * n + 32 * b), d * xs[t0 * nb + b], a0);
                a1 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t1 * n + 32 * b), d * xs[t1 * nb + b], a1);
                a2 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t2 * n + 32 * b), d * xs[t2 * nb + b], a2);
                a3 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t3 * n + 32 * b), d * xs[t3 * nb + b], a3);
            }
            Int8Dot.store4(a0, a1, a2, a3, 0, 0, 0, 0, tn, out, outOffset + t * outStride, outStride);
        }
    }
}
