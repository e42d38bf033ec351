package dev.panamax.engine.convert;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The parts of a Hugging Face {@code config.json} a dense decoder needs, checked: the architecture
 * (Qwen2ForCausalLM, Qwen3ForCausalLM, LlamaForCausalLM), sizes, norms, rope (transformers 4's
 * {@code rope_theta} / {@code rope_scaling} and transformers 5's {@code rope_parameters}), tied
 * embeddings, special token ids.
 */
public record HfConfig(Path file, String hfArchitecture, String arch, int layers, int hidden, int ffn, int heads,
        int kvHeads, Integer headDim, int vocab, Integer context, Double rmsEps, boolean tied, Map<String, Object> rope,
        Integer bosId, Integer eosId, Map<String, Object> raw) {

    static final Map<String, String> ARCHITECTURES = Map.of("Qwen2ForCausalLM", "qwen2", "Qwen3ForCausalLM", "qwen3",
            "LlamaForCausalLM", "llama");

    /** head_dim, or hidden / heads when config.json does not give it. */
    public int headDimOrDefault() {
        return headDim != null ? headDim : hidden / heads;
    }

    /** The rope type ("default", "linear", "yarn", "llama3", ...), or null. */
    public String ropeType() {
        Object t = rope.get("rope_type");
        if (t == null) {
            t = rope.get("type");
        }
        return t == null ? null : t.toString();
    }

    public Double ropeTheta() {
        Object t = rope.get("rope_theta");
        if (t == null) {
            t = raw.get("rope_theta");
        }
        return t instanceof Number n ? n.doubleValue() : null;
    }

    @SuppressWarnings("unchecked")
    public static HfConfig read(Path dir) {
        Path file = dir.resolve("config.json");
        Map<String, Object> m;
        try {
            Object root = JSON.std.anyFrom(Files.readString(file));
            if (!(root instanceof Map<?, ?>)) {
                throw new PanamaxException(file + ": expected a JSON object");
            }
            m = (Map<String, Object>) root;
        } catch (NoSuchFileException e) {
            throw new PanamaxException(dir + ": no config.json (is this a Hugging Face model folder?)");
        } catch (IOException e) {
            throw new PanamaxException(file + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        String hfArch = null;
        if (m.get("architectures") instanceof List<?> l && !l.isEmpty() && l.get(0) instanceof String s) {
            hfArch = s;
        }
        if (hfArch == null) {
            throw new PanamaxException(file + ": \"architectures\" is missing; expected one of " + ARCHITECTURES.keySet());
        }
        String arch = ARCHITECTURES.get(hfArch);
        if (arch == null) {
            throw new PanamaxException(file + ": architecture " + hfArch + " is not supported (supported: "
                    + ARCHITECTURES.keySet() + ")");
        }
        int layers = positive(file, m, "num_hidden_layers");
        int hidden = positive(file, m, "hidden_size");
        int ffn = positive(file, m, "intermediate_size");
        int heads = positive(file, m, "num_attention_heads");
        int kv = m.containsKey("num_key_value_heads") && m.get("num_key_value_heads") != null
                ? positive(file, m, "num_key_value_heads") : heads;
        if (heads % kv != 0) {
            throw new PanamaxException(file + ": num_attention_heads " + heads + " is not a multiple of num_key_value_heads " + kv);
        }
        Integer headDim = m.get("head_dim") != null ? positive(file, m, "head_dim") : null;
        if (headDim == null && hidden % heads != 0) {
            throw new PanamaxException(file + ": hidden_size " + hidden + " is not a multiple of num_attention_heads " + heads
                    + " and there is no head_dim");
        }
        int vocab = positive(file, m, "vocab_size");
        Integer context = m.get("max_position_embeddings") != null ? positive(file, m, "max_position_embeddings") : null;
        Double eps = m.get("rms_norm_eps") instanceof Number n ? n.doubleValue() : null;
        Object tie = m.get("tie_word_embeddings");
        if (tie != null && !(tie instanceof Boolean)) {
            throw new PanamaxException(file + ": \"tie_word_embeddings\" should be true or false, found " + tie);
        }
        Map<String, Object> rope = Map.of();
        Object rp = m.get("rope_parameters") != null ? m.get("rope_parameters") : m.get("rope_scaling");
        if (rp instanceof Map<?, ?> r) {
            rope = (Map<String, Object>) r;
        } else if (rp != null) {
            throw new PanamaxException(file + ": \"rope_parameters\"/\"rope_scaling\" should be an object, found " + rp);
        }
        return new HfConfig(file, hfArch, arch, layers, hidden, ffn, heads, kv, headDim, vocab, context, eps,
                Boolean.TRUE.equals(tie), rope, tokenId(m.get("bos_token_id")), tokenId(m.get("eos_token_id")), m);
    }

    private static Integer tokenId(Object o) {
        if (o instanceof List<?> l && !l.isEmpty()) {
            o = l.get(0);
        }
        return o instanceof Number n && n.intValue() >= 0 ? n.intValue() : null;
    }

    private static int positive(Path file, Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v instanceof Number n && n.doubleValue() == n.intValue() && n.intValue() > 0) {
            return n.intValue();
        }
        throw new PanamaxException(file + ": \"" + key + "\" should be a positive whole number, found " + v);
    }
}
