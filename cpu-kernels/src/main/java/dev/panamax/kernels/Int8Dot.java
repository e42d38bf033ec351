package dev.panamax.kernels;

import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorShuffle;
import jdk.incubator.vector.VectorSpecies;

/**
 * Shared pieces of the 32-value block dot products (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, IQ4_XS).
 *
 * <p>Method. A block's weights are widened to 16-bit lanes ({@link #S}) and multiplied with the
 * int16 view of the int8 activations ({@link Activations#q8_0Wide()}); value j of a block shares
 * a lane with value j+16 (ggml's nibble order: byte j holds values j and j+16), the two products
 * are added (|w| <= 128, |x| <= 127: each product is at most 16256, their sum fits a short) and
 * adjacent lanes are summed into 32-bit lanes; one float FMA per block applies the scales. The
 * Vector API has no int8 multiply-add (pmaddubsw, vpdpbusd), and widening the activations once
 * per prepare rather than once per weight row was the largest measured gain.
 *
 * <p>Widths. The species follow {@link VectorShapes}, capped at 256 bits (a block's 16 nibble
 * bytes widen into one 256-bit short vector). At 128 bits each half block takes {@link #PARTS} = 2
 * steps of {@link #L} = 8 lanes; every step loads its own bytes, because a conversion "part"
 * that is not a compile-time constant is not intrinsified.
 *
 * <p>Code shape. C2 stops inlining ordinary methods once a compilation holds about 18000 IR
 * nodes (NodeCountInliningCutoff; Vector API methods are force-inlined and exempt), and a helper
 * that passes vectors and is not inlined boxes them: a 10x slowdown. So the hot loops are
 * written with Vector API calls only, and this class shares constants, species, the decode
 * scratch and the decoded-row dot product rather than vector-valued helper methods.
 */
final class Int8Dot {
    private Int8Dot() {}

    static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;
    static final VectorShape SHAPE = VectorShapes.SHAPE.vectorBitSize() >= 256 ? VectorShape.S_256_BIT : VectorShape.S_128_BIT;
    /** 16 bytes: the IQ4 grid shuffle works on 16 lanes. */
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(SHAPE);
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(SHAPE);
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.withShape(SHAPE);
    /** Short lanes per step. */
    static final int L = S.length();
    /** Steps per 16 values. */
    static final int PARTS = 16 / L;
    /** The bytes that widen into one {@link #S} vector (8 at 128 bits, 16 at 256). */
    static final VectorSpecies<Byte> BQ = VectorSpecies.of(byte.class, VectorShape.forBitSize(SHAPE.vectorBitSize() / 2));

    /**
     * Lane i to lane i ^ 4 (8-lane F only), i ^ 2, i ^ 1: a vector added to its own rearrangement
     * by each in turn holds the sum of its lanes in every lane. The kernels sum their accumulators
     * this way, in place: a call to a lane-sum helper per row is compiled apart from the kernel,
     * where the vector's class is not known, and on small rows cost as much as the row (Qwen3-0.6B
     * Q8_0 decoded at 17 or 40 tokens/s depending on which profile the helper was compiled with).
     */
    static final boolean F8 = F.length() == 8;
    static final VectorShuffle<Float> FOLD4 = VectorShuffle.fromOp(F, i -> (i ^ 4) % F.length());
    static final VectorShuffle<Float> FOLD2 = VectorShuffle.fromOp(F, i -> i ^ 2);
    static final VectorShuffle<Float> FOLD1 = VectorShuffle.fromOp(F, i -> i ^ 1);

    static final ShortVector ZERO = ShortVector.zero(S);
    static final ShortVector FIFTEEN = ShortVector.broadcast(S, (short) 0x0F);
    static final ShortVector EIGHT = ShortVector.broadcast(S, (short) 8);
    static final ShortVector SIXTEEN = ShortVector.broadcast(S, (short) 16);
    /** Lane j holds 1 << j: tests bit j of a broadcast bit mask (Q5's fifth bits). */
    static final ShortVector BIT = ShortVector.fromArray(S,
            new short[] {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, (short) 32768}, 0);
    static final ByteVector LOW_NIBBLE = ByteVector.broadcast(B16, (byte) 0x0F);
    static final ByteVector LOW_NIBBLE_Q = ByteVector.broadcast(BQ, (byte) 0x0F);
    /** After a 16-bit shift right by 4, keeps each byte's former high nibble (x86 has no byte shifts). */
    static final ShortVector HIGH_NIBBLE_MASK = ShortVector.broadcast(
            VectorSpecies.of(short.class, BQ.vectorShape()), (short) 0x0F0F);
    static final ShortVector HIGH_NIBBLE_MASK16 = ShortVector.broadcast(ShortVector.SPECIES_128, (short) 0x0F0F);
    static final ByteVector IQ4_VALUES = ByteVector.fromArray(B16, IQ4.VALUES, 0);

    /**
     * One weight row decoded to int16 values ({@code q}, ggml order within each 32-block) with a
     * float scale per 32 values ({@code d}) and, for types with a block minimum, the minimum per
     * 32 values ({@code m}): weight i = d[i/32] * q[i] + m[i/32]. Multi-token dot products decode a
     * row once into this per-thread scratch and then run {@link #dotDecoded} over the tokens.
     */
    static final class Decoded {
        short[] q = new short[0];
        float[] d = new float[0];
        float[] m = new float[0];

        Decoded ensure(int n) {
            if (q.length < n) {
                q = new short[n];
                d = new float[n / 32];
                m = new float[n / 32];
            }
            return this;
        }
    }

    private static final ThreadLocal<Decoded> DECODED = ThreadLocal.withInitial(Decoded::new);

    /** This thread's decode scratch, large enough for {@code n} values. */
    static Decoded decoded(int n) {
        return DECODED.get().ensure(n);
    }

    /**
     * Dot products of a decoded row of {@code n} values with tokens {@code token0 ..
     * token0 + tokens - 1} of the int8 activations (the Q8_0 form, or Q8_K when {@code q8k}),
     * adding the block minima when {@code withMin}: out[outOffset + t * outStride]. Two tokens per
     * pass over the row.
     */
    static void dotDecoded(Decoded w, int n, Activations x, int token0, int tokens, boolean q8k, boolean withMin,
            float[] out, int outOffset, int outStride) {
        int t = 0;
        for (; t + 1 < tokens; t += 2) {
            dotDecoded2(w, n, x, token0 + t, token0 + t + 1, q8k, withMin, out, outOffset + t * outStride, outStride);
        }
        if (t < tokens) {
            // one token: run the pair kernel with the token twice, keep the first result
            float[] pair = new float[2];
            dotDecoded2(w, n, x, token0 + t, token0 + t, q8k, withMin, pair, 0, 1);
            out[outOffset + t * outStride] = pair[0];
        }
    }

    private static void dotDecoded2(Decoded w, int n, Activations x, int ta, int tb, boolean q8k, boolean withMin,
            float[] out, int o, int stride) {
        short[] xq = q8k ? x.q8_KWide() : x.q8_0Wide();
        float[] xs = q8k ? x.q8_KScale() : x.q8_0Scale();
        int shift = q8k ? 3 : 0;
        int nb = n / 32;
        int xa = ta * n;
        int xb = tb * n;
        int sa = ta * (n >> (5 + shift));
        int sb = tb * (n >> (5 + shift));
        short[] wq = w.q;
        float[] wd = w.d;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        for (int b = 0; b < nb; b++) {
            IntVector s0 = IntVector.zero(I);
            IntVector s1 = s0;
            for (int p = 0; p < PARTS; p++) {
                int po = 32 * b + p * L;
                ShortVector w0 = ShortVector.fromArray(S, wq, po);
                ShortVector w16 = ShortVector.fromArray(S, wq, po + 16);
                IntVector pa = w0.mul(ShortVector.fromArray(S, xq, xa + po))
                        .add(w16.mul(ShortVector.fromArray(S, xq, xa + po + 16))).reinterpretAsInts();
                IntVector pb = w0.mul(ShortVector.fromArray(S, xq, xb + po))
                        .add(w16.mul(ShortVector.fromArray(S, xq, xb + po + 16))).reinterpretAsInts();
                s0 = s0.add(pa.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(pa.lanewise(VectorOperators.ASHR, 16)));
                s1 = s1.add(pb.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16)
                        .add(pb.lanewise(VectorOperators.ASHR, 16)));
            }
            acc0 = ((FloatVector) s0.convertShape(VectorOperators.I2F, F, 0)).fma(FloatVector.broadcast(F, wd[b] * xs[sa + (b >> shift)]), acc0);
            acc1 = ((FloatVector) s1.convertShape(VectorOperators.I2F, F, 0)).fma(FloatVector.broadcast(F, wd[b] * xs[sb + (b >> shift)]), acc1);
        }
        if (F8) {
            acc0 = acc0.add(acc0.rearrange(FOLD4));
            acc1 = acc1.add(acc1.rearrange(FOLD4));
        }
        acc0 = acc0.add(acc0.rearrange(FOLD2));
        acc1 = acc1.add(acc1.rearrange(FOLD2));
        float r0 = acc0.add(acc0.rearrange(FOLD1)).lane(0);
        float r1 = acc1.add(acc1.rearrange(FOLD1)).lane(0);
        if (withMin) {
            int[] xsum = x.q8_0Sum();
            float[] wm = w.m;
            float m0 = 0;
            float m1 = 0;
            for (int b = 0; b < nb; b++) {
                m0 += wm[b] * xs[sa + b] * xsum[sa + b];
                m1 += wm[b] * xs[sb + b] * xsum[sb + b];
            }
            r0 += m0;
            r1 += m1;
        }
        out[o] = r0;
        out[o + stride] = r1;
    }

    /** out[o + k * stride] = sums[k] for k < tn (the multi-token float kernels' results). */
    static void store(float s0, float s1, float s2, float s3, int tn, float[] out, int o, int stride) {
        out[o] = s0;
        out[o + stride] = s1;
        if (tn > 2) {
            out[o + 2 * stride] = s2;
        }
        if (tn > 3) {
            out[o + 3 * stride] = s3;
        }
    }
}
