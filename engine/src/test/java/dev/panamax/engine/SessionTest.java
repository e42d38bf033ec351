package dev.panamax.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.api.Test;
import java.util.stream.Stream;

class SessionTest {
    @TempDir
    Path dir;

    static Stream<TinyModels.Shape> shapes() {
        return Stream.of(TinyModels.qwen2(), TinyModels.qwen3(), TinyModels.llama());
    }

    private static final int[] PROMPT = {5, 17, 3, 88, 42, 42, 7, 60, 1, 95, 33, 12, 70};

    @ParameterizedTest
    @MethodSource("shapes")
    void batchedPrefillEqualsTokenByTokenDecoding(TinyModels.Shape shape) throws Exception {
        Path file = TinyModels.write(dir.resolve(shape.arch() + ".gguf"), shape, 7);
        try (Model model = Model.open(file)) {
            int vocab = model.config().vocab();
            float[][] batched = new float[PROMPT.length][];
            SessionOptions opts = SessionOptions.defaults().withContext(64).withCacheTypes(GgmlType.F32, GgmlType.F32)
                    .withThreads(2);
            try (Session s = model.newSession(opts)) {
                s.forward(PROMPT, 0, PROMPT.length, 0, (i, l, o) -> batched[i] = java.util.Arrays.copyOfRange(l, o, o + vocab));
                assertEquals(PROMPT.length, s.position());
            }
            try (Session s = model.newSession(opts.withBatch(1).withThreads(1))) {
                for (int i = 0; i < PROMPT.length; i++) {
                    float[] one = s.decode(PROMPT[i]);
                    assertClose(batched[i], one, 2e-4f, "position " + i);
                }
            }
        }
    }

    @Test
    void warmUpLeavesTheSessionAsItWas() throws Exception {
        Path file = TinyModels.write(dir.resolve("w.gguf"), TinyModels.qwen3(), 5);
        try (Model model = Model.open(file)) {
            SessionOptions opts = SessionOptions.defaults().withContext(32).withCacheTypes(GgmlType.F16, GgmlType.F16)
                    .withThreads(2);
            float[] cold;
            try (Session s = model.newSession(opts)) {
                s.prefill(new int[] {1, 2});
                s.prefill(new int[] {3, 4});
                cold = s.decode(9);
            }
            try (Session s = model.newSession(opts)) {
                s.prefill(new int[] {1, 2});
                s.warmUp(); // between calls too: it must touch neither the cache nor the position
                assertEquals(2, s.position());
                s.prefill(new int[] {3, 4});
                float[] warm = s.decode(9);
                assertEquals(5, s.position());
                assertClose(cold, warm, 0f, "after a warm-up");
            }
        }
    }

    @Test
    void truncateThenReplayGivesTheSameLogits() throws Exception {
        Path file = TinyModels.write(dir.resolve("q.gguf"), TinyModels.qwen2(), 3);
        try (Model model = Model.open(file);
                Session s = model.newSession(SessionOptions.defaults().withContext(32).withCacheTypes(GgmlType.F32, GgmlType.F32))) {
            s.prefill(new int[] {1, 2, 3, 4});
            float[] a = s.decode(9);
            s.truncate(2);
            s.prefill(new int[] {3, 4});
            float[] b = s.decode(9);
            assertClose(a, b, 1e-5f, "after rollback");
            s.truncate(4);
            float[] c = s.decode(10);
            assertTrue(Math.abs(c[0] - a[0]) > 1e-6 || Math.abs(c[1] - a[1]) > 1e-6, "a different token changes logits");
        }
    }

    @Test
    void promptLongerThanTheContextIsAClearError() throws Exception {
        Path file = TinyModels.write(dir.resolve("q.gguf"), TinyModels.qwen2(), 3);
        try (Model model = Model.open(file);
                Session s = model.newSession(SessionOptions.defaults().withContext(8))) {
            PanamaxException e = assertThrows(PanamaxException.class, () -> s.prefill(new int[10]));
            assertEquals("prompt of 10 tokens does not fit the context of 8 tokens; raise it with -c (the model was trained for 2048)",
                    e.getMessage());
            s.prefill(new int[6]);
            e = assertThrows(PanamaxException.class, () -> s.prefill(new int[3]));
            assertTrue(e.getMessage().contains("(2 left)"), e.getMessage());
            e = assertThrows(PanamaxException.class, () -> s.decode(500));
            assertTrue(e.getMessage().contains("token id 500 is outside the vocabulary of 96"), e.getMessage());
        }
    }

    static void assertClose(float[] expected, float[] actual, float tol, String what) {
        assertEquals(expected.length, actual.length);
        float scale = 0;
        for (float v : expected) {
            scale = Math.max(scale, Math.abs(v));
        }
        for (int i = 0; i < expected.length; i++) {
            if (Math.abs(expected[i] - actual[i]) > tol * Math.max(1, scale)) {
                throw new AssertionError(what + ": logit " + i + " expected " + expected[i] + " got " + actual[i]);
            }
        }
    }
}
