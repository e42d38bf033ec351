package dev.panamax.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Float lane operations whose results do not depend on whether the JIT has compiled the caller yet.
 * {@code reduceLanes(ADD)} associates the lanes in one order when interpreted and another when
 * compiled, and {@code lanewise(EXP)} calls a different exp in each (on this JDK 57 % of random
 * 8-lane sums and 4 % of exp lanes differed): a process's first generation then differed from
 * its later ones, and random-weight models amplify such last-bit differences into visible logits.
 * These use only lanewise IEEE operations and constant-lane reads, which agree bit for bit.
 */
public final class FloatLanes {
    private FloatLanes() {}

    /** The sum of the lanes, pairwise in a fixed order. */
    public static float sum(FloatVector v) {
        return switch (v.length()) {
            case 4 -> quad(v, 0);
            case 8 -> quad(v, 0) + quad(v, 4);
            case 16 -> (quad(v, 0) + quad(v, 4)) + (quad(v, 8) + quad(v, 12));
            default -> throw new IllegalStateException("unsupported float vector of " + v.length() + " lanes");
        };
    }

    private static float quad(FloatVector v, int o) {
        // constant lane indices once inlined: the JIT reads the lanes in registers
        return (v.lane(o) + v.lane(o + 2)) + (v.lane(o + 1) + v.lane(o + 3));
    }

    private static final float LOG2E = 1.44269504088896341f;
    private static final float LN2_HI = 0.693359375f;
    private static final float LN2_LO = -2.12194440e-4f;
    /** 1.5 * 2^23: adding it rounds a float of magnitude below 2^22 to an integer (to nearest, ties to even). */
    private static final float ROUNDER = 12582912f;
    /** exp(x) overflows a float above this; below {@link #EXP_MIN} it is under the smallest normal. */
    private static final float EXP_MAX = 88.3762626647949f;
    private static final float EXP_MIN = -87.3365478515625f;

    /**
     * e^x per lane within 2 ulp of {@link Math#exp} for normal results; 0 below e^-87.34 (the
     * smallest normal float), +inf above 88.38, NaN stays NaN. Range reduction x = n ln2 + r with
     * |r| <= ln2/2 (ln2 in two parts), a degree-6 polynomial for e^r, and 2^n built in the exponent
     * bits (the Cephes expf scheme). {@code x} is of the kernels' species, {@link VectorShapes#F32}.
     */
    public static FloatVector exp(FloatVector x) {
        // the kernels' species as a constant, not x.species(): a compilation of exp on its own (not
        // inlined) then still intrinsifies its broadcasts (softmax ran at half speed)
        VectorSpecies<Float> species = VectorShapes.F32;
        FloatVector c = x.max(EXP_MIN).min(EXP_MAX);
        FloatVector t = c.fma(FloatVector.broadcast(species, LOG2E), FloatVector.broadcast(species, ROUNDER));
        FloatVector n = t.sub(ROUNDER);
        FloatVector r = n.fma(FloatVector.broadcast(species, -LN2_LO), n.fma(FloatVector.broadcast(species, -LN2_HI), c));
        FloatVector p = r.fma(FloatVector.broadcast(species, 1.9875691500e-4f), FloatVector.broadcast(species, 1.3981999507e-3f));
        p = p.fma(r, FloatVector.broadcast(species, 8.3334519073e-3f));
        p = p.fma(r, FloatVector.broadcast(species, 4.1665795894e-2f));
        p = p.fma(r, FloatVector.broadcast(species, 1.6666665459e-1f));
        p = p.fma(r, FloatVector.broadcast(species, 5.0000001201e-1f));
        FloatVector er = p.fma(r.mul(r), r).add(1f);
        // n is in [-126, 127]: its biased exponent fits the 8 exponent bits
        IntVector bits = t.reinterpretAsInts().sub(Float.floatToRawIntBits(ROUNDER) - 127).lanewise(VectorOperators.LSHL, 23);
        FloatVector y = er.mul(bits.reinterpretAsFloats());
        VectorMask<Float> under = x.lt(EXP_MIN);
        VectorMask<Float> over = x.compare(VectorOperators.GT, EXP_MAX);
        return y.blend(0f, under).blend(Float.POSITIVE_INFINITY, over);
    }
}
