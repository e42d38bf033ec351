package dev.panamax.engine.perplexity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.convert.HfConverter;
import dev.panamax.engine.convert.HfReference;
import dev.panamax.engine.convert.Safetensors;
import dev.panamax.engine.quantize.QuantMix;
import dev.panamax.engine.quantize.Quantizer;
import dev.panamax.engine.quantize.Recipe;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Perplexity against two independent computations: a token-by-token decode with a plain double
 * log-softmax written here (fixture models), and transformers running llama-perplexity's algorithm
 * in python (tools/convert/hf_reference.py); KL divergence of a model with itself and with its Q8_0.
 */
class PerplexityTest {
    @TempDir
    Path tmp;

    static Path fixture(String name) throws URISyntaxException {
        return Path.of(PerplexityTest.class.getResource("/fixtures/" + name).toURI());
    }

    static SessionOptions options(int nCtx) {
        return SessionOptions.defaults().withContext(nCtx).withBatch(nCtx).withThreads(2)
                .withCacheTypes(GgmlType.F32, GgmlType.F32);
    }

    private static final Perplexity.Listener QUIET = (c, n, s, t) -> { };

    /** llama-perplexity by the book, one token at a time through a fresh session per chunk. */
    static double[] reference(Model model, int[] tokens, int nCtx, int chunks) {
        boolean bos = model.tokenizer().addBos();
        int first = nCtx / 2;
        double nll = 0;
        double nll2 = 0;
        long count = 0;
        for (int c = 0; c < chunks; c++) {
            try (Session s = model.newSession(options(nCtx).withThreads(1))) {
                for (int i = 0; i < nCtx - 1; i++) {
                    int tok = i == 0 && bos ? model.tokenizer().bosId().orElseThrow() : tokens[c * nCtx + i];
                    float[] logits = s.decode(tok);
                    if (i >= first) {
                        double max = Double.NEGATIVE_INFINITY;
                        for (float v : logits) {
                            max = Math.max(max, v);
                        }
                        double sum = 0;
                        for (float v : logits) {
                            sum += Math.exp(v - max);
                        }
                        double v = -(logits[tokens[c * nCtx + i + 1]] - max - Math.log(sum));
                        nll += v;
                        nll2 += v * v;
                        count++;
                    }
                }
            }
        }
        double mean = nll / count;
        double ppl = Math.exp(mean);
        return new double[] {ppl, Math.sqrt((nll2 / count - mean * mean) / (count - 1)) * ppl, count};
    }

    static int[] randomTokens(int n, int vocab, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int[] t = new int[n];
        for (int i = 0; i < n; i++) {
            t[i] = r.nextInt(vocab - 10);
        }
        return t;
    }

    @Test
    void matchesAPlainComputationWithAndWithoutBos() throws Exception {
        for (String f : List.of("qwen2-f32.gguf", "llama-f32.gguf")) { // llama adds BOS, qwen2 does not
            try (Model m = Model.open(fixture(f))) {
                int nCtx = 16;
                int[] tokens = randomTokens(3 * nCtx + 7, m.config().vocab(), 5);
                int chunks = Perplexity.chunks(tokens.length, nCtx, -1, f);
                assertEquals(3, chunks);
                Perplexity.Result r = Perplexity.run(m, options(nCtx), tokens, chunks, null, 0, QUIET);
                double[] ref = reference(m, tokens, nCtx, chunks);
                assertEquals((long) ref[2], r.stats().count());
                assertEquals(3 * 7, r.stats().count()); // 16 - 1 - 8 = 7 per chunk
                assertEquals(ref[0], r.stats().ppl(), 1e-4 * ref[0], f);
                assertEquals(ref[1], r.stats().error(), 1e-3 * ref[1], f);
                assertEquals(3, r.runningPpl().size());
                assertEquals(r.stats().ppl(), r.runningPpl().get(2), 1e-12);
            }
        }
    }

    @Test
    void bosReplacesTheFirstTokenOfEveryChunk() throws Exception {
        try (Model m = Model.open(fixture("llama-f32.gguf"))) {
            assertTrue(m.tokenizer().addBos());
            int nCtx = 8;
            int[] a = randomTokens(2 * nCtx, m.config().vocab(), 9);
            int[] b = a.clone();
            b[0] = (b[0] + 1) % 100;
            b[nCtx] = (b[nCtx] + 3) % 100; // first tokens are replaced by BOS, so these changes do not matter
            double pa = Perplexity.run(m, options(nCtx), a, 2, null, 0, QUIET).stats().ppl();
            double pb = Perplexity.run(m, options(nCtx), b, 2, null, 0, QUIET).stats().ppl();
            assertEquals(pa, pb, 1e-5 * pa); // (the engine's float sums may differ in the last bits between runs)
            b[1] = (b[1] + 1) % 100; // the second token does
            double pc = Perplexity.run(m, options(nCtx), b, 2, null, 0, QUIET).stats().ppl();
            assertTrue(Math.abs(pc - pa) > 1e-3 * pa, pa + " vs " + pc);
        }
    }

    @Test
    void matchesTransformersOnConvertedModels() throws IOException {
        for (String name : List.of("qwen2", "llama")) {
            Map<String, Object> ref = HfReference.model(name);
            @SuppressWarnings("unchecked")
            Map<String, Object> p = (Map<String, Object>) ref.get("perplexity");
            Path dir = HfReference.dir().resolve(name);
            Path gguf = tmp.resolve(name + ".gguf");
            try (Safetensors st = Safetensors.openDirectory(dir)) {
                HfConverter.convert(dir, st, HfConverter.plan(dir, st, HfConverter.OutType.F32, null), gguf,
                        new HfConverter.Listener() {});
            }
            try (Model m = Model.open(gguf)) {
                int[] tokens = Perplexity.tokenize(m, (String) p.get("text"));
                assertArrayEquals(HfReference.ints(p.get("tokens")), tokens, name + ": tokenization");
                int nCtx = ((Number) p.get("n_ctx")).intValue();
                int chunks = Perplexity.chunks(tokens.length, nCtx, -1, "text");
                assertEquals(((Number) p.get("chunks")).intValue(), chunks);
                Perplexity.Result r = Perplexity.run(m, options(nCtx), tokens, chunks, null, 0, QUIET);
                double ppl = ((Number) p.get("ppl")).doubleValue();
                assertEquals(ppl, r.stats().ppl(), 5e-4 * ppl, name);
                assertEquals(((Number) p.get("ppl_error")).doubleValue(), r.stats().error(), 1e-3 * ppl, name);
                List<?> running = (List<?>) p.get("running_ppl");
                for (int i = 0; i < running.size(); i++) {
                    double v = ((Number) running.get(i)).doubleValue();
                    assertEquals(v, r.runningPpl().get(i), 5e-4 * v, name + " chunk " + (i + 1));
                }
            }
        }
    }

    @Test
    void klDivergenceOfAModelWithItselfIsZero() throws Exception {
        Path base = tmp.resolve("base.kld");
        try (Model m = Model.open(fixture("qwen2-f32.gguf"))) {
            int nCtx = 16;
            int[] tokens = randomTokens(4 * nCtx, m.config().vocab(), 21);
            try (KlBaseFile.Writer w = new KlBaseFile.Writer(base, nCtx, m.config().vocab(), 20, 4, false, tokens)) {
                Perplexity.run(m, options(nCtx), tokens, 4, w, 20, QUIET);
                w.finish();
            }
            assertEquals(40 + 4L * 64 + 4L * 7 * (4 + 8 * 20), Files.size(base));
            try (KlBaseFile.Reader r = new KlBaseFile.Reader(base)) {
                assertArrayEquals(tokens, r.tokens);
                // the stored top tokens are the model's most probable ones, best first
                for (int k = 1; k < 20; k++) {
                    assertTrue(r.logProb(0, 3, k) <= r.logProb(0, 3, k - 1));
                }
                Perplexity.KlResult kl = Perplexity.compare(m, options(nCtx), r, -1, (c, n, q, k, s, t) -> { });
                assertEquals(28, kl.positions());
                assertEquals(0, kl.meanKl(), 1e-9);
                assertEquals(0, kl.maxKl(), 1e-9);
                assertEquals(1.0, kl.sameTop());
                assertEquals(kl.base().ppl(), kl.q().ppl(), 1e-5 * kl.q().ppl());
                assertEquals(0, kl.meanLogRatio(), 1e-6);
                assertTrue(kl.coverage() > 0 && kl.coverage() <= 1);
            }
        }
        // a quantized copy differs a little
        Path q8 = tmp.resolve("q8.gguf");
        Quantizer.Options o = new Quantizer.Options(2, false, List.of());
        try (GgufFile g = GgufFile.open(fixture("qwen2-f32.gguf"))) {
            Quantizer.write(g, Quantizer.prepare(g, Recipe.of(QuantMix.Q4_0), o), q8, o, new Quantizer.Listener() {});
        }
        try (Model m = Model.open(q8); KlBaseFile.Reader r = new KlBaseFile.Reader(base)) {
            Perplexity.KlResult kl = Perplexity.compare(m, options(16), r, -1, (c, n, q, k, s, t) -> { });
            assertTrue(kl.meanKl() > 1e-5 && kl.meanKl() < 1, "KL " + kl.meanKl());
            assertTrue(kl.maxKl() >= kl.p99Kl() && kl.p99Kl() >= kl.medianKl());
            assertTrue(kl.sameTop() > 0.3 && kl.sameTop() <= 1, "same top " + kl.sameTop());
            assertTrue(kl.klError() > 0);
            assertEquals(kl.q().ppl() - kl.base().ppl(), kl.pplDiff(), 1e-9);
        }
    }

    @Test
    void badInputsAreClearErrors() throws Exception {
        PanamaxException e = assertThrows(PanamaxException.class, () -> Perplexity.chunks(100, 64, -1, "wiki.txt"));
        assertTrue(e.getMessage().contains("wiki.txt") && e.getMessage().contains("100 tokens")
                && e.getMessage().contains("128"), e.getMessage());
        assertEquals(2, Perplexity.chunks(1000, 64, 2, "x"));
        Path f = tmp.resolve("x.kld");
        Files.writeString(f, "not a kl file at all, just some text of some length............");
        e = assertThrows(PanamaxException.class, () -> new KlBaseFile.Reader(f));
        assertTrue(e.getMessage().contains("not a Panamax KL base file"), e.getMessage());
        e = assertThrows(PanamaxException.class, () -> new KlBaseFile.Reader(tmp.resolve("missing.kld")));
        assertTrue(e.getMessage().contains("no such file"), e.getMessage());
        // truncated, and wrong vocabulary
        Path base = tmp.resolve("b.kld");
        try (Model m = Model.open(fixture("qwen2-f32.gguf"))) {
            int[] tokens = randomTokens(32, m.config().vocab(), 1);
            try (KlBaseFile.Writer w = new KlBaseFile.Writer(base, 16, m.config().vocab(), 4, 2, false, tokens)) {
                Perplexity.run(m, options(16), tokens, 2, w, 4, QUIET);
                w.finish();
            }
        }
        byte[] bytes = Files.readAllBytes(base);
        Files.write(f, java.util.Arrays.copyOf(bytes, bytes.length - 8));
        e = assertThrows(PanamaxException.class, () -> new KlBaseFile.Reader(f));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
        Path other = dev.panamax.engine.TinyModels.write(tmp.resolve("tiny.gguf"), dev.panamax.engine.TinyModels.qwen2(), 1);
        try (Model m = Model.open(other); KlBaseFile.Reader r = new KlBaseFile.Reader(base)) {
            assertEquals(300, r.nVocab);
            e = assertThrows(PanamaxException.class, () -> Perplexity.compare(m, options(16), r, -1, (c, n, q, k, s, t) -> { }));
            assertTrue(e.getMessage().contains("vocabulary of 300") && e.getMessage().contains("96"), e.getMessage());
        }
        // an unfinished writer leaves nothing
        Path never = tmp.resolve("never.kld");
        try (KlBaseFile.Writer w = new KlBaseFile.Writer(never, 16, 300, 4, 1, false, new int[16])) {
            w.position(-1f, new int[4], new float[4]);
        }
        assertFalse(Files.exists(never));
        try (Stream<Path> s = Files.list(tmp)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().contains(".tmp")));
        }
    }

    @Test
    void topKIsSortedAndStable() {
        float[] x = {0.5f, 3f, -1f, 3f, 2f, 7f, 0f};
        int[] out = new int[3];
        Perplexity.topK(x, 0, x.length, out, 3);
        assertArrayEquals(new int[] {5, 1, 3}, out);
        Perplexity.topK(x, 1, 4, out, 2); // {3, -1, 3, 2}
        assertArrayEquals(new int[] {0, 2}, java.util.Arrays.copyOf(out, 2));
    }
}
