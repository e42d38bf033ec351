package dev.panamax.engine.speculative;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.DemoModels;
import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.generate.SamplerConfig;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Speculative greedy decoding on the trained demo models gives exactly the text of plain greedy
 * decoding, for many real prompts (openings of held-out lines), with a draft of the other
 * vocabulary (demo-draft, qwen3, 4,096 tokens: translated through text) and with a draft of the
 * same vocabulary (the Q4_K_H quantization of the target: ids used directly), at several draft lengths.
 */
class DemoSpeculativeTest {
    static Model target;
    static Model otherVocab;
    static Model sameVocab;

    @BeforeAll
    static void open() {
        target = Model.open(DemoModels.target());
        otherVocab = Model.open(DemoModels.draft());
        sameVocab = Model.open(DemoModels.file("demo-target-Q4_K_H.gguf"));
    }

    @AfterAll
    static void close() {
        target.close();
        otherVocab.close();
        sameVocab.close();
    }

    /** The first words of the first {@code n} held-out lines with at least eight words. */
    static List<String> prompts(int n) throws IOException {
        return DemoModels.text("held-out.txt").lines()
                .map(String::strip)
                .filter(l -> l.split("\\s+").length >= 8)
                .limit(n)
                .map(l -> String.join(" ", Arrays.copyOf(l.split("\\s+"), 6)))
                .toList();
    }

    static Generator.Result generate(String prompt, Model draft, int n) {
        SessionOptions o = SessionOptions.defaults().withContext(256).withThreads(2);
        try (Session t = target.newSession(o); Session d = draft == null ? null : draft.newSession(o)) {
            DraftModel drafter = draft == null ? null
                    : new DraftModel(d, draft.tokenizer(), new VocabBridge(target.tokenizer(), draft.tokenizer(), List.of()), n, 0, 0f);
            int[] ids = target.tokenizer().encode(prompt, target.tokenizer().addBos(), false);
            return new Generator(t, target.tokenizer(), drafter)
                    .generate(ids, new Generator.Settings(24, List.of(), 0, SamplerConfig.greedy()), s -> { }, () -> false);
        }
    }

    @Test
    void theDraftsAreOfTheKindsClaimed() {
        assertFalse(VocabBridge.compatible(target.tokenizer(), otherVocab.tokenizer()));
        assertTrue(VocabBridge.compatible(target.tokenizer(), sameVocab.tokenizer()));
    }

    @Test
    void greedyTextIsIdenticalWithAndWithoutADraft() throws IOException {
        List<String> prompts = prompts(8);
        assertEquals(8, prompts.size());
        int drafted = 0;
        int accepted = 0;
        for (String p : prompts) {
            Generator.Result plain = generate(p, null, 0);
            for (Model draft : new Model[] {otherVocab, sameVocab}) {
                for (int n : new int[] {1, 3}) {
                    Generator.Result spec = generate(p, draft, n);
                    String which = draft == sameVocab ? "the same-vocabulary" : "the other-vocabulary";
                    assertArrayEquals(plain.tokens(), spec.tokens(), "\"" + p + "\" with " + which + " draft, N=" + n);
                    assertEquals(plain.reason(), spec.reason());
                    drafted += spec.speculation().drafted();
                    accepted += spec.speculation().accepted();
                }
            }
        }
        assertTrue(drafted > 0 && accepted > 0, drafted + " drafted, " + accepted + " accepted");
    }
}
