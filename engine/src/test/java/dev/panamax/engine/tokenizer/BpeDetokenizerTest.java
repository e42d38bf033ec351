package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Streaming decoding emits exactly the decoded text and never a broken character. */
class BpeDetokenizerTest {

    /** No U+FFFD and no unpaired surrogate: a chunk that is whole, valid text. */
    private static void assertWhole(String chunk) {
        assertFalse(chunk.contains("\uFFFD"), () -> "replacement character in chunk '" + chunk + "'");
        for (int i = 0; i < chunk.length(); i++) {
            char c = chunk.charAt(i);
            if (Character.isHighSurrogate(c)) {
                assertTrue(i + 1 < chunk.length() && Character.isLowSurrogate(chunk.charAt(++i)), "split surrogate pair");
            } else {
                assertFalse(Character.isLowSurrogate(c), "lone low surrogate");
            }
        }
    }

    private static boolean isValidUtf8(byte[] b) {
        try {
            StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT).decode(ByteBuffer.wrap(b));
            return true;
        } catch (CharacterCodingException e) {
            return false;
        }
    }

    @Test
    void streamsTheCorpusExactly() throws Exception {
        Tokenizer t = Qwen.tokenizer();
        int splitCharacters = 0;
        for (Fixture.Case c : Fixture.cases()) {
            Detokenizer d = t.detokenizer();
            StringBuilder sb = new StringBuilder();
            for (int id : c.ids()) {
                if (!isValidUtf8(t.tokenBytes(id))) {
                    splitCharacters++;
                }
                String chunk = d.feed(id);
                assertWhole(chunk);
                sb.append(chunk);
            }
            assertEquals(0, d.pendingBytes());
            sb.append(d.flush());
            assertEquals(t.decode(c.ids()), sb.toString());
            assertEquals(c.decoded(), sb.toString());
        }
        assertTrue(splitCharacters > 20, "the corpus has characters split across tokens: " + splitCharacters);
    }

    @Test
    void holdsBackAnEmojiSplitAcrossByteTokens() {
        Tokenizer t = Qwen.tokenizer();
        String text = "a\uD83E\uDEE8b"; // U+1FAE8, a recent emoji that the vocabulary spells in pieces
        int[] ids = t.encode(text, false, false);
        Detokenizer d = t.detokenizer();
        StringBuilder sb = new StringBuilder();
        int heldBack = 0;
        for (int id : ids) {
            String chunk = d.feed(id);
            assertWhole(chunk);
            if (d.pendingBytes() > 0) {
                heldBack++;
            }
            sb.append(chunk);
        }
        assertTrue(heldBack > 0, "some bytes were held back");
        assertEquals(text, sb.append(d.flush()).toString());
    }

    @Test
    void invalidByteSequencesDecodeLikeTheBulkDecoder() {
        Tokenizer t = Qwen.tokenizer();
        SplittableRandom r = new SplittableRandom(3);
        int[] byteTokens = new int[256];
        for (int b = 0; b < 256; b++) {
            byteTokens[b] = t.tokenId(String.valueOf(ByteLevel.charOf(b))).orElseThrow();
        }
        for (int round = 0; round < 2000; round++) {
            int[] ids = new int[1 + r.nextInt(12)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = r.nextInt(4) == 0 ? r.nextInt(151643) : byteTokens[0x80 + r.nextInt(0x80)];
            }
            Detokenizer d = t.detokenizer();
            StringBuilder sb = new StringBuilder();
            for (int id : ids) {
                sb.append(d.feed(id));
                assertTrue(d.pendingBytes() <= 3);
            }
            sb.append(d.flush());
            assertEquals(t.decode(ids), sb.toString(), "round " + round);
        }
    }

    @Test
    void specialTokensRenderOnRequest() {
        Tokenizer t = Qwen.tokenizer();
        int[] ids = t.encode("<|im_start|>user\nhi<|im_end|>", false, true);
        StringBuilder shown = new StringBuilder();
        StringBuilder hidden = new StringBuilder();
        Detokenizer a = t.detokenizer(true);
        Detokenizer b = t.detokenizer(false);
        for (int id : ids) {
            shown.append(a.feed(id));
            hidden.append(b.feed(id));
        }
        assertEquals("<|im_start|>user\nhi<|im_end|>", shown.toString());
        assertEquals("user\nhi", hidden.toString());
        assertEquals("user\nhi", t.decode(ids, false));
    }
}
