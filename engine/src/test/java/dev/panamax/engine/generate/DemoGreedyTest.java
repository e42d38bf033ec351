package dev.panamax.engine.generate;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panamax.engine.DemoModels;
import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.speculative.DraftModel;
import dev.panamax.engine.speculative.VocabBridge;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Greedy generation from the embedded demo model (models/demo-target-Q4_K_M.gguf) is
 * deterministic: a golden continuation of a fixed prompt, the same on every run and thread count;
 * below it, the logits of a real text are bit for bit the same (the reference model's greedy text
 * is a loop, which small numeric drift would not change).
 */
class DemoGreedyTest {
    static final String PROMPT = "And the LORD said unto Moses,";
    static final int TOKENS = 32;
    /** Recorded from this engine (raw completion, no chat template, loop guard off). */
    static final String GOLDEN = " and the LORD shall be the LORD, and the LORD shall be the LORD, and the LORD shall be the LORD,"
            + " and the LORD shall be the LORD,";

    static Model target;

    @BeforeAll
    static void open() {
        target = Model.open(DemoModels.target());
    }

    @AfterAll
    static void close() {
        target.close();
    }

    static SessionOptions options(int threads) {
        return SessionOptions.defaults().withContext(256).withThreads(threads);
    }

    static Generator.Settings settings() {
        return new Generator.Settings(TOKENS, List.of(), 0, SamplerConfig.greedy());
    }

    static int[] prompt() {
        return target.tokenizer().encode(PROMPT, target.tokenizer().addBos(), true);
    }

    static Generator.Result greedy(int threads) {
        try (Session s = target.newSession(options(threads))) {
            return new Generator(s, target.tokenizer()).generate(prompt(), settings(), t -> { }, () -> false);
        }
    }

    @Test
    void greedyTextIsTheGoldenTextOnEveryRunAndThreadCount() {
        Generator.Result first = greedy(1);
        assertEquals(GOLDEN, first.text(), "greedy, 1 thread");
        assertEquals(TOKENS, first.tokens().length);
        assertEquals(StopReason.LENGTH, first.reason());
        assertEquals(GOLDEN, greedy(1).text(), "greedy, 1 thread, second run");
        assertEquals(GOLDEN, greedy(2).text(), "greedy, 2 threads");
        assertEquals(GOLDEN, greedy(2).text(), "greedy, 2 threads, second run");
    }

    @Test
    void speculativeGreedyWithTheOtherVocabularyDraftGivesTheSameText() {
        try (Model draft = Model.open(DemoModels.draft()); Session t = target.newSession(options(2));
                Session d = draft.newSession(options(2))) {
            VocabBridge bridge = new VocabBridge(target.tokenizer(), draft.tokenizer(), List.of());
            Generator g = new Generator(t, target.tokenizer(), new DraftModel(d, draft.tokenizer(), bridge, 8, 0, 0f));
            Generator.Result r = g.generate(prompt(), settings(), s -> { }, () -> false);
            assertEquals(GOLDEN, r.text(), "speculative greedy (draft with a different vocabulary)");
            System.out.printf("speculative: %d drafted, %d accepted%n", r.speculation().drafted(), r.speculation().accepted());
        }
    }

    /** Every position's logits for the first 256 tokens of held-out-small.txt, in batches of 64. */
    static float[] logits(int threads) throws IOException {
        int[] tokens = Arrays.copyOf(target.tokenizer().encode(DemoModels.text("held-out-small.txt"), false, true), 256);
        int vocab = target.config().vocab();
        float[] all = new float[tokens.length * vocab];
        try (Session s = target.newSession(options(threads).withBatch(64))) {
            s.forward(tokens, 0, tokens.length, 0, (i, l, o) -> System.arraycopy(l, o, all, i * vocab, vocab));
        }
        return all;
    }

    /**
     * Compared warm: on a cold JVM the first pass differs (up to about 0.03 in a logit, from
     * position 1 on) because attention's softmax uses the Vector API's EXP, which the JIT's
     * intrinsic rounds differently from the interpreter's fallback; once compiled, results
     * repeat exactly.
     */
    @Test
    void logitsAreBitForBitTheSameOnEveryRunAndThreadCount() throws IOException {
        logits(2); // warm-up
        float[] one = logits(1);
        assertArrayEquals(one, logits(1), "1 thread, twice");
        assertArrayEquals(one, logits(2), "1 and 2 threads");
        assertArrayEquals(one, logits(2), "2 threads, again");
    }
}
