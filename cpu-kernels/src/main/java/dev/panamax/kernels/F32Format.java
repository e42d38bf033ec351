package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;

/** Plain little-endian float32. */
final class F32Format implements QuantFormat {
    private static final ValueLayout.OfFloat LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    @Override
    public GgmlType type() {
        return GgmlType.F32;
    }

    @Override
    public ActivationType activationType() {
        return ActivationType.F32;
    }

    @Override
    public void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int i = 0; i < count; i++) {
            dst[dstOffset + i] = src.get(LE, srcOffset + 4L * i);
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        MemorySegment.copy(src, LE, srcOffset, dst, dstOffset, count);
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        MemorySegment.copy(src, srcOffset, dst, LE, dstOffset, count);
    }

    @Override
    public float dot(MemorySegment w, long rowOffset, Activations x, int token) {
        int n = x.dim();
        float[] a = x.f32();
        int base = token * n;
        FloatVector acc = FloatVector.zero(F32);
        int i = 0;
        int bound = F32.loopBound(n);
        for (; i < bound; i += F32.length()) {
            FloatVector wv = FloatVector.fromMemorySegment(F32, w, rowOffset + 4L * i, ByteOrder.LITTLE_ENDIAN);
            acc = wv.fma(FloatVector.fromArray(F32, a, base + i), acc);
        }
        float sum = FloatLanes.sum(acc);
        for (; i < n; i++) {
            sum += w.get(LE, rowOffset + 4L * i) * a[base + i];
        }
        return sum;
    }
}
