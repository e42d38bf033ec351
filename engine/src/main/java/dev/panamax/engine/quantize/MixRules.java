package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgmlType;

/**
 * Per-tensor type choice of llama.cpp's llama_tensor_get_type for dense decoder models (qwen2,
 * qwen3, llama), so that our per-tensor types equal llama-quantize's. Applied per layer with the
 * layer's own mix for hybrid recipes; {@code high} takes the "more bits" branch of each rule.
 *
 * <p>Inputs: the tensor name, its row length (ne[0]), its layer (-1 outside blocks), the number
 * of layers, n_head / n_head_kv, and whether the model has a separate output tensor.
 */
public final class MixRules {
    private MixRules() {}

    /** Facts about the model the rules look at. */
    public record ModelFacts(int layers, int gqa, boolean hasOutput) {}

    /** use_more_bits(i, n): the first and last eighth of the layers, and every third one between. */
    public static boolean useMoreBits(int layer, int layers) {
        return layer < layers / 8 || layer >= 7 * layers / 8 || (layer - layers / 8) % 3 == 2;
    }

    /** Whether llama-quantize quantizes this tensor at all (2-D+ weights that are not norms). */
    public static boolean isQuantizable(String name, int dims) {
        return name.endsWith("weight") && dims >= 2 && !name.contains("_norm.weight")
                && !name.contains("ffn_gate_inp.weight");
    }

    /**
     * The rule-based type of a quantizable tensor under {@code mix} (before user overrides and before
     * the row-length fallback).
     */
    public static GgmlType ruleType(String name, int layer, QuantMix mix, boolean high, ModelFacts m) {
        GgmlType t = mix.defaultType();
        boolean output = name.equals("output.weight") || (!m.hasOutput() && name.equals("token_embd.weight"));
        if (output) {
            return t == GgmlType.Q8_0 ? GgmlType.Q8_0 : GgmlType.Q6_K; // the row-length case is the fallback's
        }
        if (name.equals("token_embd.weight")) {
            return t;
        }
        boolean more = layer >= 0 && (high || useMoreBits(layer, m.layers()));
        if (name.contains("attn_v.weight")) {
            return switch (mix) {
                case Q2_K -> m.gqa() >= 4 ? GgmlType.Q4_K : GgmlType.Q3_K;
                case Q3_K_M -> layer < 2 || high ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q3_K_L -> GgmlType.Q5_K;
                case IQ4_NL, IQ4_XS -> m.gqa() >= 4 ? GgmlType.Q5_K : t;
                case Q4_K_M, Q4_K_L, Q5_K_M -> more ? GgmlType.Q6_K : t;
                case Q4_K_S -> layer < 4 || high ? GgmlType.Q5_K : t;
                case Q5_K_L, Q6_K_M, Q6_K_L -> GgmlType.Q8_0;
                default -> t;
            };
        }
        if (name.contains("ffn_down")) {
            int n = m.layers();
            return switch (mix) {
                case Q2_K -> GgmlType.Q3_K;
                case Q3_K_M -> layer < n / 16 || high ? GgmlType.Q5_K : GgmlType.Q4_K;
                case Q3_K_L -> GgmlType.Q5_K;
                case Q4_K_M, Q4_K_L -> more ? GgmlType.Q6_K : t;
                case IQ4_NL, IQ4_XS -> layer < n / 8 ? GgmlType.Q5_K : t;
                case Q5_K_M -> more ? GgmlType.Q6_K : t;
                case Q4_K_S -> layer < n / 8 || high ? GgmlType.Q5_K : t;
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
