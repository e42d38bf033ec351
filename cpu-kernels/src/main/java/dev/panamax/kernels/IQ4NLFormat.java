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
 * IQ4_NL: blocks of 32 with an fp16 scale and 16 nibble bytes indexing the non-linear grid
 * {@link IQ4#VALUES} (18 bytes): x = d * VALUES[q].
 */
final class IQ4NLFormat implements QuantFormat {
    private static final int BLOCK = 18;

    @Override
    public GgmlType type() {
        return GgmlType.IQ4_NL;
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
                dst[dstOffset + 32 * b + j] = d * IQ4.VALUES[q & 0xF];
                dst[dstOffset + 32 * b + j + 16] = d * IQ4.VALUES[q >> 4];
            }
        }
    }

    @Override
    public void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = srcOffset + (long) b * BLOCK;
            FloatVector d = FloatVector.broadcast(F, QuantMath.fp16(src, o));
            ByteVector q = ByteVector.fromMemorySegment(B16, src, o + 2, ByteOrder.LITTLE_ENDIAN);
            Dequant.store(Int8Dot.iq4(Int8Dot.low(q)), d, dst, dstOffset + 32 * b);
            Dequant.store(Int8Dot.iq4(Int8Dot.high(q)), d, dst, dstOffset + 32 * b + 16);
        }
    }

    @Override
    public void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count) {
        for (int b = 0; b < count / 32; b++) {
            long o = dstOffset + (long) b * BLOCK;
            IQ4.quantize(src, srcOffset + 32 * b, 32, 7, dst, o, o + 2, -1, -1);
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
            ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
            ByteVector w0 = Int8Dot.iq4(Int8Dot.low(q));
            ByteVector w16 = Int8Dot.iq4(Int8Dot.high(q));
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
                ByteVector q = ByteVector.fromMemorySegment(B16, w, o + 2, ByteOrder.LITTLE_ENDIAN);
                ByteVector w0 = Int8Dot.iq4(Int8Dot.low(q));
                ByteVector w16 = Int8Dot.iq4(Int8Dot.high(q));
                a0 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t0 * n + 32 * b), d * xs[t0 * nb + b], a0);
                a1 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t1 * n + 32 * b), d * xs[t1 * nb + b], a1);
                a2 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t2 * n + 32 * b), d * xs[t2 * nb + b], a2);
                a3 = Int8Dot.fma(Int8Dot.block(w0, w16, xq, t3 * n + 32 * b), d * xs[t3 * nb + b], a3);
            }
            Int8Dot.store4(a0, a1, a2, a3, 0, 0, 0, 0, tn, out, outOffset + t * outStride, outStride);
        }
    }
}
