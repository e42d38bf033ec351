package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * dot, dotTokens and the MatOps drivers of the K-quants against double-precision references.
 *
 * <p>Tolerance. The kernels compute, per super-block b, the exact integer sums isum_b (levels x
 * scales x int8 activations) and msum_b (mins x block sums), then in float
 * S_b = (d_b*da_b)*isum_b and M_b = (dmin_b*da_b)*msum_b, accumulated over the nb super-blocks in
 * vector lanes and reduced at the end. With u = 2^-24, each S_b and M_b carries at most 2u relative
 * error and the accumulation at most (nb + log2 lanes) u of the sum of magnitudes, so
 * |dot - E| <= (nb + 8) u T with T = sum_i (|s_i| + |m_i|) |a_i|, where s_i = d*sc*q is the scale
 * part and m_i = dmin*m the min part of weight i (w_i = s_i - m_i, so T <= sum (|w_i| + 2|m_i|)|a_i|)
 * and a_i the dequantized Q8_K activation. E is the exact value; the reference R1 = sum w_i a_i in
 * double uses w_i from dequantizeReference, rounded once: |R1 - E| <= u sum |w_i a_i|.
 * Against the float activations x the Q8_K rounding adds at most sum |w_i| (0.501 |d8_b| + 3u |x_i|).
 * The tests allow twice these bounds. Any decoding error (a wrong nibble, bit or scale) is of the
 * order of |w_i a_i| for some i and fails them.
 */
@Tag("vector")
class KQuantDotTest {
    private static final double U = Math.scalb(1.0, -24);

    enum K {
        Q2_K(GgmlType.Q2_K, 16, 80), Q3_K(GgmlType.Q3_K, 0, 0), Q4_K(GgmlType.Q4_K, 16, 144),
        Q5_K(GgmlType.Q5_K, 16, 176), Q6_K(GgmlType.Q6_K, 0, 0);

        final GgmlType type;
        /** Byte range of the levels inside a block; zeroing it leaves -dmin*m (types with mins). */
        final int levelsFrom;
        final int levelsTo;

        K(GgmlType type, int levelsFrom, int levelsTo) {
            this.type = type;
            this.levelsFrom = levelsFrom;
            this.levelsTo = levelsTo;
        }
    }

    static final int ROWS = 37;
    static final int TOKENS = 26;
    /** Token counts for the matrix products: per-token dots below {@link MatOps#panelMinTokens}, float panels from it, whole and partial token vectors. */
    static final int[] MATMUL_TOKENS = {1, 2, 3, 4, 5, 8, 9, 11, 12, 13, 19, 20, 21, 26};

    /** A test matrix: quantized rows, their dequantized values and min parts. */
    static final class Fixture {
        final QuantFormat f;
        final int cols;
        final byte[] data;
        final MemorySegment seg;
        final float[] w;
        final float[] minPart;
        final Activations x;

        Fixture(K k, int cols, long seed) {
            f = Kernels.of(k.type);
            this.cols = cols;
            int rb = (int) f.rowBytes(cols);
            data = new byte[ROWS * rb];
            seg = MemorySegment.ofArray(data);
            SplittableRandom rnd = new SplittableRandom(seed);
            float[] row = new float[cols];
            for (int r = 0; r < ROWS; r++) {
                if (r < ROWS - 6) {
                    // realistic rows: quantized gaussians of varied scale and offset
                    double scale = Math.pow(10, rnd.nextInt(-3, 3));
                    double mean = r % 3 == 0 ? scale * rnd.nextDouble(-1, 1) : 0;
                    for (int i = 0; i < cols; i++) {
                        row[i] = (float) (mean + scale * gaussian(rnd));
                    }
                    f.quantize(row, 0, seg, (long) r * rb, cols);
                } else {
                    // random level bytes with finite moderate scales: any level pattern, incl. maxima
                    for (int i = 0; i < rb; i++) {
                        data[r * rb + i] = (byte) (r == ROWS - 1 ? 0xFF : rnd.nextInt(256));
                    }
                    int bb = k.type.blockBytes();
                    for (int b = 0; b < rb / bb; b++) {
                        for (int off : fp16Offsets(k)) {
                            short h = Float.floatToFloat16((float) rnd.nextDouble(0.001, 0.1) * (rnd.nextBoolean() ? 1 : -1));
                            data[r * rb + b * bb + off] = (byte) h;
                            data[r * rb + b * bb + off + 1] = (byte) (h >> 8);
                        }
                    }
                }
            }
            w = new float[ROWS * cols];
            f.dequantizeReference(seg, 0, w, 0, ROWS * cols);
            minPart = new float[ROWS * cols];
            if (k.levelsTo > 0) {
                byte[] zeroed = data.clone();
                int bb = k.type.blockBytes();
                for (int b = 0; b < zeroed.length / bb; b++) {
                    java.util.Arrays.fill(zeroed, b * bb + k.levelsFrom, b * bb + k.levelsTo, (byte) 0);
                }
                f.dequantizeReference(MemorySegment.ofArray(zeroed), 0, minPart, 0, ROWS * cols);
            }
            x = new Activations(TOKENS, cols);
            float[] a = x.f32();
            for (int t = 0; t < TOKENS; t++) {
                for (int i = 0; i < cols; i++) {
                    a[t * cols + i] = switch (t) {
                        case 0 -> 1.5f; // all levels -127: the extreme the short sums must hold
                        case 1 -> (i & 1) == 0 ? 3f : -3f;
                        case 2 -> i % 97 == 0 ? 100f : 0.01f * (float) gaussian(rnd);
                        default -> (float) (Math.pow(10, t - 5) * gaussian(rnd));
                    };
                }
            }
            x.prepare(ActivationType.Q8_K);
        }

        long rowOffset(int r) {
            return r * f.rowBytes(cols);
        }

        /** The dequantized Q8_K activation i of token t. */
        double a(int t, int i) {
            return x.q8_K()[t * cols + i] * (double) x.q8_KScale()[(t * cols + i) / 256];
        }

        double ref(int r, int t) {
            double s = 0;
            for (int i = 0; i < cols; i++) {
                s += (double) w[r * cols + i] * a(t, i);
            }
            return s;
        }

        double tol(int r, int t) {
            return bound(r, t, cols / 256);
        }

        /**
         * The bound of the multi-token float panels: as {@link #tol} with the kernel's own count of
         * roundings per product ({@link FloatDot#panelRoundings}) in place of the decode kernels'.
         */
        double tolPanel(int r, int t) {
            return bound(r, t, FloatDot.panelRoundings(cols));
        }

        /** 2 ((roundings + 8) u sum|w a| (with twice the min term) + u sum|w a|). */
        private double bound(int r, int t, int roundings) {
            double tm = 0;
            double wa = 0;
            for (int i = 0; i < cols; i++) {
                double ai = Math.abs(a(t, i));
                tm += (Math.abs(w[r * cols + i]) + 2 * Math.abs(minPart[r * cols + i])) * ai;
                wa += Math.abs(w[r * cols + i]) * ai;
            }
            return 2 * ((roundings + 8) * U * tm + U * wa);
        }

        double refF32(int r, int t) {
            double s = 0;
            for (int i = 0; i < cols; i++) {
                s += (double) w[r * cols + i] * x.f32()[t * cols + i];
            }
            return s;
        }

        double tolF32(int r, int t) {
            double e = 0;
            for (int i = 0; i < cols; i++) {
                double d8 = Math.abs(x.q8_KScale()[(t * cols + i) / 256]);
                e += Math.abs(w[r * cols + i]) * (0.501 * d8 + 3 * U * Math.abs(x.f32()[t * cols + i]));
            }
            return tol(r, t) + 2 * e;
        }
    }

    static int[] fp16Offsets(K k) {
        return switch (k) {
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q4_K, Q5_K -> new int[] {0, 2};
            case Q6_K -> new int[] {208};
        };
    }

    static double gaussian(SplittableRandom rnd) {
        return Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }

    static void assertClose(double expected, double actual, double tol, String what) {
        assertTrue(Math.abs(expected - actual) <= tol,
                () -> what + ": expected " + expected + " got " + actual + " (diff " + Math.abs(expected - actual)
                        + ", tolerance " + tol + ")");
    }

    @ParameterizedTest
    @EnumSource(K.class)
    void dotMatchesDoubleReference(K k) {
        for (int cols : new int[] {256, 1280}) {
            Fixture fx = new Fixture(k, cols, 7 + cols);
            for (int r = 0; r < ROWS; r++) {
                for (int t = 0; t < TOKENS; t++) {
                    float got = fx.f.dot(fx.seg, fx.rowOffset(r), fx.x, t);
                    String what = k + " cols " + cols + " row " + r + " token " + t;
                    assertClose(fx.ref(r, t), got, fx.tol(r, t), what + " vs Q8_K activations");
                    assertClose(fx.refF32(r, t), got, fx.tolF32(r, t), what + " vs float activations");
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(K.class)
    void dotTokensEqualsDotPerToken(K k) {
        Fixture fx = new Fixture(k, 768, 99);
        float[] out = new float[3 * TOKENS + 2];
        for (int r = 0; r < ROWS; r += 3) {
            for (int t0 = 0; t0 < TOKENS; t0++) {
                for (int n = 1; t0 + n <= TOKENS; n++) {
                    java.util.Arrays.fill(out, Float.NaN);
                    fx.f.dotTokens(fx.seg, fx.rowOffset(r), fx.x, t0, n, out, 2, 3);
                    for (int t = 0; t < n; t++) {
                        float single = fx.f.dot(fx.seg, fx.rowOffset(r), fx.x, t0 + t);
                        String what = k + " row " + r + " tokens " + t0 + "+" + n + " #" + t;
                        assertClose(single, out[2 + 3 * t], 2 * fx.tol(r, t0 + t), what + " vs dot");
                        assertClose(fx.ref(r, t0 + t), out[2 + 3 * t], fx.tol(r, t0 + t), what + " vs reference");
                    }
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(K.class)
    void matvecAndMatmulThroughWorkerPools(K k) {
        // 1280 columns: the float panels take them in chunks of 512 (a partial last one)
        Fixture fx = new Fixture(k, 1280, 5);
        QuantMatrix m = new QuantMatrix(fx.f, fx.seg, ROWS, fx.cols);
        for (int threads = 1; threads <= 3; threads++) {
            try (WorkerPool pool = new WorkerPool(threads)) {
                float[] out = new float[ROWS + 1];
                MatOps.matvec(m, fx.x, out, 1, pool);
                for (int r = 0; r < ROWS; r++) {
                    assertClose(fx.ref(r, 0), out[1 + r], fx.tol(r, 0), k + " matvec threads " + threads + " row " + r);
                }
                for (int tokens : MATMUL_TOKENS) {
                    Activations x = new Activations(TOKENS, fx.cols);
                    System.arraycopy(fx.x.f32(), 0, x.f32(), 0, TOKENS * fx.cols);
                    x.setTokens(tokens);
                    float[] mm = new float[tokens * ROWS];
                    MatOps.matmul(m, x, mm, pool);
                    for (int t = 0; t < tokens; t++) {
                        for (int r = 0; r < ROWS; r++) {
                            double tol = tokens < MatOps.panelMinTokens(ActivationType.Q8_K) ? fx.tol(r, t) : fx.tolPanel(r, t);
                            assertClose(fx.ref(r, t), mm[t * ROWS + r], tol,
                                    k + " matmul threads " + threads + " tokens " + tokens + " row " + r + " token " + t);
                        }
                    }
                }
            }
        }
    }
}
