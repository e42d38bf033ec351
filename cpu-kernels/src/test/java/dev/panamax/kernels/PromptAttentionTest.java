package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link PromptAttention} against causal attention computed in double precision from the cache's
 * own dequantized rows ({@link AttentionReference}): every query token and head, grouped-query layouts with tiles of one and
 * several panels of query rows, prompts after earlier positions (pos0) and from the start, value
 * rows of another width than the keys, positions ending inside a panel and a chunk, one thread and
 * two, and a context too short for the prompt.
 */
@Tag("vector")
class PromptAttentionTest {

    @ParameterizedTest
    @CsvSource({
        // type, heads, kvHeads, headDim, valueDim, tokens, pos0, context, threads
        "F16, 16, 8, 128, 128, 128, 0, 160, 2",
        "F16, 12, 2, 128, 128, 37, 300, 400, 2",
        "Q8_0, 40, 8, 128, 128, 19, 5, 64, 1",
        "Q8_0, 14, 2, 64, 96, 70, 260, 400, 2",
        "F32, 4, 4, 64, 64, 2, 0, 8, 1",
        "F32, 5, 1, 40, 40, 65, 11, 100, 2",
        "F32, 60, 1, 32, 32, 3, 1, 4, 2",
    })
    void matchesDoublePrecisionCausalAttention(GgmlType type, int heads, int kvHeads, int headDim, int valueDim, int tokens,
            int pos0, int context, int threads) {
        QuantFormat f = Kernels.of(type);
        long keyBytes = f.rowBytes(headDim);
        long valueBytes = f.rowBytes(valueDim);
        int n = pos0 + tokens;
        SplittableRandom rnd = new SplittableRandom(n * 31L + heads);
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(threads)) {
            MemorySegment keys = arena.allocate(keyBytes * context * kvHeads, 64);
            MemorySegment values = arena.allocate(valueBytes * context * kvHeads, 64);
            AttentionReference.fillCache(f, keys, headDim, values, valueDim, n * kvHeads, rnd);
            float[] q = new float[tokens * heads * headDim];
            AttentionReference.fill(q, rnd, 1);
            float scale = (float) (1 / Math.sqrt(headDim));
            float[] out = new float[tokens * heads * valueDim];
            PromptAttention attention = new PromptAttention(heads, kvHeads, headDim, valueDim, context, tokens, threads);
            // twice: the second run finds the first one's leftovers in the workers' buffers
            for (int run = 0; run < 2; run++) {
                java.util.Arrays.fill(out, Float.NaN);
                attention.run(q, tokens, pos0, f, keys, f, values, scale, out, pool);
                int group = heads / kvHeads;
                for (int t = 0; t < tokens; t++) {
                    int seen = pos0 + t + 1;
                    for (int h = 0; h < heads; h++) {
                        double[] want = AttentionReference.attend(q, (t * heads + h) * headDim, f, keys, keyBytes, f, values,
                                valueBytes, kvHeads, h / group, headDim, valueDim, seen, scale);
                        for (int i = 0; i < valueDim; i++) {
                            float got = out[(t * heads + h) * valueDim + i];
                            assertEquals(want[i], got, 2e-5 + 2e-5 * Math.abs(want[i]),
                                    "run " + run + " token " + t + " head " + h + " value " + i);
                        }
                    }
                }
            }
        }
    }

    @Test
    void aPromptPastTheContextIsRefused() {
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(1)) {
            QuantFormat f = Kernels.of(GgmlType.F32);
            MemorySegment cache = arena.allocate(f.rowBytes(32) * 8, 64);
            PromptAttention attention = new PromptAttention(2, 1, 32, 32, 8, 8, 1);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> attention.run(new float[4 * 2 * 32],
                    4, 5, f, cache, f, cache, 1f, new float[4 * 2 * 32], pool));
            assertEquals("9 positions in a cache of 8", e.getMessage());
        }
    }
}
