package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import org.junit.jupiter.api.Test;

class ActivationsTest {
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
        short[] split = x.q8_KEvenOdd();
        byte[] q = x.q8_K();
        for (int i = 0; i < tokens * dim; i++) {
            assertEquals(q[i], wide[i], "wide value " + i);
            int g = i / 32;
            int l = i % 32;
            // value l of group g sits at 32g + l/2 (even l) or 32g + 16 + l/2 (odd l)
            assertEquals(wide[i], split[32 * g + (l % 2) * 16 + l / 2], "value " + i);
        }
    }

    @Test
    void evenOddFormFollowsNewValuesAfterInvalidate() {
        Activations x = new Activations(1, 256);
        x.f32()[5] = 1f;
        x.invalidate();
        x.prepare(ActivationType.Q8_K);
        // the lone value takes the full int8 range (its sign follows ggml's scale convention)
        assertEquals(127, Math.abs(x.q8_KEvenOdd()[16 + 2]));
        x.f32()[5] = 0f;
        x.f32()[6] = -1f;
        x.invalidate();
        x.prepare(ActivationType.Q8_K);
        assertEquals(0, x.q8_KEvenOdd()[16 + 2]);
        assertEquals(127, Math.abs(x.q8_KEvenOdd()[3]));
        assertEquals(x.q8_K()[6], x.q8_KEvenOdd()[3]);
    }

    @Test
    void rejectsEmptyShapes() {
        assertThrows(IllegalArgumentException.class, () -> new Activations(0, 256));
    }
}
