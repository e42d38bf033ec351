package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

@Tag("vector")
class ActivationsTest {
    /** Where value l of 32-value sub-block j lands in a super-block of the paired even/odd form. */
    private static int pairedPosition(int j, int l, int stride, int chunks) {
        if (chunks == 1) {
            return 32 * j + (l % 2) * 16 + l / 2;
        }
        int member = (j / stride) % 2;
        int lower = j - member * stride;
        int rank = 0;
        for (int i = 0; i < lower; i++) {
            if ((i / stride) % 2 == 0) {
                rank++;
            }
        }
        return 64 * rank + 32 * (l % 2) + 16 * member + l / 2;
    }

    @Test
    void q8_0RoundsEachValueAsMathRoundDoes() {
        // gaussians, values that land on and next to ties (x * id = k + 0.5, 0.49999997, -0.5 ...),
        // an all-zero block and a subnormal maximum
        int blocks = 64;
        float[] x = new float[32 * blocks];
        Random r = new Random(11);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        for (int b = 8; b < 40; b++) {
            // amax 127 makes d = 1 and id = 1: the values are their own x * id
            x[32 * b] = 127f;
            for (int j = 1; j < 32; j++) {
                float k = r.nextInt(-126, 126);
                float[] near = {k + 0.5f, k - 0.5f, Math.nextUp(k + 0.5f), Math.nextDown(k + 0.5f),
                        0.49999997f, -0.49999997f, -0.5f, 0.5f, -1.5f, k};
                x[32 * b + j] = near[(b + j) % near.length];
            }
        }
        java.util.Arrays.fill(x, 32 * 40, 32 * 41, 0f);
        for (int j = 0; j < 32; j++) {
            x[32 * 41 + j] = Float.MIN_VALUE * j;
        }
        byte[] q = new byte[x.length];
        float[] scale = new float[blocks];
        int[] sum = new int[blocks];
        ActivationQuantizer.q8_0(x, 0, x.length, q, scale, sum);
        for (int b = 0; b < blocks; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[32 * b + j]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            assertEquals(d, scale[b], "block " + b + " scale");
            int s = 0;
            for (int j = 0; j < 32; j++) {
                int v = Math.round(x[32 * b + j] * id);
                assertEquals((byte) v, q[32 * b + j], "block " + b + " value " + j + " (" + x[32 * b + j] + ")");
                s += v;
            }
            assertEquals(s, sum[b], "block " + b + " sum");
        }
    }

    @Test
    void q8_KMatchesTheReferenceQuantizationValueForValue() {
        // gaussians; blocks whose maximum is -127 (iscale 1) with values on and next to ties of
        // both parities; +a and -a both of the largest magnitude (the first decides the sign);
        // all zero; a subnormal maximum; a NaN
        int blocks = 24;
        float[] x = new float[256 * blocks];
        Random r = new Random(5);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (r.nextGaussian() * Math.pow(10, r.nextInt(-3, 3)));
        }
        for (int b = 4; b < 12; b++) {
            x[256 * b] = -127f;
            for (int j = 1; j < 256; j++) {
                float k = r.nextInt(-126, 126);
                float[] near = {k + 0.5f, k - 0.5f, Math.nextUp(k + 0.5f), Math.nextDown(k + 0.5f),
                        0.49999997f, -0.49999997f, -0.5f, 0.5f, 1.5f, -1.5f, 2.5f, -2.5f, k};
                x[256 * b + j] = near[(b + j) % near.length];
            }
        }
        x[256 * 12 + 3] = 9f;
        x[256 * 12 + 7] = -9f;
        x[256 * 13 + 200] = -9f;
        x[256 * 13 + 201] = 9f;
        java.util.Arrays.fill(x, 256 * 14, 256 * 15, 0f);
        for (int j = 0; j < 256; j++) {
            x[256 * 15 + j] = Float.MIN_VALUE * (j % 7);
        }
        x[256 * 16 + 9] = Float.NaN;
        byte[] q = new byte[x.length];
        float[] scale = new float[blocks];
        int[] sum16 = new int[x.length / 16];
        ActivationQuantizer.q8_K(x, 0, x.length, q, scale, sum16);
        byte[] qRef = new byte[x.length];
        float[] scaleRef = new float[blocks];
        int[] sumRef = new int[x.length / 16];
        for (int b = 0; b < blocks; b++) {
            ActivationQuantizer.q8_KScalar(x, 256 * b, qRef, scaleRef, sumRef);
        }
        for (int i = 0; i < x.length; i++) {
            assertEquals(qRef[i], q[i], "block " + i / 256 + " value " + i % 256 + " (" + x[i] + ")");
        }
        for (int b = 0; b < blocks; b++) {
            assertEquals(scaleRef[b], scale[b], "block " + b + " scale");
        }
        for (int g = 0; g < sum16.length; g++) {
            assertEquals(sumRef[g], sum16[g], "group " + g + " sum");
        }
    }

    @Test
    void evenOddFormSplitsEachGroupOf32IntoItsEvenThenOddValues() {
        int tokens = 3;
        int dim = 512;
        Activations x = new Activations(tokens, dim);
        Random r = new Random(7);
        for (int i = 0; i < tokens * dim; i++) {
            x.f32()[i] = (float) r.nextGaussian();
        }
        x.invalidate();
        x.prepare(ActivationType.Q8_K);
        short[] wide = x.q8_KWide();
        byte[] q = x.q8_K();
        for (int stride : new int[] {1, 2, 4}) {
            short[] split = x.q8_KPairs(stride);
            for (int i = 0; i < tokens * dim; i++) {
                assertEquals(q[i], wide[i], "wide value " + i);
                int sb = i / 256;
                int j = i % 256 / 32;
                int l = i % 32;
                assertEquals(wide[i], split[256 * sb + pairedPosition(j, l, stride, KQuants.KW)], "stride " + stride + " value " + i);
            }
        }
    }

    @Test
    void twoChunkPairingPutsSubBlocksStrideApartInOneVector() {
        // the 512-bit order, checked on any machine
        short[] q = new short[512];
        for (int i = 0; i < q.length; i++) {
            q[i] = (short) i;
        }
        for (int stride : new int[] {1, 2, 4}) {
            short[] out = new short[512];
            Activations.pairEvenOdd(q, out, 512, stride, 2);
            for (int i = 0; i < q.length; i++) {
                assertEquals(q[i], out[256 * (i / 256) + pairedPosition(i % 256 / 32, i % 32, stride, 2)], "stride " + stride + " value " + i);
            }
        }
        // e.g. stride 2: the first vector holds the even values of sub-blocks 0 and 2
        short[] out = new short[256];
        Activations.pairEvenOdd(q, out, 256, 2, 2);
        assertEquals(0, out[0]);
        assertEquals(30, out[15]);
        assertEquals(64, out[16]);
        assertEquals(1, out[32]);
        assertEquals(32, out[64]);
    }

    @Test
    void evenOddFormFollowsNewValuesAfterInvalidate() {
        Activations x = new Activations(1, 256);
        x.f32()[5] = 1f;
        x.invalidate();
        x.prepare(ActivationType.Q8_K);
        // the lone value takes the full int8 range (its sign follows ggml's scale convention)
        int at5 = pairedPosition(0, 5, 1, KQuants.KW);
        int at6 = pairedPosition(0, 6, 1, KQuants.KW);
        assertEquals(127, Math.abs(x.q8_KPairs(1)[at5]));
        x.f32()[5] = 0f;
        x.f32()[6] = -1f;
        x.invalidate();
        x.prepare(ActivationType.Q8_K);
        assertEquals(0, x.q8_KPairs(1)[at5]);
        assertEquals(127, Math.abs(x.q8_KPairs(1)[at6]));
        assertEquals(x.q8_K()[6], x.q8_KPairs(1)[at6]);
    }

    @Test
    void rejectsEmptyShapes() {
        assertThrows(IllegalArgumentException.class, () -> new Activations(0, 256));
    }
}
