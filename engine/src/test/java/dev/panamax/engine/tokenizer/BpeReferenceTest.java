package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.MetadataValue;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every pre-tokenizer against Hugging Face tokenizers at test time (one python run for all): the
 * Qwen vocabulary re-dressed with each split (see tools/tokenizer/hf_reference.py), on the corpus
 * plus a few thousand random strings mixing every character class the splits care about.
 */
class BpeReferenceTest {
    private static final List<String> VARIANTS =
            List.of("qwen2", "qwen2-nospecial", "qwen35", "llama3", "gpt2", "starcoder");

    @TempDir
    static Path dir;

    private static List<String> texts;
    private static Map<String, Object> reference;

    @BeforeAll
    static void runReference() throws Exception {
        Path tokJson = Qwen.tokenizerJson();
        texts = new ArrayList<>(Fixture.texts());
        texts.addAll(randomTexts(new SplittableRandom(20250101), 3000));
        Map<String, Object> req = new LinkedHashMap<>();
        req.put("tokenizer_json", tokJson.toAbsolutePath().toString());
        req.put("variants", VARIANTS);
        req.put("texts", texts);
        Path in = dir.resolve("in.json");
        Path out = dir.resolve("out.json");
        Files.writeString(in, JSON.std.asString(req));
        Python.run("encode", in.toString(), out.toString());
        reference = JSON.std.mapFrom(Files.readString(out));
    }

    private static final String[] PIECES = {
        "a", "Z", "hello", " the", "I", "x", "'s", "'S", "'re", "'LL", "'d", "'", "\u2019", "don't",
        "0", "7", "12", "3456", "\u0661", "\uff13", "\u00b2", "\u216b", "\u2460",
        " ", " ", " ", "  ", "\t", "\n", "\n", "\r\n", "\r", "\u000b", "\u000c", "\u00a0", "\u3000", "\u2003",
        "\u0085", "\u2028", "\u200b", "\ufeff", "\u0000", "\u001b", "\u007f",
        ".", ",", "!", "?", "-", "--", "(", ")", "{", "}", "\"", "#", "$", "%", "&", "*", "+", "/", "<", ">", "|",
        "\u00e9", "e\u0301", "\u0301", "\u0308", "\u00f1", "n\u0303", "\u00df", "\u0130",
        "\u4e2d", "\u6587", "\u3002", "\u3042", "\u30ab", "\ud55c", "\u0928\u092e\u0938\u094d\u0924\u0947", "\u0e2a\u0e27\u0e31",
        "\u0645\u0631\u062d\u0628\u0627", "\u05e9\u05dc\u05d5\u05dd", "\u041f\u0440\u0438", "\u03b5",
        "\ud83d\ude00", "\ud83d\udc4d\ud83c\udffd", "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67", "\ud83c\uddef\ud83c\uddf5",
        "\u2764\ufe0f", "\ud800\udf48", "\ud835\udd4f", "\ud840\udc00",
        "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<think>", "</think>", "<|im_start", "|>",
    };

    static List<String> randomTexts(SplittableRandom r, int count) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            StringBuilder sb = new StringBuilder();
            int n = r.nextInt(i % 50 == 0 ? 200 : 16);
            for (int k = 0; k < n; k++) {
                String p = PIECES[r.nextInt(PIECES.length)];
                int repeat = r.nextInt(10) == 0 ? 1 + r.nextInt(6) : 1;
                sb.append(p.repeat(repeat));
            }
            out.add(sb.toString());
        }
        return out;
    }

    private static Tokenizer tokenizer(String variant) {
        return switch (variant) {
            case "qwen2", "qwen2-nospecial" -> Qwen.tokenizer();
            case "qwen35" -> Qwen.with(Map.of(TokenizerKeys.PRE, MetadataValue.of("qwen35"),
                    TokenizerKeys.NORMALIZER, MetadataValue.of("nfc")));
            case "llama3" -> Qwen.with(Map.of(TokenizerKeys.PRE, MetadataValue.of("llama-bpe"),
                    TokenizerKeys.NORMALIZER, MetadataValue.of("none")));
            case "gpt2" -> Qwen.with(Map.of(TokenizerKeys.PRE, MetadataValue.of("gpt-2"),
                    TokenizerKeys.NORMALIZER, MetadataValue.of("none")));
            case "starcoder" -> Qwen.with(Map.of(TokenizerKeys.PRE, MetadataValue.of("starcoder"),
                    TokenizerKeys.NORMALIZER, MetadataValue.of("none")));
            default -> throw new IllegalArgumentException(variant);
        };
    }

    private static void check(String variant) {
        Tokenizer t = tokenizer(variant);
        boolean special = !variant.equals("qwen2-nospecial");
        @SuppressWarnings("unchecked")
        Map<String, Object> ref = (Map<String, Object>) reference.get(variant);
        List<?> ids = (List<?>) ref.get("ids");
        List<?> decoded = (List<?>) ref.get("decoded");
        int failures = 0;
        StringBuilder report = new StringBuilder();
        for (int i = 0; i < texts.size(); i++) {
            int[] expected = Fixture.ints(ids.get(i));
            int[] actual = t.encode(texts.get(i), false, special);
            if (!Arrays.equals(expected, actual)) {
                if (failures++ < 5) {
                    report.append("\n").append(JsonEscape.of(texts.get(i))).append("\n  hf:   ")
                            .append(Arrays.toString(expected)).append("\n  ours: ").append(Arrays.toString(actual));
                }
            } else {
                assertEquals(decoded.get(i), t.decode(actual), "decode of text " + i);
            }
        }
        if (failures > 0) {
            fail(variant + ": " + failures + " of " + texts.size() + " texts differ" + report);
        }
    }

    @Test
    void qwen2() {
        check("qwen2");
    }

    @Test
    void qwen2WithoutSpecialParsing() {
        check("qwen2-nospecial");
    }

    @Test
    void qwen35() {
        check("qwen35");
    }

    @Test
    void llama3() {
        check("llama3");
    }

    @Test
    void gpt2() {
        check("gpt2");
    }

    @Test
    void starcoder() {
        check("starcoder");
    }

    /** Escapes for failure messages. */
    static final class JsonEscape {
        static String of(String s) {
            try {
                return JSON.std.asString(s.length() > 200 ? s.substring(0, 200) : s);
            } catch (java.io.IOException e) {
                return s;
            }
        }
    }
}
