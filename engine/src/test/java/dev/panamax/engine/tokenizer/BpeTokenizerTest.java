package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.MetadataValue;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Mechanics on a tiny vocabulary: merges, added tokens, pre-tokenizer splits, accessors. */
class BpeTokenizerTest {

    private static List<String> split(PreTokenizer p, String s) {
        List<String> out = new ArrayList<>();
        p.split(s, 0, s.length(), (a, b) -> out.add(s.substring(a, b)));
        return out;
    }

    @Test
    void mergesLowestRankFirst() {
        Tokenizer t = Tiny.tokenizer();
        assertArrayEquals(new int[] {Tiny.HELLO}, t.encode("hello", false, false));
        assertArrayEquals(new int[] {Tiny.HELL}, t.encode("hell", false, false));
        assertArrayEquals(new int[] {Tiny.HELL, Tiny.LL}, t.encode("hellll", false, false));
        assertArrayEquals(new int[] {Tiny.HE, Tiny.HE}, t.encode("hehe", false, false));
        assertArrayEquals(new int[] {Tiny.HE, 'y'}, t.encode("hey", false, false));
        assertEquals("hello", t.decode(new int[] {Tiny.HELLO}));
    }

    @Test
    void addedTokensLeftmostLongestAndControlOnlyWhenParsingSpecial() {
        Tokenizer t = Tiny.tokenizer();
        assertArrayEquals(new int[] {'a', Tiny.END_LONG, 'b'}, t.encode("a<|end|>!b", false, true));
        assertArrayEquals(new int[] {Tiny.END, Tiny.HELLO}, t.encode("<|end|>hello", false, true));
        assertArrayEquals(new int[] {Tiny.X, Tiny.X}, t.encode("<x><x>", false, false), "user-defined always match");
        int[] spelled = t.encode("<|end|>", false, false);
        assertTrue(spelled.length > 1);
        assertEquals("<|end|>", t.decode(spelled));
        assertEquals("a<|end|>b", t.decode(new int[] {'a', Tiny.END, 'b'}));
        assertEquals("ab", t.decode(new int[] {'a', Tiny.END, 'b'}, false));
        assertTrue(t.isControl(Tiny.END));
        assertFalse(t.isControl(Tiny.X));
        assertTrue(t.isEndOfGeneration(Tiny.END));
        assertFalse(t.isEndOfGeneration(Tiny.X));
    }

    @Test
    void accessors() {
        Tokenizer t = Tiny.tokenizer();
        assertEquals(263, t.vocabSize());
        assertEquals("\u0120", t.piece(' '));
        assertEquals("\u010a", t.piece('\n'));
        assertEquals(OptionalInt.of(Tiny.HELL), t.tokenId("hell"));
        assertTrue(t.tokenId("nope").isEmpty());
        assertEquals(TokenType.CONTROL, t.tokenType(Tiny.END));
        assertEquals(OptionalInt.of(Tiny.END), t.eosId());
        assertTrue(t.bosId().isEmpty());
        assertTrue(t.eotId().isEmpty());
        assertFalse(t.addBos());
        assertEquals("gpt2", t.model());
        assertArrayEquals(new byte[] {' '}, t.tokenBytes(' '));
        assertTrue(t.normalizesNfc(), "qwen2 implies NFC");
        Tokenizer withBos = Tokenizer.fromMetadata(Tiny.with(Map.of(TokenizerKeys.BOS_ID, MetadataValue.ofUInt32(Tiny.X),
                TokenizerKeys.ADD_BOS, MetadataValue.of(true))));
        assertTrue(withBos.addBos());
        assertArrayEquals(new int[] {Tiny.X, Tiny.HELLO}, withBos.encode("hello", withBos.addBos(), false));
    }

    @Test
    void splits() {
        assertEquals(List.of("Hello", " ", " world", "\n\n", " ", " x"), split(PreTokenizer.QWEN2, "Hello  world\n\n  x"));
        assertEquals(List.of("1", "2", "3", "4", " abc", "'s", " it", "'LL"), split(PreTokenizer.QWEN2, "1234 abc's it'LL"));
        assertEquals(List.of("123", "456", "7"), split(PreTokenizer.LLAMA3, "1234567"));
        assertEquals(List.of(" 1234", " it", "'", "LL", "'s"), split(PreTokenizer.GPT2, " 1234 it'LL's"));
        assertEquals(List.of(" ", "1", "2", " x"), split(PreTokenizer.GPT2_DIGITS, " 12 x"));
        assertEquals(List.of("\u0928\u092e\u0938\u094d\u0924\u0947"), split(PreTokenizer.QWEN35, "\u0928\u092e\u0938\u094d\u0924\u0947"));
        assertEquals(List.of("\u0928\u092e\u0938", "\u094d\u0924", "\u0947"), split(PreTokenizer.QWEN2, "\u0928\u092e\u0938\u094d\u0924\u0947"));
        assertEquals(List.of(" {\n", "\t", "\treturn", ";\n"), split(PreTokenizer.QWEN2, " {\n\t\treturn;\n"));
    }

    @Test
    void heapAndScanMergeAgree() {
        SplittableRandom r = new SplittableRandom(7);
        for (int round = 0; round < 50; round++) {
            int alphabet = 2 + r.nextInt(6);
            int nMerges = 1 + r.nextInt(40);
            PairRanks ranks = new PairRanks(nMerges);
            int next = alphabet;
            for (int k = 0; k < nMerges; k++) {
                int a = r.nextInt(next);
                int b = r.nextInt(next);
                if (ranks.put(a, b, ranks.size(), next)) {
                    next++;
                }
            }
            for (int w = 0; w < 40; w++) {
                int n = 2 + r.nextInt(150);
                int[] word = new int[n];
                for (int i = 0; i < n; i++) {
                    word[i] = r.nextInt(alphabet);
                }
                int[] scan = BpeTokenizer.mergeScan(ranks, word.clone(), n);
                int[] heap = BpeTokenizer.mergeHeap(ranks, word.clone(), n);
                assertArrayEquals(scan, heap, "round " + round + " word " + w);
            }
        }
    }

    @Test
    void utf8CompletePrefix() {
        byte[] euro = {(byte) 0xE2, (byte) 0x82, (byte) 0xAC};
        assertEquals(0, Utf8.completePrefix(euro, 1));
        assertEquals(0, Utf8.completePrefix(euro, 2));
        assertEquals(3, Utf8.completePrefix(euro, 3));
        assertEquals(2, Utf8.completePrefix(new byte[] {(byte) 0xE2, 'a'}, 2), "broken sequence is not held back");
        assertEquals(1, Utf8.completePrefix(new byte[] {(byte) 0xC0}, 1), "never-valid lead byte");
        assertEquals(1, Utf8.completePrefix(new byte[] {'a', (byte) 0xF0, (byte) 0x9F}, 3));
        assertEquals(0, Utf8.completePrefix(new byte[] {(byte) 0xED, (byte) 0xA0}, 2), "encoded surrogate: one unit for Java");
        assertEquals(2, Utf8.completePrefix(new byte[] {(byte) 0xF4, (byte) 0x90}, 2), "above U+10FFFF");
    }
}
