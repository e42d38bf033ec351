package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.Metadata;
import dev.panamax.gguf.MetadataValue;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;

/** tokenizer.json (+ tokenizer_config.json) to GGUF tokenizer metadata. */
class HfTokenizerJsonTest {

    @Test
    void convertsTheQwenTokenizer() {
        Metadata md = new Metadata("qwen", Qwen.metadata());
        assertEquals("gpt2", md.getString(TokenizerKeys.MODEL));
        assertEquals("qwen2", md.getString(TokenizerKeys.PRE));
        assertEquals("nfc", md.getString(TokenizerKeys.NORMALIZER));
        List<String> tokens = md.getStringArray(TokenizerKeys.TOKENS);
        int[] types = md.getIntArray(TokenizerKeys.TOKEN_TYPE);
        assertEquals(151669, tokens.size());
        assertEquals("<|endoftext|>", tokens.get(151643));
        assertEquals(TokenType.CONTROL.code(), types[151643]);
        assertEquals(TokenType.USER_DEFINED.code(), types[151667]);
        assertEquals("</think>", tokens.get(151668));
        assertEquals(TokenType.NORMAL.code(), types[0]);
        List<String> merges = md.getStringArray(TokenizerKeys.MERGES);
        assertEquals(151387, merges.size());
        assertEquals("\u0120 \u0120", merges.get(0), "pairs in tokenizer.json become 'a b'");
        assertEquals("i n", merges.get(2));
        assertEquals(151645, md.getInt(TokenizerKeys.EOS_ID));
        assertEquals(151643, md.getInt(TokenizerKeys.PAD_ID));
        assertFalse(md.has(TokenizerKeys.BOS_ID), "Qwen's tokenizer_config has bos_token null");
        assertFalse(md.getBool(TokenizerKeys.ADD_BOS));
        assertTrue(md.getString(TokenizerKeys.CHAT_TEMPLATE).contains("<|im_start|>"));
        Tokenizer t = Qwen.tokenizer();
        assertTrue(t.bosId().isEmpty());
        assertEquals(OptionalInt.of(151645), t.eosId());
        assertTrue(t.isEndOfGeneration(151645));
        assertTrue(t.isEndOfGeneration(151643));
        assertFalse(t.isEndOfGeneration(t.tokenId("Hello").orElseThrow()));
    }

    // ---- a small synthetic tokenizer.json ----

    private static Map<String, Object> tokenizerJson(boolean mergesAsPairs, Object preTokenizer, Object normalizer) {
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(ByteLevel.charOf(b)), b);
        }
        vocab.put("he", 256);
        vocab.put("ll", 257);
        vocab.put("hell", 258);
        vocab.put("hello", 259);
        List<Object> merges = new ArrayList<>();
        for (String m : List.of("h e", "l l", "he ll", "hell o")) {
            merges.add(mergesAsPairs ? List.of(m.split(" ")) : m);
        }
        Map<String, Object> model = new LinkedHashMap<>();
        model.put("type", "BPE");
        model.put("vocab", vocab);
        model.put("merges", merges);
        Map<String, Object> root = new LinkedHashMap<>();
        root.put("added_tokens", List.of(
                Map.of("id", 262, "content", "<s>", "special", true),
                Map.of("id", 263, "content", "</s>", "special", true),
                Map.of("id", 264, "content", "<tool>", "special", false)));
        root.put("normalizer", normalizer);
        root.put("pre_tokenizer", preTokenizer);
        root.put("decoder", Map.of("type", "ByteLevel"));
        root.put("model", model);
        return root;
    }

    private static Map<String, Object> split(String regex) {
        return Map.of("type", "Sequence", "pretokenizers", List.of(
                Map.of("type", "Split", "pattern", Map.of("Regex", regex), "behavior", "Isolated", "invert", false),
                Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", false)));
    }

    private static Map<String, MetadataValue> convert(Map<String, Object> json, Map<String, Object> config) throws Exception {
        return HfTokenizerJson.parse(JSON.std.asString(json), config == null ? null : JSON.std.asString(config), "t.json");
    }

    @Test
    void mergesAsStringsOrPairsGiveTheSameMetadata() throws Exception {
        Map<String, MetadataValue> a = convert(tokenizerJson(false, split(HfTokenizerJson.QWEN2_REGEX), null), null);
        Map<String, MetadataValue> b = convert(tokenizerJson(true, split(HfTokenizerJson.QWEN2_REGEX), null), null);
        assertEquals(a, b);
        Metadata md = new Metadata("t", a);
        assertEquals(List.of("h e", "l l", "he ll", "hell o"), md.getStringArray(TokenizerKeys.MERGES));
        List<String> tokens = md.getStringArray(TokenizerKeys.TOKENS);
        assertEquals(265, tokens.size());
        assertEquals("[PAD260]", tokens.get(260), "unused ids are padded as llama.cpp does");
        assertArrayEquals(new int[] {5, 5, 3, 3, 4}, java.util.Arrays.copyOfRange(md.getIntArray(TokenizerKeys.TOKEN_TYPE), 260, 265));
        assertEquals("none", md.getString(TokenizerKeys.NORMALIZER));
        Tokenizer t = Tokenizer.fromMetadata(md);
        assertFalse(t.normalizesNfc(), "the file says no normalizer, even though qwen2 would imply NFC");
        assertArrayEquals(new int[] {262, 259, 264}, t.encode("<s>hello<tool>", false, true));
    }

    @Test
    void choosesThePreTokenizerName() throws Exception {
        Map<String, Object> byteLevel = Map.of("type", "ByteLevel", "add_prefix_space", false, "use_regex", true);
        assertEquals("qwen2", pre(split(HfTokenizerJson.QWEN2_REGEX), false));
        assertEquals("qwen35", pre(split(HfTokenizerJson.QWEN35_REGEX), false));
        assertEquals("llama-bpe", pre(split(HfTokenizerJson.LLAMA3_REGEX), true));
        assertEquals("smaug-bpe", pre(split(HfTokenizerJson.LLAMA3_REGEX), false));
        assertEquals("gpt-2", pre(byteLevel, false));
        assertEquals("gpt-2", pre(split(HfTokenizerJson.GPT2_REGEX), false));
        assertEquals("starcoder", pre(Map.of("type", "Sequence", "pretokenizers",
                List.of(Map.of("type", "Digits", "individual_digits", true), byteLevel)), false));
        for (String name : List.of("qwen2", "qwen35", "llama-bpe", "smaug-bpe", "gpt-2", "starcoder", "deepseek-r1-qwen")) {
            assertTrue(PreTokenizer.resolve(java.util.Optional.of(name)).known(), name);
        }
    }

    private static String pre(Object preTokenizer, boolean ignoreMerges) throws Exception {
        Map<String, Object> json = tokenizerJson(false, preTokenizer, null);
        @SuppressWarnings("unchecked")
        Map<String, Object> model = (Map<String, Object>) json.get("model");
        model.put("ignore_merges", ignoreMerges);
        return ((MetadataValue.StringValue) convert(json, null).get(TokenizerKeys.PRE)).value();
    }

    @Test
    void readsTokenizerConfig() throws Exception {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("bos_token", Map.of("content", "<s>", "special", true));
        config.put("eos_token", "</s>");
        config.put("chat_template", List.of(Map.of("name", "default", "template", "{{ x }}"),
                Map.of("name", "tool_use", "template", "{{ tools }}")));
        Map<String, Object> json = tokenizerJson(false, split(HfTokenizerJson.QWEN2_REGEX), Map.of("type", "NFC"));
        json.put("post_processor", Map.of("type", "TemplateProcessing", "single",
                List.of(Map.of("SpecialToken", Map.of("id", "<s>", "type_id", 0)),
                        Map.of("Sequence", Map.of("id", "A", "type_id", 0)))));
        Metadata md = new Metadata("t", convert(json, config));
        assertEquals(262, md.getInt(TokenizerKeys.BOS_ID));
        assertEquals(263, md.getInt(TokenizerKeys.EOS_ID));
        assertTrue(md.getBool(TokenizerKeys.ADD_BOS), "TemplateProcessing starts with BOS");
        assertFalse(md.getBool(TokenizerKeys.ADD_EOS));
        assertEquals("{{ x }}", md.getString(TokenizerKeys.CHAT_TEMPLATE));
        assertEquals("{{ tools }}", md.getString("tokenizer.chat_template.tool_use"));
        assertEquals("nfc", md.getString(TokenizerKeys.NORMALIZER));
        Tokenizer t = Tokenizer.fromMetadata(md);
        assertArrayEquals(new int[] {262, 259}, t.encode("hello", t.addBos(), false));
        config.put("add_bos_token", false);
        assertFalse(new Metadata("t", convert(json, config)).getBool(TokenizerKeys.ADD_BOS), "the config wins");
    }

    @Test
    void padsTheVocabulary() {
        Map<String, MetadataValue> padded = HfTokenizerJson.padVocabulary(Qwen.metadata(), 152064);
        Tokenizer t = Tokenizer.fromMetadata(new Metadata("padded", padded));
        assertEquals(152064, t.vocabSize());
        assertEquals("[PAD152063]", t.piece(152063));
        assertEquals(TokenType.UNUSED, t.tokenType(152063));
        assertEquals("[PAD152063]", t.decode(new int[] {152063}));
    }

    @Test
    void rejectsWhatItCannotConvert() throws Exception {
        Map<String, Object> unigram = tokenizerJson(false, split(HfTokenizerJson.QWEN2_REGEX), null);
        @SuppressWarnings("unchecked")
        Map<String, Object> model = (Map<String, Object>) unigram.get("model");
        model.put("type", "Unigram");
        assertMessage(unigram, null, "model.type 'Unigram'");
        assertMessage(tokenizerJson(false, split("\\w+|\\s+"), null), null, "split regex", "\\w+|\\s+");
        assertMessage(tokenizerJson(false, split(HfTokenizerJson.QWEN2_REGEX), Map.of("type", "Lowercase")), null,
                "normalizer", "Lowercase");
        assertMessage(tokenizerJson(false, split(HfTokenizerJson.QWEN2_REGEX), null), Map.of("eos_token", "<nope>"),
                "eos_token '<nope>'");
        TokenizerException e = assertThrows(TokenizerException.class, () -> HfTokenizerJson.parse("[1, 2", null, "bad.json"));
        assertTrue(e.getMessage().startsWith("bad.json: "), e.getMessage());
        assertThrows(TokenizerException.class, () -> HfTokenizerJson.read(java.nio.file.Path.of("/nonexistent/tokenizer.json"), null));
    }

    private static void assertMessage(Map<String, Object> json, Map<String, Object> config, String... parts) {
        TokenizerException e = assertThrows(TokenizerException.class, () -> convert(json, config));
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "'" + e.getMessage() + "' should mention '" + p + "'");
        }
        assertTrue(e.getMessage().startsWith("t.json: "), e.getMessage());
    }
}
