package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.TensorInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Decides every tensor's output type the way llama-quantize does: tensors in llama.cpp's order
 * (outside-layer tensors by name, then layer by layer, names sorted), rules per mix, first
 * matching --tensor-type, row-length fallbacks, then the token-embedding / output overrides.
 */
public final class QuantPlanner {
    private static final Pattern LAYER = Pattern.compile("^blk\\.(\\d+)\\.");

    private QuantPlanner() {}

    /** Layer index of a tensor name, or -1. */
    public static int layerOf(String name) {
        Matcher m = LAYER.matcher(name);
        return m.find() ? Integer.parseInt(m.group(1)) : -1;
    }

    /** llama.cpp's weight order: by layer (-1 first), then by name. */
    public static final Comparator<TensorInfo> LLAMA_ORDER =
            Comparator.<TensorInfo>comparingInt(t -> layerOf(t.name())).thenComparing(TensorInfo::name);

    public static List<TensorPlan> plan(List<TensorInfo> tensors, Recipe r, MixRules.ModelFacts facts) {
        List<TensorInfo> ordered = new ArrayList<>(tensors);
        ordered.sort(LLAMA_ORDER);
        List<TensorPlan> plans = new ArrayList<>(ordered.size());
        for (TensorInfo t : ordered) {
            plans.add(decide(t, r, facts));
        }
        return plans;
    }

    static TensorPlan decide(TensorInfo t, Recipe r, MixRules.ModelFacts facts) {
        String name = t.name();
        if (!MixRules.isQuantizable(name, t.dims())) {
            return new TensorPlan(t, t.type(), "kept (1-D or norm)");
        }
        if (r.leaveOutput() && name.equals("output.weight")) {
            return new TensorPlan(t, t.type(), "kept (--leave-output-tensor)");
        }
        boolean tiedEmbedding = !facts.hasOutput() && name.equals("token_embd.weight");
        if (r.tokenEmbeddingType() != null && name.equals("token_embd.weight")) {
            return new TensorPlan(t, r.tokenEmbeddingType(), "--token-embedding-type");
        }
        if (r.outputTensorType() != null && (name.equals("output.weight") || tiedEmbedding)) {
            return new TensorPlan(t, r.outputTensorType(), "--output-tensor-type");
        }
        int layer = layerOf(name);
        QuantMix mix = r.mixFor(layer);
        GgmlType type = mix.defaultType();
        if (!type.isQuantized()) {
            return new TensorPlan(t, type, mix.name());
        }
        String reason = null;
        for (Recipe.TensorTypeRule rule : r.tensorTypes()) {
            if (rule.pattern().matcher(name).find()) {
                type = rule.type();
                reason = "--tensor-type " + rule.pattern().pattern();
                break;
            }
        }
        if (reason == null) {
            if (r.pure()) {
                reason = mix.name() + " (--pure)";
            } else {
                type = MixRules.ruleType(name, layer, mix, false, facts); // --layer-types-high only fills unlisted layers
                reason = layer >= 0 && !r.layerTypes().isEmpty() ? "layer " + layer + " " + mix.name() : mix.name();
            }
        }
        GgmlType fitted = MixRules.fallback(type, t.rowLength());
        if (fitted != type) {
            reason += ", fallback: rows of " + t.rowLength() + " do not fit " + type;
        }
        return new TensorPlan(t, fitted, reason);
    }
}
