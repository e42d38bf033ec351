package dev.panamax.engine.generate;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class LoopGuardTest {
    @Test
    void findsRepeatedBlocksOnlyOnceTheyAreLongEnough() {
        LoopGuard g = new LoopGuard(24);
        int[] t = new int[200];
        int n = 0;
        for (int i = 0; i < 10; i++) {
            t[n++] = 100 + i; // a non-repeating preamble
        }
        int[] block = {1, 2, 3, 4, 5, 6, 7};
        int found = 0;
        while (n < 60) {
            t[n] = block[(n - 10) % block.length];
            n++;
            if (found == 0 && g.loopPeriod(t, n) > 0) {
                found = n;
            }
        }
        assertEquals(7, g.loopPeriod(t, n));
        assertEquals(10 + 24, found, "reported once 24 tokens repeat with period 7");
        assertEquals(0, new LoopGuard(0).loopPeriod(t, n), "disabled");
    }

    @Test
    void ordinaryTextIsNotALoop() {
        LoopGuard g = new LoopGuard(16);
        int[] t = new int[500];
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < t.length; i++) {
            t[i] = r.nextInt(50);
        }
        for (int n = 1; n <= t.length; n++) {
            assertEquals(0, g.loopPeriod(t, n), "at " + n);
        }
        int[] same = new int[15];
        assertEquals(0, g.loopPeriod(same, 15), "15 identical tokens are under the span");
        assertEquals(1, g.loopPeriod(new int[16], 16));
    }
}
