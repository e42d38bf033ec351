package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link DecodeAttention} against attention computed in double precision from the cache's own
 * dequantized rows ({@link AttentionReference}): every query head, grouped-query layouts, lengths that end inside and on the
 * edge of a block, one thread and two (position ranges merged across units).
 */
@Tag("vector")
class DecodeAttentionTest {

    @ParameterizedTest
    @CsvSource({
        "F16, 12, 2, 128, 1, 1", "F16, 12, 2, 128, 31, 2", "F16, 12, 2, 128, 32, 2", "F16, 12, 2, 128, 33, 1",
        "F16, 12, 2, 128, 517, 2", "F16, 12, 2, 128, 2048, 2", "Q8_0, 40, 8, 128, 300, 2", "Q8_0, 16, 8, 128, 1, 2",
        "F32, 4, 4, 64, 77, 2", "F32, 5, 1, 40, 130, 1", "Q8_0, 14, 2, 64, 1000, 2",
    })
    void matchesDoublePrecisionAttention(GgmlType type, int heads, int kvHeads, int headDim, int n, int threads) {
        QuantFormat f = Kernels.of(type);
        long rowBytes = f.rowBytes(headDim);
        SplittableRandom rnd = new SplittableRandom(n * 31L + heads);
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(threads)) {
            MemorySegment keys = arena.allocate(rowBytes * n * kvHeads, 64);
            MemorySegment values = arena.allocate(rowBytes * n * kvHeads, 64);
            AttentionReference.fillCache(f, keys, headDim, values, headDim, n * kvHeads, rnd);
            float[] q = new float[heads * headDim];
            AttentionReference.fill(q, rnd, 1);
            float scale = (float) (1 / Math.sqrt(headDim));
            float[] out = new float[heads * headDim + 3];
            new DecodeAttention(heads, kvHeads, headDim, headDim, threads)
                    .run(q, 0, f, keys, f, values, n, scale, out, 3, pool);

            int group = heads / kvHeads;
            for (int h = 0; h < heads; h++) {
                double[] want = AttentionReference.attend(q, h * headDim, f, keys, rowBytes, f, values, rowBytes, kvHeads,
                        h / group, headDim, headDim, n, scale);
                for (int i = 0; i < headDim; i++) {
                    float got = out[3 + h * headDim + i];
                    assertEquals(want[i], got, 2e-5 + 2e-5 * Math.abs(want[i]), "head " + h + " value " + i);
                }
            }
            assertEquals(0f, out[0]);
            assertTrue(Float.isFinite(out[out.length - 1]));
        }
    }
}
