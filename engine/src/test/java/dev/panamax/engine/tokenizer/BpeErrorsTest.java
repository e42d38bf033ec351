package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.Metadata;
import dev.panamax.gguf.MetadataException;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.PanamaxException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Bad metadata fails with a PanamaxException naming the key; odd-but-valid metadata loads. */
class BpeErrorsTest {

    private static String fails(Metadata md) {
        PanamaxException e = assertThrows(PanamaxException.class, () -> Tokenizer.fromMetadata(md));
        assertTrue(e.getMessage().startsWith("tiny.gguf: "), e.getMessage());
        return e.getMessage();
    }

    private static void contains(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), () -> "'" + message + "' should mention '" + p + "'");
        }
    }

    @Test
    void missingTokens() {
        Metadata md = Tiny.with(Map.of(), TokenizerKeys.TOKENS);
        assertThrows(MetadataException.class, () -> Tokenizer.fromMetadata(md));
        contains(fails(md), "tokenizer.ggml.tokens", "missing");
    }

    @Test
    void tokensOfTheWrongType() {
        contains(fails(Tiny.with(Map.of(TokenizerKeys.TOKENS, MetadataValue.of("abc")))), "tokenizer.ggml.tokens",
                "array of strings");
    }

    @Test
    void missingModelAndMerges() {
        contains(fails(Tiny.with(Map.of(), TokenizerKeys.MODEL)), "tokenizer.ggml.model", "missing");
        contains(fails(Tiny.with(Map.of(), TokenizerKeys.MERGES)), "tokenizer.ggml.merges", "missing");
    }

    @Test
    void mergeNamingAnUnknownToken() {
        String m = fails(Tiny.with(Map.of(TokenizerKeys.MERGES, MetadataValue.ofStrings(List.of("h e", "he q\u4e16")))));
        contains(m, "tokenizer.ggml.merges[1]", "'q\u4e16'", "not in tokenizer.ggml.tokens");
    }

    @Test
    void mergeMakingAnUnknownToken() {
        contains(fails(Tiny.with(Map.of(TokenizerKeys.MERGES, MetadataValue.ofStrings(List.of("h e", "e h"))))),
                "tokenizer.ggml.merges[1]", "'eh'");
    }

    @Test
    void malformedMerge() {
        contains(fails(Tiny.with(Map.of(TokenizerKeys.MERGES, MetadataValue.ofStrings(List.of("he"))))),
                "tokenizer.ggml.merges[0]", "separated by a space");
    }

    @Test
    void unknownModel() {
        contains(fails(Tiny.with(Map.of(TokenizerKeys.MODEL, MetadataValue.of("bert")))), "tokenizer.ggml.model",
                "'bert'", "gpt2");
        contains(fails(Tiny.with(Map.of(TokenizerKeys.MODEL, MetadataValue.of("llama")))), "tokenizer.ggml.model",
                "SentencePiece");
    }

    @Test
    void tokenTypesThatDoNotFit() {
        contains(fails(Tiny.with(Map.of(TokenizerKeys.TOKEN_TYPE, MetadataValue.ofInt32s(new int[] {1, 1})))),
                "tokenizer.ggml.token_type", "2 entries");
        int[] bad = new int[263];
        bad[5] = 9;
        contains(fails(Tiny.with(Map.of(TokenizerKeys.TOKEN_TYPE, MetadataValue.ofInt32s(bad)))),
                "tokenizer.ggml.token_type[5] = 9");
    }

    @Test
    void specialIdsOutsideTheVocabulary() {
        contains(fails(Tiny.with(Map.of(TokenizerKeys.BOS_ID, MetadataValue.ofUInt32(100000)))),
                "tokenizer.ggml.bos_token_id = 100000", "263 tokens");
        contains(fails(Tiny.with(Map.of(TokenizerKeys.ADD_BOS, MetadataValue.of(true)))),
                "tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id");
        contains(fails(Tiny.with(Map.of(TokenizerKeys.NORMALIZER, MetadataValue.of("nfkd")))),
                "tokenizer.panamax.normalizer");
    }

    @Test
    void unknownOrMissingPreTokenizerFallsBackToGpt2WithoutFailing() {
        Tokenizer unknown = Tokenizer.fromMetadata(Tiny.with(Map.of(TokenizerKeys.PRE, MetadataValue.of("brand-new"))));
        assertEquals(PreTokenizer.GPT2, unknown.preTokenizer().preTokenizer());
        assertFalse(unknown.preTokenizer().known());
        assertEquals(Optional.of("brand-new"), unknown.preTokenizerName());
        Tokenizer missing = Tokenizer.fromMetadata(Tiny.with(Map.of(), TokenizerKeys.PRE));
        assertEquals(PreTokenizer.GPT2, missing.preTokenizer().preTokenizer());
        assertFalse(missing.preTokenizer().known());
        assertEquals("hello world", missing.decode(missing.encode("hello world", false, false)));
        assertTrue(Tiny.tokenizer().preTokenizer().known());
    }

    @Test
    void misuse() {
        Tokenizer t = Tiny.tokenizer();
        PanamaxException e = assertThrows(PanamaxException.class, () -> t.encode("x", true, false));
        contains(e.getMessage(), "BOS", "tokenizer.ggml.bos_token_id");
        assertThrows(IllegalArgumentException.class, () -> t.decode(new int[] {263}));
        assertThrows(IllegalArgumentException.class, () -> t.piece(-1));
    }
}
