package dev.panamax.kernels;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.ShortVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * The integer core of the 32-value block dot products. A block's weights are widened to 16-bit
 * lanes ({@link #S}: 16 lanes at 256 bits, 8 at 128) and multiplied with the int16 form of the
 * int8 activations ({@link Activations#q8_0Wide()}); value j of a block pairs with value j+16 in
 * the same lane (ggml's nibble order: byte j holds values j and j+16), and adjacent lanes are
 * summed into 32-bit lanes. A weight in [-128, 127] times an activation in [-127, 127] is at
 * most 16256 in magnitude, so the sum of two still fits a short. Callers scale the block's int
 * lanes with one float FMA.
 *
 * <p>The species follow {@link VectorShapes}, capped at 256 bits (a block's 16 nibble bytes
 * widen into one 256-bit short vector); at 128 bits each block takes {@link #PARTS} = 2 steps.
 * The Vector API has no int8 multiply-add (no pmaddubsw/vpdpbusd), so this 16-bit path with
 * pre-widened activations was the fastest measured (see the report in the commit history).
 */
final class Int8Dot {
    private Int8Dot() {}

    static final VectorShape SHAPE = VectorShapes.SHAPE.vectorBitSize() >= 256 ? VectorShape.S_256_BIT : VectorShape.S_128_BIT;
    /** One block's 16 nibble bytes, or half a block of int8 values. */
    static final VectorSpecies<Byte> B16 = ByteVector.SPECIES_128;
    static final VectorSpecies<Short> S = ShortVector.SPECIES_PREFERRED.withShape(SHAPE);
    static final VectorSpecies<Integer> I = IntVector.SPECIES_PREFERRED.withShape(SHAPE);
    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED.withShape(SHAPE);
    /** Short lanes per step. */
    static final int L = S.length();
    /** Steps per 16 values. */
    static final int PARTS = 16 / L;

    /**
     * Int lanes summing w0[j] * x[xo + j] + w16[j] * x[xo + 16 + j] over the {@link #L} lanes j
     * (pairs of adjacent lanes per int lane).
     */
    static IntVector dot(ShortVector w0, ShortVector w16, short[] x, int xo) {
        ShortVector p = w0.mul(ShortVector.fromArray(S, x, xo)).add(w16.mul(ShortVector.fromArray(S, x, xo + 16)));
        IntVector i = p.reinterpretAsInts();
        return i.lanewise(VectorOperators.LSHL, 16).lanewise(VectorOperators.ASHR, 16).add(i.lanewise(VectorOperators.ASHR, 16));
    }

    /** Bytes {@code part * L ..} of {@code q}, sign-extended to short lanes. */
    static ShortVector widen(ByteVector q, int part) {
        return (ShortVector) q.convertShape(VectorOperators.B2S, S, part);
    }

    /** Bytes {@code part * L ..} of {@code q}, zero-extended to short lanes (nibble types). */
    static ShortVector widenUnsigned(ByteVector q, int part) {
        return (ShortVector) q.convertShape(VectorOperators.ZERO_EXTEND_B2S, S, part);
    }

    private static final ShortVector FIFTEEN = ShortVector.broadcast(S, (short) 0x0F);
    static final ShortVector EIGHT = ShortVector.broadcast(S, (short) 8);
    static final ShortVector SIXTEEN = ShortVector.broadcast(S, (short) 16);

    /** The low nibble of each zero-extended byte lane. */
    static ShortVector low(ShortVector s) {
        return s.and(FIFTEEN);
    }

    /** The high nibble of each zero-extended byte lane. */
    static ShortVector high(ShortVector s) {
        return s.lanewise(VectorOperators.ASHR, 4);
    }

    private static final ByteVector LOW_NIBBLE = ByteVector.broadcast(B16, (byte) 0x0F);

    /** Low nibbles of 16 bytes. */
    static ByteVector lowNibbles(ByteVector q) {
        return q.and(LOW_NIBBLE);
    }

    /** High nibbles of 16 bytes (a 16-bit shift and a mask: x86 has no byte shifts). */
    static ByteVector highNibbles(ByteVector q) {
        return q.reinterpretAsShorts().lanewise(VectorOperators.LSHR, 4).and((short) 0x0F0F).reinterpretAsBytes();
    }

    private static final ByteVector IQ4_VALUES = ByteVector.fromArray(B16, IQ4.VALUES, 0);

    /** The IQ4 grid values of 16 indices 0..15 (one byte shuffle). */
    static ByteVector iq4(ByteVector idx) {
        return idx.selectFrom(IQ4_VALUES);
    }

    /** IQ4 grid values of one block half, widened: values p*L.. (or 16+p*L.. when high). */
    static ShortVector iq4Half(ByteVector q, int p, boolean high) {
        return widen(iq4(high ? highNibbles(q) : lowNibbles(q)), p);
    }

    private static final ShortVector BIT = ShortVector.fromArray(S,
            new short[] {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, (short) 32768}, 0);

    /** 0x10 in lane j where bit (part * L + j) of {@code bits} is set, else 0 (Q5's fifth bit). */
    static ShortVector fifth(int bits, int part) {
        ShortVector b = ShortVector.broadcast(S, (short) (bits >>> (part * L))).and(BIT);
        return ((ShortVector) b.eq(BIT).toVector()).and(SIXTEEN);
    }

    /** acc + (float) ints * scale, lane by lane. */
    static FloatVector fma(IntVector ints, float scale, FloatVector acc) {
        FloatVector f = (FloatVector) ints.convert(VectorOperators.I2F, 0);
        return f.fma(FloatVector.broadcast(F, scale), acc);
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

    /**
     * One weight row decoded to int16 values ({@code q}, ggml order within each 32-block) with a
     * float scale per 32 values ({@code d}) and, for types with a block minimum, the minimum per
     * 32 values ({@code m}): weight i = d[i/32] * q[i] + m[i/32]. Multi-token dot products decode a
     * row once into this per-thread scratch and then run {@link #dotDecoded} per token, which
     * keeps each compiled loop small (large fused multi-token loops exceed C2's inlining node
     * budget, and the vectors then get boxed).
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
     * Dot products of a decoded row with tokens {@code token0 .. token0 + tokens - 1}, two tokens
     * per pass over the row: out[outOffset + t * outStride].
     */
    static void dotDecoded(Decoded w, int n, Activations x, int token0, int tokens, boolean q8k, boolean withMin,
            float[] out, int outOffset, int outStride) {
        int t = 0;
        for (; t + 1 < tokens; t += 2) {
            dotDecoded2(w, n, x, token0 + t, q8k, withMin, out, outOffset + t * outStride, outStride);
        }
        if (t < tokens) {
            out[outOffset + t * outStride] = dotDecoded(w, n, x, token0 + t, q8k, withMin);
        }
    }

    private static void dotDecoded2(Decoded w, int n, Activations x, int token, boolean q8k, boolean withMin,
            float[] out, int o, int stride) {
        short[] xq = q8k ? x.q8_KWide() : x.q8_0Wide();
        float[] xs = q8k ? x.q8_KScale() : x.q8_0Scale();
        int shift = q8k ? 3 : 0;
        int nb = n / 32;
        int xa = token * n;
        int xb = xa + n;
        int sa = token * (n >> (5 + shift));
        int sb = sa + (n >> (5 + shift));
        short[] wq = w.q;
        float[] wd = w.d;
        FloatVector acc0 = FloatVector.zero(F);
        FloatVector acc1 = acc0;
        for (int b = 0; b < nb; b++) {
            int bo = 32 * b;
            ShortVector w0 = ShortVector.fromArray(S, wq, bo);
            ShortVector w16 = ShortVector.fromArray(S, wq, bo + 16);
            IntVector s0 = dot(w0, w16, xq, xa + bo);
            IntVector s1 = dot(w0, w16, xq, xb + bo);
            for (int p = 1; p < PARTS; p++) {
                int po = bo + p * L;
                ShortVector v0 = ShortVector.fromArray(S, wq, po);
                ShortVector v16 = ShortVector.fromArray(S, wq, po + 16);
                s0 = s0.add(dot(v0, v16, xq, xa + po));
                s1 = s1.add(dot(v0, v16, xq, xb + po));
            }
            acc0 = fma(s0, wd[b] * xs[sa + (b >> shift)], acc0);
            acc1 = fma(s1, wd[b] * xs[sb + (b >> shift)], acc1);
        }
        float r0 = acc0.reduceLanes(VectorOperators.ADD);
        float r1 = acc1.reduceLanes(VectorOperators.ADD);
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

    /**
     * Dot product of a decoded row of {@code n} values with one token's int8 activations (the
     * Q8_0 form, or Q8_K when {@code q8k}), adding the block minima when {@code withMin}.
     */
    static float dotDecoded(Decoded w, int n, Activations x, int token, boolean q8k, boolean withMin) {
        short[] xq = q8k ? x.q8_KWide() : x.q8_0Wide();
        float[] xs = q8k ? x.q8_KScale() : x.q8_0Scale();
        int shift = q8k ? 3 : 0;
        int nb = n / 32;
        int xo = token * n;
        int so = token * (n >> (5 + shift));
        short[] wq = w.q;
        float[] wd = w.d;
        FloatVector acc = FloatVector.zero(F);
        for (int b = 0; b < nb; b++) {
            int o = 32 * b;
            IntVector s = dot(ShortVector.fromArray(S, wq, o), ShortVector.fromArray(S, wq, o + 16), xq, xo + o);
            for (int p = 1; p < PARTS; p++) {
                int po = o + p * L;
                s = s.add(dot(ShortVector.fromArray(S, wq, po), ShortVector.fromArray(S, wq, po + 16), xq, xo + po));
            }
            acc = fma(s, wd[b] * xs[so + (b >> shift)], acc);
        }
        float sum = acc.reduceLanes(VectorOperators.ADD);
        if (withMin) {
            int[] xsum = x.q8_0Sum();
            float[] wm = w.m;
            float ms = 0;
            for (int b = 0; b < nb; b++) {
                ms += wm[b] * xs[so + b] * xsum[so + b];
            }
            sum += ms;
        }
        return sum;
    }
}
