package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/**
 * IEEE half precision. The Vector API has no half-float conversion, so the fast paths convert a
 * chunk of weights at a time with {@link Float#float16ToFloat} in a plain loop, which C2
 * auto-vectorizes (vcvtph2ps on x86 with F16C), then multiply-add against the float activations
 * with the Vector API. Measured faster than converting with integer lane operations.
 */
final class F16Format implements QuantFormat {
    private static final int CHUNK = 512;
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[CHUNK]);

    @Override
    public GgmlType type() {
        return GgmlType.F16;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.F32;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = QuantMath.fp16(src, srcOffset + 2L * i);
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        convert(src, srcOffset, dst, dstOffset, count);
    }

    /** dst[o + i] = half i at byte {@code offset} of {@code w}; a loop C2 vectorizes. */
    private static void convert(MemorySegment w, long offset, float[] dst, int o, int len) {
        for (int i = 0; i < len; i++) {
            dst[o + i] = Float.float16ToFloat(w.get(QuantMath.SHORT_LE, offset + 2L * i));
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int i = 0; i < count; i++) {
            QuantMath.putFp16(dst, dstOffset + 2L * i, src[srcOffset + i]);
        }
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        MemorySegment row = w.asSlice(rowOffset, 2L * n);
        float[] a = x.f32();
        int base = token * n;
        float[] f = SCRATCH.get();
        int lanes = F32.length();
        FloatVector acc0 = FloatVector.zero(F32);
        FloatVector acc1 = acc0;
        FloatVector acc2 = acc0;
        FloatVector acc3 = acc0;
        float tail = 0;
        for (int c = 0; c < n; c += CHUNK) {
            int len = Math.min(CHUNK, n - c);
            convert(row, 2L * c, f, 0, len);
            int ao = base + c;
            int i = 0;
            for (; i + 4 * lanes <= len; i += 4 * lanes) {
                acc0 = FloatVector.fromArray(F32, f, i).fma(FloatVector.fromArray(F32, a, ao + i), acc0);
                acc1 = FloatVector.fromArray(F32, f, i + lanes).fma(FloatVector.fromArray(F32, a, ao + i + lanes), acc1);
                acc2 = FloatVector.fromArray(F32, f, i + 2 * lanes).fma(FloatVector.fromArray(F32, a, ao + i + 2 * lanes), acc2);
                acc3 = FloatVector.fromArray(F32, f, i + 3 * lanes).fma(FloatVector.fromArray(F32, a, ao + i + 3 * lanes), acc3);
            }
            for (; i < len; i++) {
                tail += f[i] * a[ao + i];
            }
        }
        return FloatLanes.sum(acc0.add(acc1).add(acc2.add(acc3))) + tail;
    }

    @Override
    public void dotTokens(MemorySegment w, long rowOffset, Activations x, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        int n = x.dim();
        MemorySegment row = w.asSlice(rowOffset, 2L * n);
        float[] a = x.f32();
        float[] f = SCRATCH.get();
        int lanes = F32.length();
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
                convert(row, 2L * c, f, 0, len);
                int i = 0;
                for (; i + lanes <= len; i += lanes) {
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
            Int8Dot.store(FloatLanes.sum(a0) + e0, FloatLanes.sum(a1) + e1,
                    FloatLanes.sum(a2) + e2, FloatLanes.sum(a3) + e3, tn, out,
                    outOffset + t * outStride, outStride);
        }
    }
}
