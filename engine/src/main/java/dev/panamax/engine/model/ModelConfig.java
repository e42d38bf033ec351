package dev.panamax.engine.model;

import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.Metadata;
import dev.panamax.gguf.PanamaxException;

/**
 * Hyper-parameters of a model, read from GGUF metadata (llama.cpp's keys) with user overrides.
 *
 * @param headDim size of one query/key head
 * @param valueDim size of one value head
 * @param vocab rows of the token embedding
 */
public record ModelConfig(Architecture arch, int layers, int embedding, int feedForward, int heads, int kvHeads,
        int headDim, int valueDim, int vocab, int trainedContext, float rmsEps, RopeConfig rope) {

    public ModelConfig {
        if (heads % kvHeads != 0) {
            throw new PanamaxException("attention heads (" + heads + ") must be a multiple of key/value heads (" + kvHeads + ")");
        }
    }

    /** Query heads per key/value head (grouped-query attention). */
    public int groupSize() {
        return heads / kvHeads;
    }

    public int queryDim() {
        return heads * headDim;
    }

    public int kvDim() {
        return kvHeads * headDim;
    }

    public int kvValueDim() {
        return kvHeads * valueDim;
    }

    public static ModelConfig from(GgufFile file, RopeOverrides o) {
        Metadata m = file.metadata();
        String source = file.name();
        Architecture arch = Architecture.fromGguf(source, m.getString("general.architecture"));
        String a = arch.ggufName() + ".";
        int embedding = positive(m, a + "embedding_length");
        int heads = positive(m, a + "attention.head_count");
        int kvHeads = m.optInt(a + "attention.head_count_kv").orElse(heads);
        int headDim = m.optInt(a + "attention.key_length").orElse(embedding / heads);
        int valueDim = m.optInt(a + "attention.value_length").orElse(headDim);
        int layers = positive(m, a + "block_count");
        int ffn = positive(m, a + "feed_forward_length");
        int context = m.optInt(a + "context_length").orElse(4096);
        float eps = (float) m.optDouble(a + "attention.layer_norm_rms_epsilon").orElse(1e-6);
        int vocab = (int) file.tensor("token_embd.weight").info().ne(1);
        if (kvHeads <= 0 || heads % kvHeads != 0) {
            throw new PanamaxException(source + ": '" + a + "attention.head_count_kv' = " + kvHeads
                    + " must divide '" + a + "attention.head_count' = " + heads);
        }
        return new ModelConfig(arch, layers, embedding, ffn, heads, kvHeads, headDim, valueDim, vocab, context, eps,
                rope(m, a, headDim, context, o == null ? RopeOverrides.NONE : o));
    }

    private static RopeConfig rope(Metadata m, String a, int headDim, int context, RopeOverrides o) {
        int dims = m.optInt(a + "rope.dimension_count").orElse(headDim);
        float base = o.freqBase() != null ? o.freqBase() : (float) m.optDouble(a + "rope.freq_base").orElse(10000);
        RopeScaling scaling = o.scaling() != null ? o.scaling()
                : m.optString(a + "rope.scaling.type").map(s -> RopeScaling.parse(a + "rope.scaling.type", s))
                        .orElse(RopeScaling.NONE);
        float factor = o.scale() != null ? o.scale() : (float) m.optDouble(a + "rope.scaling.factor").orElse(1);
        if (!(factor > 0)) {
            throw new PanamaxException("rope scale must be positive, got " + factor);
        }
        float freqScale = scaling == RopeScaling.NONE ? 1f : 1f / factor;
        int orig = o.yarnOrigContext() != null ? o.yarnOrigContext()
                : m.optInt(a + "rope.scaling.original_context_length").orElse(context);
        float ext = o.yarnExtFactor() != null ? o.yarnExtFactor() : scaling == RopeScaling.YARN ? 1f : 0f;
        float attn = o.yarnAttnFactor() != null ? o.yarnAttnFactor()
                : (float) m.optDouble(a + "rope.scaling.attn_factor").orElse(1);
        float fast = o.yarnBetaFast() != null ? o.yarnBetaFast() : 32f;
        float slow = o.yarnBetaSlow() != null ? o.yarnBetaSlow() : 1f;
        if (dims <= 0 || dims > headDim || dims % 2 != 0) {
            throw new PanamaxException("'" + a + "rope.dimension_count' = " + dims + " must be even and at most the head size " + headDim);
        }
        return new RopeConfig(dims, base, scaling, freqScale, orig, ext, attn, fast, slow);
    }

    private static int positive(Metadata m, String key) {
        int v = m.getInt(key);
        if (v <= 0) {
            throw new PanamaxException(m.source() + ": metadata key '" + key + "' must be positive, found " + v);
        }
        return v;
    }
}
