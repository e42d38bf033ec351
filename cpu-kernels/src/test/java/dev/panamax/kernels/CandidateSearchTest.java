package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The vectorized candidate searches against the scalar reference code they replace, group by
 * group: the same levels, scale and min, bit for bit, over many groups from many distributions
 * (the golden vectors of KQuantGoldenTest pin both to llama.cpp).
 */
@org.junit.jupiter.api.Tag("vector")
class CandidateSearchTest {

    /** Fills x[0..n) with one of several distributions. */
    static void fill(float[] x, int n, SplittableRandom r, int kind) {
        double scale = Math.pow(10, r.nextInt(-6, 4));
        for (int i = 0; i < n; i++) {
            double g = r.nextGaussian();
            x[i] = (float) switch (kind) {
                case 0 -> g * scale;
                case 1 -> r.nextDouble(-1, 1) * scale;
                case 2 -> Math.abs(g) * scale;
                case 3 -> -Math.abs(g) * scale;
                case 4 -> r.nextInt(8) == 0 ? g * scale : 0;
                case 5 -> i == r.nextInt(n) ? 100 * scale : g * scale * 0.01;
                case 6 -> Math.round(g * 4);
                case 7 -> (i % 2 == 0 ? 1 : -1) * scale;
                case 8 -> i < n / 2 ? 0 : g * scale;
                case 9 -> g * scale + 3 * scale;
                case 10 -> scale; // constant
                default -> g * 1e-20; // tiny
            };
        }
    }

    @Test
    void qkx2MatchesTheScalarLoop() {
        SplittableRandom r = new SplittableRandom(7);
        CandidateSearch.Scratch s = new CandidateSearch.Scratch();
        float[] x = new float[32];
        float[] w = new float[32];
        byte[] la = new byte[32];
        byte[] lb = new byte[32];
        byte[] laux = new byte[32];
        float[] ma = new float[1];
        float[] mb = new float[1];
        // Q4_K (32, 15, -1, 0.1, 20), Q5_K (32, 31, -0.5, 0.1, 15), Q2_K (16, 3, -0.5, 0.1, 15, mad)
        int[][] params = {{32, 15, 20, 0}, {32, 31, 15, 0}, {16, 3, 15, 1}};
        float[] rmins = {-1f, -0.5f, -0.5f};
        long groups = 0;
        for (int p = 0; p < params.length; p++) {
            int n = params[p][0];
            int nmax = params[p][1];
            int nstep = params[p][2];
            boolean mad = params[p][3] == 1;
            for (int t = 0; t < 25_000; t++) {
                fill(x, n, r, t % 12);
                float sumX2 = 0;
                for (int i = 0; i < n; i++) {
                    sumX2 += x[i] * x[i];
                }
                float av = (float) Math.sqrt(sumX2 / n);
                for (int i = 0; i < n; i++) {
                    w[i] = mad ? Math.abs(x[i]) : av + Math.abs(x[i]);
                }
                float a = KQuants.makeQkx2Quants(n, nmax, x, 0, w, 0, la, 0, ma, 0, laux, rmins[p], 0.1f, nstep, mad, null);
                float b = KQuants.makeQkx2Quants(n, nmax, x, 0, w, 0, lb, 0, mb, 0, laux, rmins[p], 0.1f, nstep, mad, s);
                String what = "params " + p + " group " + t;
                assertEquals(Float.floatToRawIntBits(a), Float.floatToRawIntBits(b), what + " scale " + a + " vs " + b);
                assertEquals(Float.floatToRawIntBits(ma[0]), Float.floatToRawIntBits(mb[0]), what + " min");
                assertArrayEquals(java.util.Arrays.copyOf(la, n), java.util.Arrays.copyOf(lb, n), what + " levels");
                groups++;
            }
        }
        assertEquals(75_000, groups);
    }

    @Test
    void qxMatchesTheScalarLoop() {
        SplittableRandom r = new SplittableRandom(11);
        CandidateSearch.Scratch s = new CandidateSearch.Scratch();
        float[] x = new float[16];
        byte[] la = new byte[16];
        byte[] lb = new byte[16];
        for (int t = 0; t < 40_000; t++) {
            fill(x, 16, r, t % 12);
            float a = KQuants.makeQxQuants(16, 32, x, 0, la, 0, null);
            float b = KQuants.makeQxQuants(16, 32, x, 0, lb, 0, s);
            assertEquals(Float.floatToRawIntBits(a), Float.floatToRawIntBits(b), "group " + t + ": " + a + " vs " + b);
            assertArrayEquals(la, lb, "group " + t);
        }
    }

    @Test
    void vectorPathIsOn() {
        assertTrue(CandidateSearch.ENABLED || VectorShapes.F32.length() < 4, "the fast path is used where it can be");
    }
}
