package dev.panamax.kernels;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * Scalar helpers shared by the reference quantizers and dequantizers: little-endian field
 * access, fp16/bf16 conversion and ggml's rounding functions, written to reproduce llama.cpp's
 * float32 results bit for bit (plain float arithmetic, no fused multiply-add).
 */
final class QuantMath {
    private QuantMath() {}

    static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt INT_LE = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** The fp16 at byte {@code offset}, as a float (exact). */
    static float fp16(MemorySegment s, long offset) {
        return Float.float16ToFloat(s.get(SHORT_LE, offset));
    }

    /** Stores {@code v} as fp16, rounded to nearest even (ggml's GGML_FP32_TO_FP16). */
    static void putFp16(MemorySegment s, long offset, float v) {
        s.set(SHORT_LE, offset, Float.floatToFloat16(v));
    }

    static int u8(MemorySegment s, long offset) {
        return s.get(ValueLayout.JAVA_BYTE, offset) & 0xFF;
    }

    static int u32(MemorySegment s, long offset) {
        return s.get(INT_LE, offset);
    }

    /** bf16 bits to float (exact). */
    static float bf16ToFloat(short bits) {
        return Float.intBitsToFloat((bits & 0xFFFF) << 16);
    }

    /**
     * ggml's fp32 to bf16: round to nearest even on the upper 16 bits; a NaN keeps its sign and
     * top mantissa bits and is forced quiet.
     */
    static short floatToBf16(float f) {
        int u = Float.floatToRawIntBits(f);
        if ((u & 0x7fffffff) > 0x7f800000) {
            return (short) ((u >>> 16) | 64);
        }
        return (short) ((u + (0x7fff + ((u >>> 16) & 1))) >>> 16);
    }

    /**
     * The first of x[from .. from+n) with the largest magnitude (0 when all are zero; NaN never
     * wins): the signed maximum ggml's quantizers take their scale from.
     */
    static float largestMagnitude(float[] x, int from, int n) {
        float max = 0;
        float amax = 0;
        for (int j = from; j < from + n; j++) {
            float ax = Math.abs(x[j]);
            if (ax > amax) {
                amax = ax;
                max = x[j];
            }
        }
        return max;
    }

    /** ggml's nearest_int: round half to even, valid for |f| <= 4194303. */
    static int nearestInt(float f) {
        return (int) Math.rint(f);
    }

    /** C's roundf: round half away from zero. */
    static float roundf(float f) {
        double r = Math.floor(Math.abs((double) f) + 0.5);
        return (float) Math.copySign(r, f);
    }
}
