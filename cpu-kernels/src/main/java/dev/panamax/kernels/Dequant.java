package dev.panamax.kernels;

import static dev.panamax.kernels.Int8Dot.F;
import static dev.panamax.kernels.VectorShapes.F32;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;

/** Vector dequantization helpers: int8 lanes times a scale, exactly as the scalar (q * d). */
final class Dequant {
    private Dequant() {}

    /**
     * Full-width float vectors per 16 bytes: 1 at 512 bits, 2 at 256, 4 at 128. The bytes widen
     * straight into {@link VectorShapes#F32} (at 512 bits, half the instructions of two 256-bit
     * halves: Q8_0's dequantizing in a 1.5B prompt took 114-117 JFR samples instead of 183-205).
     */
    private static final int PARTS = 16 / F32.length();

    // Conversion parts are written out as constants: a variable part index is not intrinsified.

    /** dst[o + j] = q[j] * d for the 16 byte lanes of {@code q} (one rounding, like the scalar); d of {@link VectorShapes#F32}. */
    static void store(ByteVector q, FloatVector d, float[] dst, int o) {
        part(q, 0).mul(d).intoArray(dst, o);
        if (PARTS > 1) {
            part(q, 1).mul(d).intoArray(dst, o + F32.length());
        }
        if (PARTS > 2) {
            part(q, 2).mul(d).intoArray(dst, o + 2 * F32.length());
            part(q, 3).mul(d).intoArray(dst, o + 3 * F32.length());
        }
    }

    /** dst[o + j] = q[j] * d + m (two roundings, like the scalar); d and m of {@link VectorShapes#F32}. */
    static void store(ByteVector q, FloatVector d, FloatVector m, float[] dst, int o) {
        part(q, 0).mul(d).add(m).intoArray(dst, o);
        if (PARTS > 1) {
            part(q, 1).mul(d).add(m).intoArray(dst, o + F32.length());
        }
        if (PARTS > 2) {
            part(q, 2).mul(d).add(m).intoArray(dst, o + 2 * F32.length());
            part(q, 3).mul(d).add(m).intoArray(dst, o + 3 * F32.length());
        }
    }

    /** dst[o + j] = v[j] * d (+ m when {@code withMin}) for the {@link Int8Dot#L} short lanes of v. */
    static void store(ShortVector v, FloatVector d, FloatVector m, boolean withMin, float[] dst, int o) {
        FloatVector f0 = ((FloatVector) v.convertShape(VectorOperators.S2F, F, 0)).mul(d);
        FloatVector f1 = ((FloatVector) v.convertShape(VectorOperators.S2F, F, 1)).mul(d);
        if (withMin) {
            f0 = f0.add(m);
            f1 = f1.add(m);
        }
        f0.intoArray(dst, o);
        f1.intoArray(dst, o + F.length());
    }

    /** Low nibbles of 16 bytes. */
    static ByteVector lowNibbles(ByteVector q) {
        return q.and(Int8Dot.LOW_NIBBLE);
    }

    /** High nibbles of 16 bytes. */
    static ByteVector highNibbles(ByteVector q) {
        return q.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).and(Int8Dot.HIGH_NIBBLE_MASK16).reinterpretAsBytes();
    }

    /** IQ4 grid values of 16 indices. */
    static ByteVector iq4(ByteVector idx) {
        return idx.selectFrom(Int8Dot.IQ4_VALUES);
    }

    private static FloatVector part(ByteVector q, int p) {
        return (FloatVector) q.convertShape(VectorOperators.B2F, F32, p);
    }
}
