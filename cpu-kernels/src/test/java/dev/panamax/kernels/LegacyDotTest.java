package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The fast dot products against a double-precision reference.
 *
 * <p>Tolerance. The quantized kernels sum each 32-block exactly in int (|sum| < 2^24, except
 * IQ4_XS's 256-block sums, converted with one rounding), multiply by one float scale product
 * (one rounding) and accumulate with float FMAs per lane, then add the lanes and, for Q4_1/Q5_1,
 * a float running sum of the m * dx * xsum terms. Every rounding is at most u = 2^-24 relative,
 * and no value passes through more than k = blocks + 16 of them (one FMA per block per lane,
 * lane reduction, scale products, conversions), so |dot - exact| <= k u / (1 - k u) * M with
 * M = sum |w_i xq_i| (+ sum |m_b xq_i| where a block minimum is folded separately), both from
 * the dequantized weights and the dequantized int8 activations xq. The float kernels (F16/BF16)
 * have one FMA per value per lane: k = n / 4 + 16 at the narrowest (4 lanes).
 *
 * <p>Against the float activations x the int8 rounding adds at most sum |w_i| |x_i - xq_i|, which
 * the test computes exactly in double and adds to the bound.
 */
@Tag("vector")
class LegacyDotTest {
    private static final double U = 0x1p-24;

    /** Double-precision reference for one row and token, with its error bound. */
    record Ref(double vsQuant, double vsFloat, double boundQuant, double boundFloat, double magnitude) {
        /** The bound of the multi-token float panels, whose count of roundings per product differs. */
        double boundPanel(int n) {
            int k = FloatDot.panelRoundings(n) + 16;
            return k * U / (1 - k * U) * magnitude + Double.MIN_NORMAL;
        }
    }

    static Ref reference(QuantFormat f, MemorySegment w, long rowOffset, Activations x, int token) {
        GgmlType t = f.type();
        int n = x.dim();
        float[] wd = new float[n];
        f.dequantizeReference(w, rowOffset, wd, 0, n);
        double[] xq = new double[n];
        float[] xf = x.f32();
        switch (f.activationType()) {
            case F32 -> {
                for (int i = 0; i < n; i++) {
                    xq[i] = xf[token * n + i];
                }
            }
            case Q8_0 -> {
                for (int i = 0; i < n; i++) {
                    xq[i] = (double) x.q8_0()[token * n + i] * x.q8_0Scale()[(token * n + i) / 32];
                }
            }
            case Q8_K -> {
                for (int i = 0; i < n; i++) {
                    xq[i] = (double) x.q8_K()[token * n + i] * x.q8_KScale()[(token * n + i) / 256];
                }
            }
        }
        double dq = 0;
        double df = 0;
        double mag = 0;
        double resid = 0;
        for (int i = 0; i < n; i++) {
            double xi = xf[token * n + i];
            dq += wd[i] * xq[i];
            df += wd[i] * xi;
            mag += Math.abs(wd[i] * xq[i]);
            if (LegacyBlocks.hasMin(t)) {
                mag += Math.abs(LegacyBlocks.blockMin(w, rowOffset, t, i) * xq[i]);
            }
            resid += Math.abs(wd[i]) * Math.abs(xi - xq[i]);
        }
        int k = (t.isQuantized() ? n / 32 : n / 4) + 16;
        double gamma = k * U / (1 - k * U);
        double bq = gamma * mag + Double.MIN_NORMAL;
        return new Ref(dq, df, bq, bq + resid * (1 + 1e-12), mag);
    }

    static Activations activations(int tokens, int dim, long seed) {
        Random rnd = new Random(seed);
        Activations x = new Activations(tokens, dim);
        float[] a = x.f32();
        for (int t = 0; t < tokens; t++) {
            double scale = Math.exp(rnd.nextGaussian() * 3);
            for (int i = 0; i < dim; i++) {
                double v = rnd.nextGaussian() * scale;
                if (rnd.nextInt(50) == 0) {
                    v *= 40; // outliers, as real activations have
                }
                if ((i / 32) % 11 == 7) {
                    v = 0; // all-zero activation blocks
                }
                a[t * dim + i] = (float) v;
            }
        }
        x.invalidate();
        return x;
    }

    static int dimFor(GgmlType t) {
        return switch (t) {
            case F16, BF16 -> 1003; // no block constraint: exercises the scalar tails
            case IQ4_XS -> 256 * 5;
            default -> 32 * 37;
        };
    }

    static void assertClose(String what, float got, double want, double bound) {
        if (!(Math.abs(got - want) <= bound)) {
            fail(what + ": got " + got + ", reference " + want + ", |error| " + Math.abs(got - want) + " > bound " + bound);
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "IQ4_XS"})
    void dotAndDotTokensMatchTheDoubleReference(GgmlType type) {
        QuantFormat f = Kernels.of(type);
        int n = dimFor(type);
        int rows = 13;
        int tokens = 9;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment w = LegacyBlocks.dotRows(arena, f, rows, n, 7 + type.ordinal());
            Activations x = activations(tokens, n, 99 + type.ordinal());
            x.prepare(f.activationType());
            long rb = f.rowBytes(n);
            float[] out = new float[3 + tokens * 5];
            for (int r = 0; r < rows; r++) {
                Ref[] refs = new Ref[tokens];
                float[] dots = new float[tokens];
                for (int t = 0; t < tokens; t++) {
                    Ref ref = reference(f, w, r * rb, x, t);
                    refs[t] = ref;
                    float d = f.dot(w, r * rb, x, t);
                    dots[t] = d;
                    assertClose(type + " row " + r + " token " + t + " vs int8 activations", d, ref.vsQuant(), ref.boundQuant());
                    assertClose(type + " row " + r + " token " + t + " vs float activations", d, ref.vsFloat(), ref.boundFloat());
                }
                // every token count 1..9 from token 0, and shorter runs from later start tokens,
                // written with a stride
                for (int t0 : new int[] {0, 1, 6}) {
                    for (int tn = 1; t0 + tn <= tokens; tn++) {
                        java.util.Arrays.fill(out, Float.NaN);
                        f.dotTokens(w, r * rb, x, t0, tn, out, 3, 5);
                        for (int k = 0; k < tn; k++) {
                            Ref ref = refs[t0 + k];
                            assertClose(type + " dotTokens(" + t0 + ", " + tn + ") row " + r + " token " + (t0 + k),
                                    out[3 + 5 * k], ref.vsQuant(), ref.boundQuant());
                            // and the single-token kernel, within the rounding both may add
                            assertClose(type + " dotTokens(" + t0 + ", " + tn + ") vs dot, row " + r + " token " + (t0 + k),
                                    out[3 + 5 * k], dots[t0 + k], 2 * ref.boundQuant());
                        }
                        for (int i = 0; i < out.length; i++) {
                            if (i < 3 || (i - 3) % 5 != 0 || (i - 3) / 5 >= tn) {
                                assertTrue(Float.isNaN(out[i]), type + " dotTokens wrote outside its outputs at " + i);
                            }
                        }
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "IQ4_XS"})
    void matvecAndMatmulThroughMatOps(GgmlType type) {
        QuantFormat f = Kernels.of(type);
        int n = dimFor(type);
        int rows = 37; // odd: uneven partitions, partial row tiles
        try (Arena arena = Arena.ofShared()) {
            MemorySegment w = LegacyBlocks.dotRows(arena, f, rows, n, 17 + type.ordinal());
            QuantMatrix m = new QuantMatrix(f, w, rows, n);
            long rb = f.rowBytes(n);
            Activations x = activations(26, n, 5 + type.ordinal());
            x.prepare(f.activationType());
            Ref[][] refs = new Ref[rows][26];
            for (int r = 0; r < rows; r++) {
                for (int t = 0; t < 26; t++) {
                    refs[r][t] = reference(f, w, r * rb, x, t);
                }
            }
            for (int threads = 1; threads <= 3; threads++) {
                try (WorkerPool pool = new WorkerPool(threads)) {
                    // per-token dots below MatOps.panelMinTokens, float panels from it
                    for (int tokens : KQuantDotTest.MATMUL_TOKENS) {
                        x.setTokens(tokens);
                        float[] out = new float[tokens * rows];
                        MatOps.matmul(m, x, out, pool);
                        float[] vec = new float[rows + 1];
                        MatOps.matvec(m, x, vec, 1, pool);
                        for (int r = 0; r < rows; r++) {
                            Ref ref0 = refs[r][0];
                            assertClose(type + " matvec threads " + threads + " row " + r, vec[1 + r], ref0.vsQuant(), ref0.boundQuant());
                            for (int t = 0; t < tokens; t++) {
                                Ref ref = refs[r][t];
                                assertClose(type + " matmul threads " + threads + " tokens " + tokens + " row " + r + " token " + t,
                                        out[t * rows + r], ref.vsQuant(),
                                        tokens < MatOps.panelMinTokens(f.activationType()) ? ref.boundQuant() : ref.boundPanel(n));
                            }
                        }
                    }
                }
            }
        }
    }
}
