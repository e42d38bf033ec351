package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Ops.argmax against the plain scalar scan it replaces (first index on ties, NaNs passed over). */
class OpsArgmaxTest {

    private static int scalar(float[] x, int o, int n) {
        int best = 0;
        float bv = x[o];
        for (int i = 1; i < n; i++) {
            if (x[o + i] > bv) {
                bv = x[o + i];
                best = i;
            }
        }
        return best;
    }

    private static void check(float[] x, int o, int n) {
        assertEquals(scalar(x, o, n), Ops.argmax(x, o, n), "n " + n + " offset " + o);
    }

    @Test
    void randomRowsOfEveryLengthAndOffset() {
        SplittableRandom r = new SplittableRandom(7);
        for (int n = 1; n <= 70; n++) {
            for (int o : new int[] {0, 1, 5}) {
                float[] x = new float[o + n + 3];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) r.nextGaussian();
                }
                check(x, o, n);
            }
        }
        float[] vocab = new float[151_936];
        for (int i = 0; i < vocab.length; i++) {
            vocab[i] = (float) r.nextGaussian() * 4;
        }
        check(vocab, 0, vocab.length);
        vocab[151_935] = 100;  // the maximum in the scalar tail of a 16-lane pass
        check(vocab, 0, vocab.length);
        check(vocab, 3, vocab.length - 3);
    }

    @Test
    void tiesGoToTheFirstIndex() {
        float[] x = new float[100];
        java.util.Arrays.fill(x, -1f);
        x[37] = 2;
        x[38] = 2;
        x[90] = 2;
        check(x, 0, x.length);
        assertEquals(37, Ops.argmax(x, 0, x.length));
        java.util.Arrays.fill(x, 3f);  // all equal: index 0
        assertEquals(0, Ops.argmax(x, 0, x.length));
        float[] zeros = new float[40];
        java.util.Arrays.fill(zeros, -5f);
        zeros[9] = -0.0f;  // -0 and +0 tie: the first wins, whichever sign
        zeros[21] = 0.0f;
        check(zeros, 0, zeros.length);
        assertEquals(9, Ops.argmax(zeros, 0, zeros.length));
    }

    @Test
    void nansArePassedOver() {
        float[] x = new float[64];
        for (int i = 0; i < x.length; i++) {
            x[i] = i % 3 == 0 ? Float.NaN : -i;
        }
        x[1] = 5;
        x[50] = 7;
        check(x, 1, 63);
        assertEquals(49, Ops.argmax(x, 1, 63));
        check(x, 0, 64);  // a NaN first: index 0, as the scalar scan
        assertEquals(0, Ops.argmax(x, 0, 64));
        float[] inf = new float[33];
        java.util.Arrays.fill(inf, Float.NEGATIVE_INFINITY);
        inf[32] = Float.POSITIVE_INFINITY;
        check(inf, 0, inf.length);
        java.util.Arrays.fill(inf, Float.NEGATIVE_INFINITY);
        check(inf, 0, inf.length);
    }
}
