package dev.panamax.engine.tokenizer;

import dev.panamax.gguf.Metadata;
import dev.panamax.gguf.MetadataValue;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** A small byte-level BPE vocabulary: the 256 byte tokens, a few merges, two added tokens. */
final class Tiny {
    private Tiny() {}

    static final int HE = 256;
    static final int LL = 257;
    static final int HELL = 258;
    static final int HELLO = 259;
    static final int END = 260;
    static final int X = 261;
    static final int END_LONG = 262;

    static Map<String, MetadataValue> metadata() {
        List<String> tokens = new ArrayList<>();
        List<Integer> types = new ArrayList<>();
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevel.charOf(b)));
            types.add(1);
        }
        for (String s : List.of("he", "ll", "hell", "hello")) {
            tokens.add(s);
            types.add(1);
        }
        tokens.add("<|end|>");
        types.add(3);
        tokens.add("<x>");
        types.add(4);
        tokens.add("<|end|>!");
        types.add(3);
        Map<String, MetadataValue> m = new LinkedHashMap<>();
        m.put(TokenizerKeys.MODEL, MetadataValue.of("gpt2"));
        m.put(TokenizerKeys.PRE, MetadataValue.of("qwen2"));
        m.put(TokenizerKeys.TOKENS, MetadataValue.ofStrings(tokens));
        m.put(TokenizerKeys.TOKEN_TYPE, MetadataValue.ofInt32s(types.stream().mapToInt(Integer::intValue).toArray()));
        m.put(TokenizerKeys.MERGES, MetadataValue.ofStrings(List.of("h e", "l l", "he ll", "hell o")));
        m.put(TokenizerKeys.EOS_ID, MetadataValue.ofUInt32(END));
        return m;
    }

    static Metadata with(Map<String, MetadataValue> changes, String... removed) {
        Map<String, MetadataValue> m = metadata();
        m.putAll(changes);
        for (String k : removed) {
            m.remove(k);
        }
        return new Metadata("tiny.gguf", m);
    }

    static Tokenizer tokenizer() {
        return Tokenizer.fromMetadata(with(Map.of()));
    }
}
