package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.text.Normalizer;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/**
 * Ids identical to Hugging Face tokenizers on the real Qwen vocabulary, for the committed corpus
 * (English, code, CJK, emoji and ZWJ sequences, combining accents, long numbers, whitespace runs,
 * \r\n, control characters, special tokens in text, very long words).
 */
class BpeParityTest {

    private static String show(String s) {
        String t = s.length() > 80 ? s.substring(0, 80) + "..." : s;
        return t.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t");
    }

    @Test
    void idsMatchHuggingFaceWithSpecialTokenParsing() throws Exception {
        Tokenizer t = Qwen.tokenizer();
        for (Fixture.Case c : Fixture.cases()) {
            assertArrayEquals(c.ids(), t.encode(c.text(), false, true), () -> "ids for '" + show(c.text()) + "'\n"
                    + Arrays.toString(t.encode(c.text(), false, true)));
        }
    }

    @Test
    void idsMatchHuggingFaceWithoutSpecialTokenParsing() throws Exception {
        Tokenizer t = Qwen.tokenizer();
        for (Fixture.Case c : Fixture.cases()) {
            assertArrayEquals(c.idsNoSpecial(), t.encode(c.text(), false, false),
                    () -> "ids (no special parsing) for '" + show(c.text()) + "'");
        }
    }

    @Test
    void decodeRoundTrips() throws Exception {
        Tokenizer t = Qwen.tokenizer();
        int nonNfc = 0;
        for (Fixture.Case c : Fixture.cases()) {
            assertEquals(c.decoded(), t.decode(c.ids()), () -> "decode of '" + show(c.text()) + "'");
            for (boolean special : new boolean[] {true, false}) {
                String back = t.decode(t.encode(c.text(), false, special));
                if (Normalizer.isNormalized(c.text(), Normalizer.Form.NFC)) {
                    assertEquals(c.text(), back, () -> "decode(encode(s)) for '" + show(c.text()) + "'");
                } else {
                    // NFC is part of Qwen's tokenizer: the round trip gives the composed text, as in HF.
                    assertEquals(c.decoded(), back);
                    nonNfc++;
                }
            }
        }
        assertEquals(4, nonNfc, "two corpus texts are not NFC, each checked twice");
    }

    @Test
    void specialTokenTextsAreControlOrUserDefined() {
        Tokenizer t = Qwen.tokenizer();
        assertEquals(151644, t.tokenId("<|im_start|>").orElseThrow());
        assertTrue(t.isControl(151644));
        assertEquals(TokenType.USER_DEFINED, t.tokenType(t.tokenId("<think>").orElseThrow()));
        assertArrayEquals(new int[] {151644, 872, 198}, t.encode("<|im_start|>user\n", false, true));
        // without special parsing the control token is spelled out, the user-defined one still matches
        assertEquals("<|im_start|><think>", t.decode(t.encode("<|im_start|><think>", false, false)));
        assertEquals(151667, t.encode("<|im_start|><think>", false, false)[6]);
    }
}
