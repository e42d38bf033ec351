package dev.panamax.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;

class SamplerTest {
    private static float[] logits(int n, long seed) {
        Random r = new Random(seed);
        float[] l = new float[n];
        for (int i = 0; i < n; i++) {
            l[i] = (float) r.nextGaussian() * 3;
        }
        return l;
    }

    private static SamplerConfig cfg(float temp, int topK, float topP, float minP, float rep, float freq, float pres, long seed) {
        return new SamplerConfig(temp, topK, topP, minP, rep, 64, freq, pres, seed);
    }

    @Test
    void greedyIsArgmax() {
        float[] l = logits(1000, 1);
        int best = Sampler.argmax(l, 0, l.length);
        assertEquals(best, new Sampler(SamplerConfig.greedy(), 1000).sample(l, 0, new int[0], 0));
        float[] copy = l.clone();
        new Sampler(cfg(0.8f, 1, 1f, 0f, 1f, 0f, 0f, 5), 1000).sample(l, 0, new int[0], 0);
        assertArrayEquals(copy, l, "logits are left unchanged");
        assertEquals(best, new Sampler(cfg(0.8f, 1, 1f, 0f, 1f, 0f, 0f, 5), 1000).sample(l, 0, new int[0], 0), "top-k 1");
        assertEquals(best, new Sampler(cfg(0.8f, 0, 1e-6f, 0f, 1f, 0f, 0f, 5), 1000).sample(l, 0, new int[0], 0), "tiny top-p");
        assertEquals(best, new Sampler(cfg(0.8f, 0, 1f, 0.9999f, 1f, 0f, 0f, 5), 1000).sample(l, 0, new int[0], 0), "min-p ~1");
    }

    @Test
    void sameSeedSameTokensDifferentSeedDifferentTokens() {
        float[] l = logits(500, 2);
        int[] a = new int[50];
        int[] b = new int[50];
        int[] c = new int[50];
        Sampler sa = new Sampler(SamplerConfig.defaults(42).withTemperature(1.5f), 500);
        Sampler sb = new Sampler(SamplerConfig.defaults(42).withTemperature(1.5f), 500);
        Sampler sc = new Sampler(SamplerConfig.defaults(43).withTemperature(1.5f), 500);
        for (int i = 0; i < 50; i++) {
            a[i] = sa.sample(l, 0, new int[0], 0);
            b[i] = sb.sample(l, 0, new int[0], 0);
            c[i] = sc.sample(l, 0, new int[0], 0);
        }
        assertArrayEquals(a, b);
        assertNotEquals(java.util.Arrays.toString(a), java.util.Arrays.toString(c));
    }

    @Test
    void distributionFollowsTopKTopPMinPAndTemperature() {
        float[] l = {2f, 1f, 0f, -1f, 5f, 3f};
        // softmax of {5,3,2,1,0,-1}: 0.8438, 0.1142, 0.0420, 0.0155, 0.0057, 0.0021
        Sampler.Distribution d = new Sampler(cfg(1f, 3, 1f, 0f, 1f, 0f, 0f, 0), 6).distribution(l, 0, new int[0], 0);
        assertEquals(3, d.size());
        assertArrayEquals(new int[] {4, 5, 0}, java.util.Arrays.copyOf(d.ids(), 3));
        double z = Math.exp(5) + Math.exp(3) + Math.exp(2);
        assertEquals(Math.exp(5) / z, d.probs()[0], 1e-6);
        d = new Sampler(cfg(1f, 0, 0.9f, 0f, 1f, 0f, 0f, 0), 6).distribution(l, 0, new int[0], 0);
        assertEquals(2, d.size(), "0.8438 < 0.9 <= 0.958: two tokens");
        d = new Sampler(cfg(1f, 0, 1f, 0.04f, 1f, 0f, 0f, 0), 6).distribution(l, 0, new int[0], 0);
        assertEquals(3, d.size(), "p/pmax >= 0.04 keeps 5, 3, 2 (e^-3 = 0.0498), not 1 (e^-4)");
        d = new Sampler(cfg(2f, 2, 1f, 0f, 1f, 0f, 0f, 0), 6).distribution(l, 0, new int[0], 0);
        double e = Math.exp(2.5) / (Math.exp(2.5) + Math.exp(1.5));
        assertEquals(e, d.probs()[0], 1e-6, "temperature 2 halves the logits");
    }

    @Test
    void penaltiesFollowLlamaCppRules() {
        float[] l = {2f, -2f, 1f, 0.5f};
        int[] history = {0, 1, 1, 3};
        Sampler.Distribution d = new Sampler(cfg(1f, 0, 1f, 0f, 2f, 0.5f, 0.25f, 0), 4).distribution(l, 0, history, 4);
        // token 0: 2/2 - 1*0.5 - 0.25 = 0.25; token 1: -2*2 - 2*0.5 - 0.25 = -5.25; token 2: 1; token 3: 0.5/2 - 0.75 = -0.5
        assertArrayEquals(new int[] {2, 0, 3, 1}, d.ids());
        double z = Math.exp(1) + Math.exp(0.25) + Math.exp(-0.5) + Math.exp(-5.25);
        assertEquals(Math.exp(0.25) / z, d.probs()[1], 1e-6);
    }

    @Test
    void drawsMatchTheDistribution() {
        float[] l = {0f, (float) Math.log(3), (float) Math.log(6)};
        Sampler s = new Sampler(cfg(1f, 0, 1f, 0f, 1f, 0f, 0f, 9), 3);
        int[] counts = new int[3];
        for (int i = 0; i < 20000; i++) {
            counts[s.sample(l, 0, new int[0], 0)]++;
        }
        assertEquals(0.1, counts[0] / 20000.0, 0.01);
        assertEquals(0.3, counts[1] / 20000.0, 0.015);
        assertEquals(0.6, counts[2] / 20000.0, 0.015);
    }

    @Test
    void fullSortPathMatchesPartialSelection() {
        float[] l = logits(3000, 4);
        Sampler.Distribution small = new Sampler(cfg(1f, 100, 0.9f, 0f, 1f, 0f, 0f, 0), 3000).distribution(l, 0, new int[0], 0);
        Sampler.Distribution big = new Sampler(cfg(1f, 2000, 0.9f, 0f, 1f, 0f, 0f, 0), 3000).distribution(l, 0, new int[0], 0);
        assertTrue(small.size() <= 100);
        for (int i = 0; i < Math.min(small.size(), big.size()); i++) {
            assertEquals(big.ids()[i], small.ids()[i], "rank " + i);
        }
    }
}
