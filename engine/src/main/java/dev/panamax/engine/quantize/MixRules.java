package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgmlType;

/**
 * Per-tensor type choice of llama.cpp's {@code llama_tensor_get_type} (src/llama-quant.cpp) for
 * dense decoder models (qwen2, qwen3, llama), so that our per-tensor types equal
 * llama-quantize's. Hybrid recipes apply it per layer with that layer's own mix and the layer's
 * real index.
 *
 * <p>What llama.cpp does and this class reproduces, for the mixes Panamax offers:
 * <ul>
 *   <li>{@code output.weight}, and {@code token_embd.weight} when the model has no output tensor
 *       (tied embeddings): Q6_K, or Q8_0 when the mix's default type is Q8_0 or the row length is
 *       not a multiple of the default type's block.
 *   <li>attn_v: Q2_K -> Q4_K when n_head/n_head_kv >= 4 else Q3_K; Q3_K_M -> Q5_K for layers 0-1
 *       else Q4_K; Q3_K_L -> Q5_K; IQ4_NL/IQ4_XS -> Q5_K when n_head/n_head_kv >= 4; Q4_K_M and
 *       Q5_K_M -> Q6_K on use_more_bits layers; Q4_K_S -> Q5_K for layers 0-3; then, in 70B
 *       models, Q3_K/Q4_K -> Q5_K.
 *   <li>ffn_down: Q2_K -> Q3_K; Q3_K_M -> Q5_K below n/16 else Q4_K; Q3_K_L -> Q5_K; Q4_K_M and
 *       Q5_K_M -> Q6_K on use_more_bits layers; IQ4_NL/IQ4_XS -> Q5_K below n/8; Q4_K_S -> Q5_K
 *       below n/8.
 *   <li>attn_output: Q2_K -> Q3_K, Q3_K_M -> Q4_K, Q3_K_L -> Q5_K.
 *   <li>Everything else: the mix's default type.
 * </ul>
 * The hybrid layer types extend it: Q4_K_L is Q4_K_M with attn_output Q6_K; Q5_K_L has attn_v
 * Q8_0, attn_output Q6_K and ffn_down Q6_K on Q5_K; Q6_K_S is Q6_K; Q6_K_M has attn_v and ffn_down
 * Q8_0 on Q6_K; Q6_K_L (ours) also attn_output Q8_0.
 */
public final class MixRules {
    private MixRules() {}

    /**
     * Facts about the model the rules look at.
     *
     * @param layers block count (n for use_more_bits)
     * @param gqa n_head / n_head_kv
     * @param hasOutput whether output.weight exists (else the embedding is tied and follows the output rule)
     * @param is70B llama.cpp's LLM_TYPE_70B (qwen2 with 80 layers, llama with 80 layers and GQA)
     */
    public record ModelFacts(int layers, int gqa, boolean hasOutput, boolean is70B) {
        public ModelFacts(int layers, int gqa, boolean hasOutput) {
            this(layers, gqa, hasOutput, false);
        }

        /** llama.cpp's model-type check for the one size class the rules care about. */
        public static boolean is70B(String arch, int layers, int heads, int kvHeads) {
            return layers == 80 && (arch.equals("qwen2") || arch.equals("llama") && heads != kvHeads);
        }
    }

    /** use_more_bits(i, n): the first and last eighth of the layers, and every third one between. */
    public static boolean useMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /**
     * Whether llama-quantize quantizes this tensor at all: names ending in "weight" with at least
     * two dimensions (trailing dimensions of 1 do not count, as in ggml_n_dims), except norms and
     * expert gates.
     */
    public static boolean isQuantizable(String name, long[] ne) {
        int dims = ne.length;
        while (dims > 1 && ne[dims - 1] == 1) {
            dims--;
        }
        return name.endsWith("weight") && dims >= 2 && !name.contains("_norm.weight")
                && !name.contains("ffn_gate_inp.weight");
    }

    /** The tensor whose rule is the output rule: output.weight, or a tied token embedding. */
    public static boolean followsOutputRule(String name, ModelFacts m) {
        return name.equals("output.weight") || (!m.hasOutput() && name.equals("token_embd.weight"));
    }

    /**
     * The rule-based type of a quantizable tensor under {@code mix} (before the row-length fallback;
     * user overrides are the planner's). {@code rowLength} is ne[0]; {@code layer} is -1 outside
     * blocks.
     */
    public static GgmlType ruleType(String name, long rowLength, int layer, QuantMix mix, ModelFacts m) {
        GgmlType t = mix.defaultType();
        if (followsOutputRule(name, m)) {
            if (rowLength % t.blockValues() != 0) {
                return GgmlType.Q8_0;
            }
            return t == GgmlType.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q6_K;
        }
        if (name.equals("token_embd.weight")) {
            return t;
        }
        if (name.contains("attn_v.weight")) {
            GgmlType v = switch (mix) {
                case Q2_K -> m.gqa() >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
                case Q3_K_M -> layer < 2 ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q3_K_L -> GgmlType.Q5_K;
                case IQ4_NL, IQ4_XS -> m.gqa() >= 4 ? GgmlType.Q5_K : t;
                case Q4_K_M, Q4_K_L, Q5_K_M -> useMoreBits(layer, m.layers()) ? GgmlType.Q6_K : t;
                case Q4_K_S -> layer < 4 ? GgmlType.Q5_K : t;
                case Q5_K_L, Q6_K_M, Q6_K_L -> GgmlType.Q8_0;
                default -> t;
            };
            if (m.is70B() && (v == GgmlType.Q3_K || v == GgmlType.Q4_K)) {
                v = GgmlType.Q5_K;
            }
            return v;
        }
        if (name.contains("ffn_down")) {
            int n = m.layers();
            return switch (mix) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> layer < n / 16 ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q3_K_L -> GgmlType.Q5_K;
                case Q4_K_M, Q4_K_L, Q5_K_M -> useMoreBits(layer, n) ? GgmlType.Q6_K : t;
                case IQ4_NL, IQ4_XS, Q4_K_S -> layer < n / 8 ? GgmlType.Q5_K : t;
                case Q5_K_L -> GgmlType.Q6_K;
                case Q6_K_M, Q6_K_L -> GgmlType.Q8_0;
                default -> t;
            };
        }
        if (name.contains("attn_output.weight")) {
            return switch (mix) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> GgmlType.Q4_K;
                case Q3_K_L -> GgmlType.Q5_K;
                case Q4_K_L, Q5_K_L -> GgmlType.Q6_K;
                case Q6_K_L -> GgmlType.Q8_0;
                default -> t;
            };
        }
        return t;
    }

    /**
     * llama.cpp's fallback when the row length is not a whole number of blocks of {@code t}:
     * Q2_K/Q3_K -> Q4_0, IQ4_XS -> IQ4_NL, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0; F16 when even
     * that does not fit. Returns {@code t} when it fits.
     */
    public static GgmlType fallback(GgmlType t, long rowLength) {
        if (rowLength % t.blockValues() == 0) {
            return t;
        }
        GgmlType f = switch (t) {
            case Q2_K, Q3_K -> GgmlType.Q4_0;
            case IQ4_XS -> GgmlType.IQ4_NL;
            case Q4_K -> GgmlType.Q5_0;
            case Q5_K -> GgmlType.Q5_1;
            case Q6_K -> GgmlType.Q8_0;
            default -> GgmlType.F16;
        };
        return rowLength % f.blockValues() == 0 ? f : GgmlType.F16;
    }
}
