package dev.panamax.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The integer core of the 32-value block dot products: a block's 32 weights arrive as two
 * 16-lane byte vectors (values 0..15 and 16..31, ggml's nibble order), are widened to 16-bit,
 * multiplied with the int8 activations and summed pairwise into 32-bit lanes. Each product of a
 * weight in [-128, 127] and an activation in [-127, 127] is at most 16256 in magnitude, so the
 * sum of two still fits a short. Callers scale the block's int lanes with one float FMA.
 *
 * <p>The species are those of {@link VectorShapes}, capped at 256 bits: a block holds 16 bytes of
 * nibbles, which widen into at most one 256-bit short vector; at 128 bits each half of a block
 * takes two steps ({@link #PARTS}).
 */
final class Int8Dot {
    private Int8Dot() {}

    static final VectorShape SHAPE = VectorShapes.SHAPE.vectorBitSize() >= 256 ? VectorShape.S_256_BIT : VectorShape.S_128_BIT;
    /** One block's 16 nibble bytes, or half a block of int8 values. */
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(SHAPE);
    /** The activation bytes that widen into one {@link #S} vector. */
    static final VectorSpecies<Byte> BS = VectorSpecies.of(byte.class, VectorShape.forBitSize(SHAPE.vectorBitSize() / 2));
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(SHAPE);
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.withShape(SHAPE);
    /** Steps per 16 values. */
    static final int PARTS = 16 / S.length();

    static final ByteVector LOW_NIBBLE = ByteVector.broadcast(B16, (byte) 0x0F);

    /**
     * Sum over one 32-block of w[j] * x[xo + j], as int lanes (their total is the block's dot):
     * {@code w0} holds weights 0..15, {@code w16} weights 16..31, all signed bytes.
     */
    static IntVector block(ByteVector w0, ByteVector w16, byte[] x, int xo) {
        IntVector acc = part(w0, w16, x, xo, 0);
        for (int p = 1; p < PARTS; p++) {
            acc = acc.add(part(w0, w16, x, xo, p));
        }
        return acc;
    }

    private static IntVector part(ByteVector w0, ByteVector w16, byte[] x, int xo, int p) {
        int o = p * S.length();
        ShortVector a = (ShortVector) w0.convertShape(VectorOperators.B2S, S, p);
        ShortVector b = (ShortVector) w16.convertShape(VectorOperators.B2S, S, p);
        ShortVector xa = (ShortVector) ByteVector.fromArray(BS, x, xo + o).convertShape(VectorOperators.B2S, S, 0);
        ShortVector xb = (ShortVector) ByteVector.fromArray(BS, x, xo + 16 + o).convertShape(VectorOperators.B2S, S, 0);
        return widenPairs(a.mul(xa).add(b.mul(xb)));
    }

    /** Sums each pair of adjacent short lanes into one int lane (pmaddwd-like). */
    static IntVector widenPairs(ShortVector v) {
        IntVector i = (IntVector) v.reinterpretShape(I, 0);
        return i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.ASHR, 16));
    }

    /** acc + (float) ints * scale, lane by lane. */
    static FloatVector fma(IntVector ints, float scale, FloatVector acc) {
        FloatVector f = (FloatVector) ints.convert(VectorOperators.I2F, 0);
        return f.fma(FloatVector.broadcast(F, scale), acc);
    }

    private static final ByteVector IQ4_VALUES = ByteVector.fromArray(B16, IQ4.VALUES, 0);

    /** The IQ4 grid values of 16 indices 0..15. */
    static ByteVector iq4(ByteVector idx) {
        return idx.selectFrom(IQ4_VALUES);
    }

    private static final jdk.incubator.vector.VectorShuffle<Byte> SPREAD = jdk.incubator.vector.VectorShuffle.fromValues(B16,
            0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    private static final ByteVector BIT = ByteVector.fromArray(B16,
            new byte[] {1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128}, 0);
    private static final ByteVector SIXTEEN = ByteVector.broadcast(B16, (byte) 0x10);

    /** 16 lanes holding 0x10 where bit j of {@code bits} (lane j, j < 16) is set, else 0. */
    static ByteVector fifthBits(int bits) {
        ByteVector b = ((ShortVector) ShortVector.broadcast(ShortVector.SPECIES_128, (short) bits)).reinterpretAsBytes();
        return SIXTEEN.and((ByteVector) b.rearrange(SPREAD).and(BIT).eq(BIT).toVector());
    }

    /** Low nibbles of {@code q} (bytes 0..15). */
    static ByteVector low(ByteVector q) {
        return q.and(LOW_NIBBLE);
    }

    /** High nibbles of {@code q} (bytes 0..15). */
    static ByteVector high(ByteVector q) {
        return q.lanewise(VectorOperators.LSHR, 4);
    }

    /**
     * Writes the lane sums of up to 4 token accumulators plus their scalar terms:
     * out[o + k * stride] = acc_k + extra_k for k < tn.
     */
    static void store4(FloatVector a0, FloatVector a1, FloatVector a2, FloatVector a3,
            float e0, float e1, float e2, float e3, int tn, float[] out, int o, int stride) {
        out[o] = a0.reduceLanes(VectorOperators.ADD) + e0;
        out[o + stride] = a1.reduceLanes(VectorOperators.ADD) + e1;
        if (tn > 2) {
            out[o + 2 * stride] = a2.reduceLanes(VectorOperators.ADD) + e2;
        }
        if (tn > 3) {
            out[o + 3 * stride] = a3.reduceLanes(VectorOperators.ADD) + e3;
        }
    }
}
