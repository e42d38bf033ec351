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
