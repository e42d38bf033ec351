package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;
import static dev.panamax.kernels.VectorShapes.I32;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * bfloat16: the upper half of a float32. The vector paths widen the weights with the Vector API
 * (short to int, shift left 16, reinterpret as float) and multiply-add against the float
 * activations.
 */
final class BF16Format implements QuantFormat {
    /** The bf16 values that widen into one F32 vector. */
    private static final VectorSpecies<Short> HALF = VectorSpecies.of(short.class,
            VectorShape.forBitSize(Math.max(64, F32.vectorBitSize() / 2)));

    private static FloatVector widen(MemorySegment w, long offset) {
        ShortVector h = ShortVector.fromMemorySegment(HALF, w, offset, ByteOrder.LITTLE_ENDIAN);
        return ((IntVector) h.convertShape(VectorOperators.S2I, I32, 0)).lanewise(VectorOperators.LSHL, 16).reinterpretAsFloats();
    }

    private static float scalar(MemorySegment w, long offset) {
        return QuantMath.bf16ToFloat(w.get(QuantMath.SHORT_LE, offset));
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
            dst[dstOffset + i] = scalar(src, srcOffset + 2L * i);
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        int i = 0;
        for (; i + F32.length() <= count; i += F32.length()) {
            widen(src, srcOffset + 2L * i).intoArray(dst, dstOffset + i);
        }
        for (; i < count; i++) {
            dst[dstOffset + i] = scalar(src, srcOffset + 2L * i);
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
        MemorySegment row = w.asSlice(rowOffset, 2L * n);
        float[] a = x.f32();
        int base = token * n;
        int lanes = F32.length();
        FloatVector acc0 = FloatVector.zero(F32);
        FloatVector acc1 = acc0;
        int i = 0;
        for (; i + 2 * lanes <= n; i += 2 * lanes) {
            acc0 = widen(row, 2L * i).fma(FloatVector.fromArray(F32, a, base + i), acc0);
            acc1 = widen(row, 2L * (i + lanes)).fma(FloatVector.fromArray(F32, a, base + i + lanes), acc1);
        }
        float sum = FloatLanes.sum(acc0.add(acc1));
        for (; i < n; i++) {
            sum += scalar(row, 2L * i) * a[base + i];
        }
        return sum;
    }

    @Override
    public void dotTokens(MemorySegment w, long rowOffset, Activations x, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        int n = x.dim();
        MemorySegment row = w.asSlice(rowOffset, 2L * n);
        float[] a = x.f32();
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
            int i = 0;
            for (; i + lanes <= n; i += lanes) {
                FloatVector wv = widen(row, 2L * i);
                a0 = wv.fma(FloatVector.fromArray(F32, a, b0 + i), a0);
                a1 = wv.fma(FloatVector.fromArray(F32, a, b1 + i), a1);
                a2 = wv.fma(FloatVector.fromArray(F32, a, b2 + i), a2);
                a3 = wv.fma(FloatVector.fromArray(F32, a, b3 + i), a3);
            }
            float e0 = 0;
            float e1 = 0;
            float e2 = 0;
            float e3 = 0;
            for (; i < n; i++) {
                float wi = scalar(row, 2L * i);
                e0 += wi * a[b0 + i];
                e1 += wi * a[b1 + i];
                e2 += wi * a[b2 + i];
                e3 += wi * a[b3 + i];
            }
            Int8Dot.store(FloatLanes.sum(a0) + e0, FloatLanes.sum(a1) + e1,
                    FloatLanes.sum(a2) + e2, FloatLanes.sum(a3) + e3, tn, out,
                    outOffset + t * outStride, outStride);
        }
    }
}
