package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

class FloatLanesTest {

    private static float[] exp(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i += F32.length()) {
            FloatLanes.exp(FloatVector.fromArray(F32, x, i)).intoArray(out, i);
        }
        return out;
    }

    @Test
    void expIsWithinTwoUlpOfMathExpOverTheNormalRange() {
        SplittableRandom r = new SplittableRandom(11);
        float[] x = new float[1 << 16];
        for (int i = 0; i < x.length; i++) {
            // uniform over the whole range, and dense around 0 where silu and softmax live
            x[i] = i % 2 == 0 ? (float) r.nextDouble(-87.3, 88.3) : (float) r.nextGaussian() * 4;
        }
        float[] y = exp(x);
        double worst = 0;
        for (int i = 0; i < x.length; i++) {
            float want = (float) Math.exp(x[i]);
            double ulps = Math.abs(y[i] - want) / Math.ulp(want);
            worst = Math.max(worst, ulps);
        }
        assertTrue(worst <= 2, "worst error " + worst + " ulp");
    }

    @Test
    void expOfSpecialValues() {
        float[] x = new float[Math.max(F32.length(), 16)];
        float[] in = {0f, -0f, 1f, -1f, Float.NEGATIVE_INFINITY, Float.POSITIVE_INFINITY, Float.NaN, -87.5f, -200f,
            88.5f, 1000f, 88.37f, -87.33f, Float.MIN_VALUE, -Float.MAX_VALUE, Float.MAX_VALUE};
        System.arraycopy(in, 0, x, 0, in.length);
        float[] y = exp(x);
        assertEquals(1f, y[0]);
        assertEquals(1f, y[1]);
        assertEquals((float) Math.E, y[2], Math.ulp((float) Math.E));
        assertEquals((float) (1 / Math.E), y[3], Math.ulp((float) (1 / Math.E)));
        assertEquals(0f, y[4]);
        assertEquals(Float.POSITIVE_INFINITY, y[5]);
        assertTrue(Float.isNaN(y[6]));
        assertEquals(0f, y[7]);
        assertEquals(0f, y[8]);
        assertEquals(Float.POSITIVE_INFINITY, y[9]);
        assertEquals(Float.POSITIVE_INFINITY, y[10]);
        assertEquals((float) Math.exp(88.37f), y[11], 2 * Math.ulp((float) Math.exp(88.37f)));
        assertEquals((float) Math.exp(-87.33f), y[12], 2 * Math.ulp((float) Math.exp(-87.33f)));
        assertEquals(1f, y[13]);
        assertEquals(0f, y[14]);
        assertEquals(Float.POSITIVE_INFINITY, y[15]);
    }

    @Test
    void sumAddsTheLanesPairwiseInAFixedOrder() {
        SplittableRandom r = new SplittableRandom(5);
        float[] v = new float[F32.length()];
        for (int trial = 0; trial < 1000; trial++) {
            double exact = 0;
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-3, 4)));
                exact += v[i];
            }
            float s = FloatLanes.sum(FloatVector.fromArray(F32, v, 0));
            assertEquals(pairwise(v, 0, v.length), s, "trial " + trial);
            double bound = 0;
            for (float f : v) {
                bound += Math.abs(f);
            }
            assertEquals(exact, s, bound * 4 * Math.ulp(1f), "trial " + trial);
        }
    }

    /** The order of {@link FloatLanes#sum}: quads (a0+a2)+(a1+a3), then quads pairwise. */
    private static float pairwise(float[] v, int from, int n) {
        if (n == 4) {
            return (v[from] + v[from + 2]) + (v[from + 1] + v[from + 3]);
        }
        if (n == 8) {
            return pairwise(v, from, 4) + pairwise(v, from + 4, 4);
        }
        return pairwise(v, from, 8) + pairwise(v, from + 8, 8);
    }
}
