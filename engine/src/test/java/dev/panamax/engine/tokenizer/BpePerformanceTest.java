package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.Metadata;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Load and encode speed on the real Qwen vocabulary. Prints the numbers; the asserted bounds are
 * loose (shared CI cores) but catch a quadratic or regex blow-up.
 */
class BpePerformanceTest {

    static String mixedText(int bytes) {
        String[] parts = {
            "The quick brown fox jumps over the lazy dog while the committee deliberates on item %d. ",
            "It's a truth universally acknowledged, that a single man in possession of %d fortunes... ",
            "    for (int i = 0; i < %d; i++) {\n        sum += values[i] * weights[i];\n    }\n",
            "\u6211\u4eec\u5728\u7b2c%d\u7ae0\u8ba8\u8bba\u4e86\u8bed\u8a00\u6a21\u578b\u7684\u8bad\u7ec3\u65b9\u6cd5\u3002",
            "Emoji %d: \ud83d\ude00\ud83d\udc4d\ud83c\udffd \ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67 caf\u00e9 na\u00efve\n",
            "{\"id\": %d, \"name\": \"item\", \"tags\": [\"a\", \"b\"], \"ok\": true}\n",
        };
        StringBuilder sb = new StringBuilder();
        SplittableRandom r = new SplittableRandom(11);
        int i = 0;
        while (sb.toString().getBytes(StandardCharsets.UTF_8).length < bytes) {
            for (int k = 0; k < 1000; k++) {
                sb.append(String.format(parts[r.nextInt(parts.length)], r.nextInt(1_000_000) + i++));
            }
        }
        return sb.toString();
    }

    @Test
    void loadsTheQwenVocabularyQuickly() {
        Metadata md = new Metadata("qwen", Qwen.metadata());
        long best = Long.MAX_VALUE;
        for (int i = 0; i < 5; i++) {
            long t0 = System.nanoTime();
            Tokenizer t = Tokenizer.fromMetadata(md);
            best = Math.min(best, System.nanoTime() - t0);
            assertEquals(151669, t.vocabSize());
        }
        System.out.printf("load 151669 tokens + 151387 merges: best of 5 %.0f ms%n", best / 1e6);
        assertTrue(best < 2_000_000_000L, "loading took " + best / 1e6 + " ms");
    }

    @Test
    void encodesAMegabyteQuickly() {
        String text = mixedText(1 << 20);
        int bytes = text.getBytes(StandardCharsets.UTF_8).length;
        Tokenizer t = Tokenizer.fromMetadata(new Metadata("qwen", Qwen.metadata())); // empty word cache
        long t0 = System.nanoTime();
        int[] ids = t.encode(text, false, true);
        long cold = System.nanoTime() - t0;
        long warm = Long.MAX_VALUE;
        for (int i = 0; i < 3; i++) {
            long t1 = System.nanoTime();
            t.encode(text, false, true);
            warm = Math.min(warm, System.nanoTime() - t1);
        }
        long t2 = System.nanoTime();
        String back = t.decode(ids);
        long dec = System.nanoTime() - t2;
        assertEquals(text, back);
        System.out.printf("encode %.2f MB -> %d tokens: first %.0f ms (%.1f MB/s), warm %.0f ms (%.1f MB/s); decode %.0f ms%n",
                bytes / 1e6, ids.length, cold / 1e6, bytes / 1e6 / (cold / 1e9), warm / 1e6, bytes / 1e6 / (warm / 1e9),
                dec / 1e6);
        assertTrue(cold < 5_000_000_000L, "first encode of 1 MB took " + cold / 1e6 + " ms");
    }

    @Test
    void encodesAHugeWordWithoutQuadraticCost() {
        SplittableRandom r = new SplittableRandom(5);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 500_000; i++) {
            sb.append((char) ('a' + r.nextInt(26)));
        }
        String word = sb.toString();
        Tokenizer t = Qwen.tokenizer();
        long t0 = System.nanoTime();
        int[] ids = t.encode(word, false, false);
        long took = System.nanoTime() - t0;
        System.out.printf("one 500k-letter word -> %d tokens in %.0f ms%n", ids.length, took / 1e6);
        assertEquals(word, t.decode(ids));
        assertTrue(took < 5_000_000_000L, "took " + took / 1e6 + " ms");
    }
}
