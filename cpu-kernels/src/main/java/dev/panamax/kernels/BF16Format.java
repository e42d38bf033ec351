package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * bfloat16: the upper half of a float32. The dot products widen the weights with the Vector API
 * (short to int, shift left 16, reinterpret as float) and multiply-add against the float
 * activations.
 */
final class BF16Format implements QuantFormat {
    private static final int CHUNK = 512;
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final class Scratch {
        final short[] halfs = new short[CHUNK];
        final float[] floats = new float[CHUNK];
    }

    @Override
    public GgmlType type() {
        return GgmlType.BF16;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.F32;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = QuantMath.bf16ToFloat(src.get(QuantMath.SHORT_LE, srcOffset + 2L * i));
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        short[] h = SCRATCH.get().halfs;
        for (int c = 0; c < count; c += CHUNK) {
            int len = Math.min(CHUNK, count - c);
            MemorySegment.copy(src, QuantMath.SHORT_LE, srcOffset + 2L * c, h, 0, len);
            convert(h, dst, dstOffset + c, len);
        }
    }

    private static void convert(short[] h, float[] dst, int o, int len) {
        for (int i = 0; i < len; i++) {
            dst[o + i] = Float.intBitsToFloat(h[i] << 16);
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int i = 0; i < count; i++) {
            dst.set(QuantMath.SHORT_LE, dstOffset + 2L * i, QuantMath.floatToBf16(src[srcOffset + i]));
        }
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        float[] a = x.f32();
        int base = token * n;
        Scratch s = SCRATCH.get();
        FloatVector acc = FloatVector.zero(F32);
        float tail = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int len = Math.min(CHUNK, n - c);
            MemorySegment.copy(w, QuantMath.SHORT_LE, rowOffset + 2L * c, s.halfs, 0, len);
            convert(s.halfs, s.floats, 0, len);
            float[] f = s.floats;
            int bound = F32.loopBound(len);
            int i = 0;
            for (; i < bound; i += F32.length()) {
                acc = FloatVector.fromArray(F32, f, i).fma(FloatVector.fromArray(F32, a, base + c + i), acc);
            }
            for (; i < len; i++) {
                tail += f[i] * a[base + c + i];
            }
        }
        return acc.reduceLanes(VectorOperators.ADD) + tail;
    }

    @Override
    public void dotTokens(MemorySegment w, long rowOffset, Activations x, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        int n = x.dim();
        float[] a = x.f32();
        Scratch s = SCRATCH.get();
        for (int t = 0; t < tokens; t += 4) {
            int tn = Math.min(4, tokens - t);
            if (tn == 1) {
                out[outOffset + t * outStride] = dot(w, rowOffset, x, token0 + t);
                continue;
            }
            int b0 = (token0 + t) * n;
            int b1 = b0 + n;
            int b2 = b0 + Math.min(2, tn - 1) * n;
            int b3 = b0 + Math.min(3, tn - 1) * n;
            FloatVector a0 = FloatVector.zero(F32);
            FloatVector a1 = a0;
            FloatVector a2 = a0;
            FloatVector a3 = a0;
            float e0 = 0;
            float e1 = 0;
            float e2 = 0;
            float e3 = 0;
            for (int c = 0; c < n; c += CHUNK) {
                int len = Math.min(CHUNK, n - c);
                MemorySegment.copy(w, QuantMath.SHORT_LE, rowOffset + 2L * c, s.halfs, 0, len);
                convert(s.halfs, s.floats, 0, len);
                float[] f = s.floats;
                int bound = F32.loopBound(len);
                int i = 0;
                for (; i < bound; i += F32.length()) {
                    FloatVector wv = FloatVector.fromArray(F32, f, i);
                    a0 = wv.fma(FloatVector.fromArray(F32, a, b0 + c + i), a0);
                    a1 = wv.fma(FloatVector.fromArray(F32, a, b1 + c + i), a1);
                    a2 = wv.fma(FloatVector.fromArray(F32, a, b2 + c + i), a2);
                    a3 = wv.fma(FloatVector.fromArray(F32, a, b3 + c + i), a3);
                }
                for (; i < len; i++) {
                    e0 += f[i] * a[b0 + c + i];
                    e1 += f[i] * a[b1 + c + i];
                    e2 += f[i] * a[b2 + c + i];
                    e3 += f[i] * a[b3 + c + i];
                }
            }
            Int8Dot.store4(a0, a1, a2, a3, e0, e1, e2, e3, tn, out, outOffset + t * outStride, outStride);
        }
    }
}
