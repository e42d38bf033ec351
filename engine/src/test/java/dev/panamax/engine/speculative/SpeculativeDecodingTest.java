package dev.panamax.engine.speculative;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.generate.SamplerConfig;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Speculative decoding on the fixture models: the output never changes with a draft (greedy),
 * whether the draft shares the vocabulary (qwen3 fixture) or not (llama fixture, translated
 * through text), and a model drafting for itself is accepted throughout.
 */
class SpeculativeDecodingTest {
    static Model target;
    static Model sameVocabDraft;
    static Model otherVocabDraft;

    @BeforeAll
    static void open() throws URISyntaxException {
        Path dir = Path.of(SpeculativeDecodingTest.class.getResource("/fixtures/README.md").toURI()).getParent();
        target = Model.open(dir.resolve("qwen2-f32.gguf"));
        sameVocabDraft = Model.open(dir.resolve("qwen3-f32.gguf"));
        otherVocabDraft = Model.open(dir.resolve("llama-f32.gguf"));
    }

    @AfterAll
    static void close() {
        target.close();
        sameVocabDraft.close();
        otherVocabDraft.close();
    }

    private static SessionOptions options() {
        return SessionOptions.defaults().withContext(256).withThreads(1);
    }

    private static Generator.Result run(int[] prompt, Model draft, int n, SamplerConfig sampling, int maxTokens) {
        try (Session t = target.newSession(options())) {
            Generator g;
            Session d = null;
            if (draft == null) {
                g = new Generator(t, target.tokenizer());
            } else {
                d = draft.newSession(options());
                VocabBridge bridge = new VocabBridge(target.tokenizer(), draft.tokenizer(), List.of());
                g = new Generator(t, target.tokenizer(), new DraftModel(d, draft.tokenizer(), bridge, n, 0, 0f));
            }
            try {
                return g.generate(prompt, new Generator.Settings(maxTokens, List.of(), 0, sampling), s -> { }, () -> false);
            } finally {
                if (d != null) {
                    d.close();
                }
            }
        }
    }

    private static int[] prompt(Random r) {
        int[] p = new int[3 + r.nextInt(10)];
        for (int i = 0; i < p.length; i++) {
            p[i] = r.nextInt(280);
        }
        return p;
    }

    @Test
    void vocabularyCompatibilityFollowsLlamaCppsRule() {
        assertTrue(VocabBridge.compatible(target.tokenizer(), sameVocabDraft.tokenizer()));
        assertFalse(VocabBridge.compatible(target.tokenizer(), otherVocabDraft.tokenizer()));
    }

    @Test
    void greedyOutputIsIdenticalWithAndWithoutADraft() {
        Random r = new Random(11);
        for (int trial = 0; trial < 12; trial++) {
            int[] p = prompt(r);
            Generator.Result plain = run(p, null, 0, SamplerConfig.greedy(), 40);
            for (Model draft : new Model[] {sameVocabDraft, otherVocabDraft}) {
                for (int n : new int[] {1, 2, 4}) {
                    Generator.Result spec = run(p, draft, n, SamplerConfig.greedy(), 40);
                    assertArrayEquals(plain.tokens(), spec.tokens(), "trial " + trial + " N=" + n + " draft " + draft.displayName());
                    assertEquals(plain.reason(), spec.reason());
                    assertTrue(spec.speculation().targetPasses() > 0);
                }
            }
        }
    }

    @Test
    void aModelDraftingForItselfIsAlwaysAccepted() {
        int[] p = {5, 9, 33, 120, 7};
        Generator.Result plain = run(p, null, 0, SamplerConfig.greedy(), 33);
        Generator.Result self = run(p, target, 4, SamplerConfig.greedy(), 33);
        assertArrayEquals(plain.tokens(), self.tokens());
        Generator.SpecStats s = self.speculation();
        assertTrue(s.acceptanceRate() > 0.9, "acceptance " + s.acceptanceRate());
        // 33 tokens: the first comes from the prompt, then about N+1 = 5 per target pass
        assertTrue(s.targetPasses() <= 8, "target passes " + s.targetPasses());
    }

    /** (first, second) generated tokens as one category; a short generation maps to its own bucket. */
    private static String pair(Generator.Result r) {
        int[] t = r.tokens();
        return t.length > 1 ? t[0] + "," + t[1] : "end";
    }

    @Test
    void samplingKeepsTheTargetsDistribution() {
        // the joint distribution of the first two tokens with and without a draft: the second is
        // drafted (greedy draft) and accepted with the target's probability, else resampled without it
        int[] p = {17, 4, 250, 61};
        int runs = 1500;
        java.util.Map<String, Integer> plain = new java.util.HashMap<>();
        java.util.Map<String, Integer> spec = new java.util.HashMap<>();
        SamplerConfig base = new SamplerConfig(1.0f, 4, 1f, 0f, 1f, 64, 0f, 0f, 0);
        for (int i = 0; i < runs; i++) {
            plain.merge(pair(run(p, null, 0, base.withSeed(1000 + i), 2)), 1, Integer::sum);
            spec.merge(pair(run(p, sameVocabDraft, 2, base.withSeed(5000 + i), 2)), 1, Integer::sum);
        }
        java.util.Set<String> keys = new java.util.HashSet<>(plain.keySet());
        keys.addAll(spec.keySet());
        double tv = 0;
        for (String k : keys) {
            tv += Math.abs(plain.getOrDefault(k, 0) - spec.getOrDefault(k, 0)) / (double) runs;
        }
        // at most 16 categories and 1500 draws each: sampling noise keeps this near 0.05; accepting
        // every drafted token instead would collapse the second token onto the draft's choice
        assertTrue(keys.size() > 4, "the distribution is not degenerate: " + keys.size());
        assertTrue(tv / 2 < 0.1, "total variation " + tv / 2 + " between " + plain + " and " + spec);
    }
}
