package dev.panamax.engine.tokenizer;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.MetadataValue;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads a Hugging Face {@code tokenizer.json} (plus, optionally, {@code tokenizer_config.json}) and
 * produces the equivalent GGUF tokenizer metadata ({@link TokenizerKeys}), ready for
 * {@link Tokenizer#fromMetadata} or a GGUF writer.
 *
 * <ul>
 *   <li>Only byte-level BPE is accepted (model BPE with a ByteLevel pre-tokenizer or decoder);
 *       {@code tokenizer.ggml.model} is "gpt2".
 *   <li>Tokens: the vocabulary and the added tokens by id; ids nobody uses become
 *       {@code [PAD<id>]} of type UNUSED, as llama.cpp's converter does. Added tokens are CONTROL
 *       when {@code special} is true, else USER_DEFINED (the Hugging Face split; llama.cpp's
 *       converter additionally marks {@code <|...|>}-looking non-special tokens CONTROL).
 *   <li>Merges are written as "a b" whether the file stores strings or pairs.
 *   <li>{@code tokenizer.ggml.pre} comes from the pre-tokenizer: the Qwen2 split regex gives
 *       "qwen2", Llama 3's "llama-bpe" (or "smaug-bpe" without ignore_merges), Qwen3.5's "qwen35",
 *       a plain ByteLevel (or the GPT-2 regex) "gpt-2", Digits + ByteLevel "starcoder". Anything
 *       else is an error rather than a silently different tokenization.
 *   <li>The normalizer is recorded in {@link TokenizerKeys#NORMALIZER}: "nfc" for NFC, "none" for
 *       none; others are an error.
 *   <li>From tokenizer_config.json: bos/eos/pad/unk token names (strings or {"content": ...}),
 *       add_bos_token, add_eos_token, chat_template (a string, or named templates: "default"
 *       becomes tokenizer.chat_template, the others tokenizer.chat_template.NAME). Without
 *       add_bos_token, a TemplateProcessing post-processor that starts with the BOS token implies it.
 * </ul>
 */
public final class HfTokenizerJson {
    private HfTokenizerJson() {}

    static final String QWEN2_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String LLAMA3_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String QWEN35_REGEX = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?[\\p{L}\\p{M}]+|\\p{N}| ?[^\\s\\p{L}\\p{M}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
    static final String GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";

    /** Reads {@code dir/tokenizer.json} and, when present, {@code dir/tokenizer_config.json}. */
    public static Map<String, MetadataValue> readDirectory(Path dir) {
        Path config = dir.resolve("tokenizer_config.json");
        return read(dir.resolve("tokenizer.json"), Files.exists(config) ? config : null);
    }

    /** Reads a tokenizer.json and an optional (nullable) tokenizer_config.json. */
    public static Map<String, MetadataValue> read(Path tokenizerJson, Path tokenizerConfigJson) {
        String json = readText(tokenizerJson);
        String config = tokenizerConfigJson == null ? null : readText(tokenizerConfigJson);
        return parse(json, config, tokenizerJson.toString());
    }

    private static String readText(Path p) {
        try {
            return Files.readString(p);
        } catch (NoSuchFileException e) {
            throw new TokenizerException(p + ": file not found");
        } catch (IOException e) {
            throw new TokenizerException(p + ": cannot read: " + e.getMessage(), e);
        }
    }

    /**
     * Converts tokenizer.json text (and optional tokenizer_config.json text, may be null) to GGUF
     * tokenizer metadata, in a stable key order. {@code source} names the input in errors.
     */
    public static Map<String, MetadataValue> parse(String tokenizerJson, String tokenizerConfigJson, String source) {
        Map<String, Object> root = parseObject(tokenizerJson, source);
        Map<String, Object> config = tokenizerConfigJson == null ? Map.of()
                : parseObject(tokenizerConfigJson, source + " (tokenizer_config.json)");
        return new Converter(source, root, config).convert();
    }

    /**
     * Pads the token list to {@code vocabSize} entries with {@code [PAD<id>]} tokens of type UNUSED
     * (a model's embedding often has more rows than its tokenizer has tokens). Returns a new map.
     */
    public static Map<String, MetadataValue> padVocabulary(Map<String, MetadataValue> metadata, int vocabSize) {
        MetadataValue.StringArray tokens = (MetadataValue.StringArray) metadata.get(TokenizerKeys.TOKENS);
        MetadataValue.IntArray types = (MetadataValue.IntArray) metadata.get(TokenizerKeys.TOKEN_TYPE);
        int n = tokens.size();
        if (vocabSize < n) {
            throw new TokenizerException("cannot pad the vocabulary of " + n + " tokens down to " + vocabSize);
        }
        List<String> padded = new ArrayList<>(tokens.values());
        long[] paddedTypes = Arrays.copyOf(types.values(), vocabSize);
        for (int i = n; i < vocabSize; i++) {
            padded.add("[PAD" + i + "]");
            paddedTypes[i] = TokenType.UNUSED.code();
        }
        Map<String, MetadataValue> out = new LinkedHashMap<>(metadata);
        out.put(TokenizerKeys.TOKENS, MetadataValue.ofStrings(padded));
        out.put(TokenizerKeys.TOKEN_TYPE, new MetadataValue.IntArray(types.elementType(), paddedTypes));
        return out;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> parseObject(String json, String source) {
        try {
            Object v = JSON.std.anyFrom(json);
            if (v instanceof Map<?, ?> m) {
                return (Map<String, Object>) m;
            }
            throw new TokenizerException(source + ": expected a JSON object at the top level");
        } catch (IOException e) {
            throw new TokenizerException(source + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** One conversion; fields hold what later steps need. */
    private static final class Converter {
        private final String source;
        private final Map<String, Object> root;
        private final Map<String, Object> config;
        private final Map<String, Integer> byContent = new HashMap<>();

        Converter(String source, Map<String, Object> root, Map<String, Object> config) {
            this.source = source;
            this.root = root;
            this.config = config;
        }

        private TokenizerException error(String what) {
            return new TokenizerException(source + ": " + what);
        }

        Map<String, MetadataValue> convert() {
            Map<String, Object> model = object(root.get("model"), "model");
            Object modelType = model.get("type");
            if (modelType != null && !"BPE".equals(modelType)) {
                throw error("model.type '" + modelType + "' is not supported (only byte-level BPE converts to GGUF 'gpt2')");
            }
            if (!isByteLevel(root.get("pre_tokenizer")) && !isByteLevel(root.get("decoder"))) {
                throw error("not a byte-level BPE tokenizer (no ByteLevel pre_tokenizer or decoder)");
            }
            if (Boolean.TRUE.equals(model.get("byte_fallback"))) {
                throw error("model.byte_fallback is not supported for byte-level BPE");
            }

            // tokens and types
            Map<String, Object> vocab = object(model.get("vocab"), "model.vocab");
            List<Object> added = root.get("added_tokens") == null ? List.of() : list(root.get("added_tokens"), "added_tokens");
            int size = 0;
            for (Map.Entry<String, Object> e : vocab.entrySet()) {
                size = Math.max(size, id(e.getValue(), "model.vocab['" + e.getKey() + "']") + 1);
            }
            for (int i = 0; i < added.size(); i++) {
                Map<String, Object> a = object(added.get(i), "added_tokens[" + i + "]");
                size = Math.max(size, id(a.get("id"), "added_tokens[" + i + "].id") + 1);
            }
            String[] tokens = new String[size];
            int[] types = new int[size];
            for (Map.Entry<String, Object> e : vocab.entrySet()) {
                int id = ((Number) e.getValue()).intValue();
                tokens[id] = e.getKey();
                types[id] = TokenType.NORMAL.code();
                byContent.putIfAbsent(e.getKey(), id);
            }
            for (int i = 0; i < added.size(); i++) {
                Map<String, Object> a = object(added.get(i), "added_tokens[" + i + "]");
                int id = ((Number) a.get("id")).intValue();
                Object content = a.get("content");
                if (!(content instanceof String s)) {
                    throw error("added_tokens[" + i + "].content should be a string");
                }
                tokens[id] = s;
                types[id] = (Boolean.TRUE.equals(a.get("special")) ? TokenType.CONTROL : TokenType.USER_DEFINED).code();
                byContent.put(s, id);
            }
            for (int i = 0; i < size; i++) {
                if (tokens[i] == null) {
                    tokens[i] = "[PAD" + i + "]";
                    types[i] = TokenType.UNUSED.code();
                }
            }

            // merges
            List<Object> mergeNodes = model.get("merges") == null ? List.of() : list(model.get("merges"), "model.merges");
            List<String> merges = new ArrayList<>(mergeNodes.size());
            for (int i = 0; i < mergeNodes.size(); i++) {
                Object m = mergeNodes.get(i);
                if (m instanceof String s) {
                    merges.add(s);
                } else if (m instanceof List<?> pair && pair.size() == 2 && pair.get(0) instanceof String a
                        && pair.get(1) instanceof String b) {
                    merges.add(a + " " + b);
                } else {
                    throw error("model.merges[" + i + "] should be \"a b\" or [\"a\", \"b\"]");
                }
            }

            Map<String, MetadataValue> md = new LinkedHashMap<>();
            md.put(TokenizerKeys.MODEL, MetadataValue.of("gpt2"));
            md.put(TokenizerKeys.PRE, MetadataValue.of(preName(root.get("pre_tokenizer"),
                    Boolean.TRUE.equals(model.get("ignore_merges")))));
            md.put(TokenizerKeys.TOKENS, MetadataValue.ofStrings(Arrays.asList(tokens)));
            md.put(TokenizerKeys.TOKEN_TYPE, MetadataValue.ofInt32s(types));
            md.put(TokenizerKeys.MERGES, MetadataValue.ofStrings(merges));

            Optional<Integer> bos = tokenIdOf("bos_token");
            Optional<Integer> eos = tokenIdOf("eos_token");
            Optional<Integer> unk = tokenIdOf("unk_token");
            if (unk.isEmpty() && model.get("unk_token") instanceof String u) {
                unk = Optional.ofNullable(byContent.get(u));
            }
            Optional<Integer> pad = tokenIdOf("pad_token");
            bos.ifPresent(id -> md.put(TokenizerKeys.BOS_ID, MetadataValue.ofUInt32(id)));
            eos.ifPresent(id -> md.put(TokenizerKeys.EOS_ID, MetadataValue.ofUInt32(id)));
            unk.ifPresent(id -> md.put(TokenizerKeys.UNK_ID, MetadataValue.ofUInt32(id)));
            pad.ifPresent(id -> md.put(TokenizerKeys.PAD_ID, MetadataValue.ofUInt32(id)));

            boolean addBos = config.get("add_bos_token") instanceof Boolean b ? b
                    : bos.isPresent() && postProcessorAdds(bos.get(), true);
            boolean addEos = config.get("add_eos_token") instanceof Boolean b ? b
                    : eos.isPresent() && postProcessorAdds(eos.get(), false);
            if (addBos && bos.isEmpty()) {
                throw error("add_bos_token is true but there is no bos_token");
            }
            md.put(TokenizerKeys.ADD_BOS, MetadataValue.of(addBos));
            md.put(TokenizerKeys.ADD_EOS, MetadataValue.of(addEos));

            Object template = config.get("chat_template");
            if (template instanceof String t) {
                md.put(TokenizerKeys.CHAT_TEMPLATE, MetadataValue.of(t));
            } else if (template instanceof List<?> named) {
                List<String> names = new ArrayList<>();
                for (Object o : named) {
                    Map<String, Object> entry = object(o, "chat_template entry");
                    if (!(entry.get("name") instanceof String name) || !(entry.get("template") instanceof String t)) {
                        throw error("chat_template entries should have string 'name' and 'template'");
                    }
                    if (name.equals("default")) {
                        md.put(TokenizerKeys.CHAT_TEMPLATE, MetadataValue.of(t));
                    } else {
                        md.put(TokenizerKeys.CHAT_TEMPLATE + "." + name, MetadataValue.of(t));
                        names.add(name);
                    }
                }
                if (!names.isEmpty()) {
                    md.put("tokenizer.chat_templates", MetadataValue.ofStrings(names));
                }
            }
            md.put(TokenizerKeys.NORMALIZER, MetadataValue.of(normalizer(root.get("normalizer"))));
            return md;
        }

        private Optional<Integer> tokenIdOf(String key) {
            Object v = config.get(key);
            if (v instanceof Map<?, ?> m) {
                v = m.get("content");
            }
            if (v == null) {
                return Optional.empty();
            }
            if (!(v instanceof String s)) {
                throw error("tokenizer_config.json " + key + " should be a string or {\"content\": ...}");
            }
            Integer id = byContent.get(s);
            if (id == null) {
                throw error("tokenizer_config.json " + key + " '" + s + "' is not a token of tokenizer.json");
            }
            return Optional.of(id);
        }

        /** Whether a TemplateProcessing post-processor puts this token first (or last) in a single sequence. */
        private boolean postProcessorAdds(int id, boolean first) {
            List<Map<String, Object>> processors = new ArrayList<>();
            Object pp = root.get("post_processor");
            if (pp instanceof Map<?, ?> m) {
                @SuppressWarnings("unchecked")
                Map<String, Object> mm = (Map<String, Object>) m;
                if ("Sequence".equals(mm.get("type")) && mm.get("processors") instanceof List<?> l) {
                    for (Object o : l) {
                        processors.add(object(o, "post_processor.processors"));
                    }
                } else {
                    processors.add(mm);
                }
            }
            for (Map<String, Object> p : processors) {
                if ("TemplateProcessing".equals(p.get("type")) && p.get("single") instanceof List<?> single
                        && !single.isEmpty()) {
                    Object piece = first ? single.getFirst() : single.getLast();
                    if (piece instanceof Map<?, ?> pm && pm.get("SpecialToken") instanceof Map<?, ?> st
                            && st.get("id") instanceof String name && Integer.valueOf(id).equals(byContent.get(name))) {
                        return true;
                    }
                }
            }
            return false;
        }

        private String normalizer(Object node) {
            if (node == null) {
                return "none";
            }
            Map<String, Object> n = object(node, "normalizer");
            Object type = n.get("type");
            if ("NFC".equals(type)) {
                return "nfc";
            }
            if ("Sequence".equals(type) && n.get("normalizers") instanceof List<?> l) {
                if (l.isEmpty()) {
                    return "none";
                }
                if (l.size() == 1) {
                    return normalizer(l.getFirst());
                }
            }
            throw error("normalizer " + JsonText.of(node) + " is not supported (only NFC or none)");
        }

        private boolean isByteLevel(Object node) {
            if (!(node instanceof Map<?, ?> m)) {
                return false;
            }
            if ("ByteLevel".equals(m.get("type"))) {
                return true;
            }
            if ("Sequence".equals(m.get("type"))) {
                for (String k : List.of("pretokenizers", "decoders")) {
                    if (m.get(k) instanceof List<?> l) {
                        for (Object o : l) {
                            if (isByteLevel(o)) {
                                return true;
                            }
                        }
                    }
                }
            }
            return false;
        }

        private String preName(Object node, boolean ignoreMerges) {
            if (node == null) {
                throw error("pre_tokenizer is missing; cannot choose tokenizer.ggml.pre");
            }
            Map<String, Object> p = object(node, "pre_tokenizer");
            List<Object> steps = "Sequence".equals(p.get("type")) ? list(p.get("pretokenizers"), "pre_tokenizer.pretokenizers")
                    : List.of(p);
            if (steps.size() == 1) {
                Map<String, Object> bl = object(steps.getFirst(), "pre_tokenizer");
                if ("ByteLevel".equals(bl.get("type")) && !Boolean.FALSE.equals(bl.get("use_regex"))) {
                    checkByteLevel(bl);
                    return "gpt-2";
                }
            } else if (steps.size() == 2) {
                Map<String, Object> first = object(steps.get(0), "pre_tokenizer.pretokenizers[0]");
                Map<String, Object> bl = object(steps.get(1), "pre_tokenizer.pretokenizers[1]");
                if ("ByteLevel".equals(bl.get("type"))) {
                    checkByteLevel(bl);
                    boolean blRegex = !Boolean.FALSE.equals(bl.get("use_regex"));
                    if ("Digits".equals(first.get("type")) && Boolean.TRUE.equals(first.get("individual_digits"))
                            && blRegex) {
                        return "starcoder";
                    }
                    if ("Split".equals(first.get("type")) && !blRegex
                            && "Isolated".equals(first.get("behavior")) && !Boolean.TRUE.equals(first.get("invert"))
                            && first.get("pattern") instanceof Map<?, ?> pat && pat.get("Regex") instanceof String re) {
                        switch (re) {
                            case QWEN2_REGEX -> {
                                return "qwen2";
                            }
                            case LLAMA3_REGEX -> {
                                return ignoreMerges ? "llama-bpe" : "smaug-bpe";
                            }
                            case QWEN35_REGEX -> {
                                return "qwen35";
                            }
                            case GPT2_REGEX -> {
                                return "gpt-2";
                            }
                            default -> throw error("pre_tokenizer split regex is not one Panamax knows: " + re);
                        }
                    }
                }
            }
            throw error("pre_tokenizer " + JsonText.of(node) + " is not supported (known: the qwen2, llama3, "
                    + "qwen35 and gpt-2 splits followed by ByteLevel, Digits + ByteLevel)");
        }

        private void checkByteLevel(Map<String, Object> bl) {
            if (Boolean.TRUE.equals(bl.get("add_prefix_space"))) {
                throw error("ByteLevel add_prefix_space = true is not supported");
            }
        }

        @SuppressWarnings("unchecked")
        private Map<String, Object> object(Object v, String what) {
            if (v instanceof Map<?, ?> m) {
                return (Map<String, Object>) m;
            }
            throw error(what + " should be a JSON object");
        }

        @SuppressWarnings("unchecked")
        private List<Object> list(Object v, String what) {
            if (v instanceof List<?> l) {
                return (List<Object>) l;
            }
            throw error(what + " should be a JSON array");
        }

        private int id(Object v, String what) {
            if (v instanceof Integer || v instanceof Long) {
                long l = ((Number) v).longValue();
                if (l >= 0 && l < Integer.MAX_VALUE) {
                    return (int) l;
                }
            }
            throw error(what + " should be a token id (a non-negative integer), found " + v);
        }
    }

    /** Short JSON rendering of a node for error messages. */
    private static final class JsonText {
        static String of(Object node) {
            try {
                String s = JSON.std.asString(node);
                return s.length() > 300 ? s.substring(0, 300) + "..." : s;
            } catch (IOException e) {
                return String.valueOf(node);
            }
        }
    }
}
