package dev.panamax.kernels;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Byte-exact fast versions of llama.cpp's candidate-scale searches (make_qkx2_quants for
 * Q2_K/Q4_K/Q5_K, make_qx_quants for Q6_K). The reference code tries 16 to 21 candidate scales one
 * after another, each a chain of dependent float additions over the group; here every vector lane
 * is one candidate, so a vector of candidates advances in step. Each lane performs exactly the
 * reference's float operations in the reference's order (sums accumulate value by value, products
 * in the same association, no fused multiply-add; ggml's nearest_int by its own magic-number
 * trick), and the winner is then chosen by the reference's sequential rule (first strictly better
 * candidate, in candidate order), so the results are bit for bit the scalar ones:
 * {@code CandidateSearchTest} compares the two on millions of groups.
 *
 * <p>Scratch arrays are per call site (one {@link Scratch} per quantize call).
 */
final class CandidateSearch {
    private CandidateSearch() {}

    private static final VectorSpecies<Float> F = VectorShapes.F32;
    private static final VectorSpecies<Integer> I = VectorShapes.I32;
    private static final int V = F.length();
    /** 1.5 * 2^23: adding it leaves round-half-even(f) in the low mantissa bits (ggml's nearest_int). */
    private static final float MAGIC = 12582912f;

    /** Whether the vector path applies (at least 4 float lanes). */
    static final boolean ENABLED = V >= 4 && !Boolean.getBoolean("panamax.quantize.scalar");

    /** Per-call working memory. */
    static final class Scratch {
        final float[] iscale = new float[32 + 16];
        final float[] det = new float[16];
        final float[] sumL2 = new float[16];
        final float[] sumXL = new float[16];
        final float[] err = new float[16];
        final float[] scale = new float[16];
        final float[] min = new float[16];
        final int[] levels = new int[32 * 16];
        final float[] out = new float[2];
    }

    /**
     * make_qkx2_quants after its first guess: the candidate loop for is = 0..nstep. Takes the
     * state the reference has at that point (min, max, sum_w, sum_x, the first guess's levels in
     * L and its error) and returns {scale, min} of the winner in {@code out}, writing its levels to
     * L. The reference carries {@code min} from a winning candidate into the next candidates'
     * scales, so lanes after a winner that changed {@code min} are evaluated again with the new one.
     */
    static void qkx2Candidates(int n, int nmax, float[] x, int xo, float[] w, int wo, byte[] L, int lo, float rmin,
            float rdelta, int nstep, boolean useMad, float min, float max, float sumW, float sumX, float bestError,
            float scale0, float[] out, Scratch s) {
        int candidates = nstep + 1;
        float best = bestError;
        float bestScale = scale0;
        int start = 0;
        while (start < candidates) {
            float range = max - min;
            int lanes = Math.min(V, candidates - start);
            for (int k = 0; k < V; k++) {
                s.iscale[k] = (rmin + rdelta * (start + Math.min(k, lanes - 1)) + nmax) / range;
            }
            FloatVector isc = FloatVector.fromArray(F, s.iscale, 0);
            FloatVector sl = FloatVector.zero(F);
            FloatVector sl2 = FloatVector.zero(F);
            FloatVector sxl = FloatVector.zero(F);
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                float wi = w[wo + i];
                IntVector l = isc.mul(xi - min).add(MAGIC).reinterpretAsInts().and(0x007fffff).sub(0x00400000)
                        .max(0).min(nmax);
                l.intoArray(s.levels, i * V);
                FloatVector lf = (FloatVector) l.convertShape(VectorOperators.I2F, F, 0);
                FloatVector wl = lf.mul(wi);
                sl = sl.add(wl);
                sl2 = sl2.add(wl.mul(lf));
                sxl = sxl.add(wl.mul(xi));
            }
            FloatVector det = sl2.mul(sumW).sub(sl.mul(sl));
            FloatVector thisScale = sxl.mul(sumW).sub(sl.mul(sumX)).div(det);
            FloatVector thisMin = sl2.mul(sumX).sub(sl.mul(sxl)).div(det);
            VectorMask<Float> positive = thisMin.compare(VectorOperators.GT, 0f);
            thisScale = thisScale.blend(sxl.div(sl2), positive);
            thisMin = thisMin.blend(0f, positive);
            FloatVector cur = FloatVector.zero(F);
            if (useMad) { // two loops: a vector-valued ?: would cost twice as much
                for (int i = 0; i < n; i++) {
                    FloatVector lf = (FloatVector) IntVector.fromArray(I, s.levels, i * V).convertShape(VectorOperators.I2F, F, 0);
                    cur = cur.add(thisScale.mul(lf).add(thisMin).sub(x[xo + i]).abs().mul(w[wo + i]));
                }
            } else {
                for (int i = 0; i < n; i++) {
                    FloatVector lf = (FloatVector) IntVector.fromArray(I, s.levels, i * V).convertShape(VectorOperators.I2F, F, 0);
                    FloatVector diff = thisScale.mul(lf).add(thisMin).sub(x[xo + i]);
                    cur = cur.add(diff.mul(diff).mul(w[wo + i]));
                }
            }
            det.intoArray(s.det, 0);
            cur.intoArray(s.err, 0);
            thisScale.intoArray(s.scale, 0);
            thisMin.intoArray(s.min, 0);
            int next = start + lanes;
            for (int k = 0; k < lanes; k++) {
                if (s.det[k] > 0 && s.err[k] < best) {
                    best = s.err[k];
                    bestScale = s.scale[k];
                    for (int i = 0; i < n; i++) {
                        L[lo + i] = (byte) s.levels[i * V + k];
                    }
                    if (Float.floatToRawIntBits(s.min[k]) != Float.floatToRawIntBits(min)) {
                        min = s.min[k];
                        next = start + k + 1; // later lanes used the old min: evaluate them again
                        break;
                    }
                }
            }
            start = next;
        }
        out[0] = bestScale;
        out[1] = min;
    }

    /**
     * make_qx_quants' candidate loop (is = -9..9 without 0) after its first guess with scale
     * {@code scale0} and {@code best0} = scale0 * sumlx; returns the winning scale and writes its
     * levels (+nmax) to L.
     */
    static float qxCandidates(int n, int nmax, float[] x, int xo, byte[] L, int lo, float max, float scale0, float best0,
            Scratch s) {
        int candidates = 18;
        for (int c = 0; c < candidates; c++) {
            int is = c < 9 ? c - 9 : c - 8;
            s.iscale[c] = -(nmax + 0.1f * is) / max;
        }
        float best = best0;
        float scale = scale0;
        for (int g = 0; g < candidates; g += V) {
            FloatVector isc = FloatVector.fromArray(F, s.iscale, g);
            FloatVector slx = FloatVector.zero(F);
            FloatVector sl2 = FloatVector.zero(F);
            for (int i = 0; i < n; i++) {
                float xi = x[xo + i];
                float wx = xi * xi * xi;
                float w = xi * xi;
                IntVector l = isc.mul(xi).add(MAGIC).reinterpretAsInts().and(0x007fffff).sub(0x00400000)
                        .max(-nmax).min(nmax - 1);
                l.intoArray(s.levels, i * V);
                FloatVector lf = (FloatVector) l.convertShape(VectorOperators.I2F, F, 0);
                slx = slx.add(lf.mul(wx));
                sl2 = sl2.add(lf.mul(w).mul(lf));
            }
            slx.intoArray(s.sumXL, 0);
            sl2.intoArray(s.sumL2, 0);
            int lanes = Math.min(V, candidates - g);
            for (int k = 0; k < lanes; k++) {
                float sumlx = s.sumXL[k];
                float suml2 = s.sumL2[k];
                if (suml2 > 0 && sumlx * sumlx > best * suml2) {
                    for (int i = 0; i < n; i++) {
                        L[lo + i] = (byte) (nmax + s.levels[i * V + k]);
                    }
                    scale = sumlx / suml2;
                    best = scale * sumlx;
                }
            }
        }
        return scale;
    }
}
