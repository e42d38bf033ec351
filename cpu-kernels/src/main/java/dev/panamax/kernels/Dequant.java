package dev.panamax.kernels;

import static dev.panamax.kernels.Int8Dot.F;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;

/** Vector dequantization helpers: int8 lanes times a scale, exactly as the scalar (q * d). */
final class Dequant {
    private Dequant() {}

    private static final int PARTS = 16 / F.length();

    /** dst[o + j] = q[j] * d for the 16 byte lanes of {@code q} (one rounding, like the scalar). */
    static void store(ByteVector q, FloatVector d, float[] dst, int o) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector f = (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
            f.mul(d).intoArray(dst, o + p * F.length());
        }
    }

    /** dst[o + j] = q[j] * d + m (two roundings, like the scalar). */
    static void store(ByteVector q, FloatVector d, FloatVector m, float[] dst, int o) {
        for (int p = 0; p < PARTS; p++) {
            FloatVector f = (FloatVector) q.convertShape(VectorOperators.B2F, F, p);
            f.mul(d).add(m).intoArray(dst, o + p * F.length());
        }
    }
}
