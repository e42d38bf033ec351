package dev.panamax.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.WorkerPool;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** What a server needs from the generator: prefix lookup, cancellable prefill, sessions sharing one pool. */
class GeneratorServingTest {
    static final Path MODEL = Path.of("src/test/resources/fixtures/qwen2-f32.gguf");
    static final SessionOptions OPTS = SessionOptions.defaults().withContext(256).withBatch(8)
            .withCacheTypes(GgmlType.F32, GgmlType.F32).withThreads(2);

    static int[] prompt(int n) {
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            p[i] = 3 + (i * 7) % 200;
        }
        return p;
    }

    static Generator.Settings settings(int maxTokens) {
        return new Generator.Settings(maxTokens, List.of(), 0, SamplerConfig.greedy());
    }

    @Test
    void prefillStopsBetweenMicroBatchesWhenCancelled() {
        try (Model model = Model.open(MODEL); Session s = model.newSession(OPTS)) {
            Generator g = new Generator(s, model.tokenizer());
            AtomicInteger checks = new AtomicInteger();
            Generator.Result r = g.generate(prompt(40), settings(10), t -> { }, () -> checks.incrementAndGet() > 2);
            assertEquals(StopReason.CANCELLED, r.reason());
            assertEquals(0, r.tokens().length);
            assertEquals(16, s.position(), "two micro-batches of 8 evaluated, then cancelled");
            assertEquals(16, g.cachedPrefix(prompt(40)), "the evaluated part is reused");
            Generator.Result full = g.generate(prompt(40), settings(4), t -> { }, () -> false);
            assertEquals(16, full.reusedTokens());
            assertEquals(4, full.tokens().length);
        }
    }

    @Test
    void sessionsSharingOnePoolComputeWhatOwnPoolsDo() throws Exception {
        int[] a = prompt(30);
        int[] b = prompt(45);
        int[] expectA;
        int[] expectB;
        try (Model model = Model.open(MODEL)) {
            try (Session s = model.newSession(OPTS)) {
                Generator g = new Generator(s, model.tokenizer());
                expectA = g.generate(a, settings(20), t -> { }, () -> false).tokens();
                g.reset();
                expectB = g.generate(b, settings(20), t -> { }, () -> false).tokens();
            }
            try (WorkerPool pool = new WorkerPool(2); ExecutorService ex = Executors.newFixedThreadPool(2);
                    Session s1 = model.newSession(OPTS, pool); Session s2 = model.newSession(OPTS, pool)) {
                for (int round = 0; round < 3; round++) {
                    Generator g1 = new Generator(s1, model.tokenizer());
                    Generator g2 = new Generator(s2, model.tokenizer());
                    Future<int[]> fa = ex.submit(() -> g1.generate(a, settings(20), t -> { }, () -> false).tokens());
                    Future<int[]> fb = ex.submit(() -> g2.generate(b, settings(20), t -> { }, () -> false).tokens());
                    assertArrayEquals(expectA, fa.get());
                    assertArrayEquals(expectB, fb.get());
                }
            }
        }
    }
}
