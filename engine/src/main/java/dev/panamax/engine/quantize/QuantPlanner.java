package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.gguf.TensorInfo;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Decides every tensor's output type the way llama-quantize does (llama_tensor_get_type), in
 * llama.cpp's tensor order (the model loader's weight map: tensors outside layers first, then layer
 * by layer, names sorted within each):
 * <ol>
 *   <li>tensors that are not quantized (1-D, norms) keep their type; so does output.weight with
 *       --leave-output-tensor;
 *   <li>--token-embedding-type for token_embd, --output-tensor-type for output.weight: taken as
 *       given;
 *   <li>a mix whose default type is not quantized (F32, F16, BF16) gives that type;
 *   <li>the first --tensor-type rule whose regex matches the name; else, unless --pure, the mix
 *       rules ({@link MixRules}; a tied token embedding follows the output rule, where
 *       --output-tensor-type also applies); else the default type;
 *   <li>the row-length fallback ({@link MixRules#fallback}).
 * </ol>
 * In hybrid recipes, the mix is the tensor's layer's mix (the base mix outside layers).
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
        if (!MixRules.isQuantizable(name, t.ne())) {
            return new TensorPlan(t, t.type(), "not quantized (1-D or norm)");
        }
        if (r.leaveOutput() && name.equals("output.weight")) {
            return new TensorPlan(t, t.type(), "kept (--leave-output-tensor)");
        }
        if (r.tokenEmbeddingType() != null && name.equals("token_embd.weight")) {
            return new TensorPlan(t, fits(t, r.tokenEmbeddingType(), "--token-embedding-type"), "--token-embedding-type");
        }
        if (r.outputTensorType() != null && name.equals("output.weight")) {
            return new TensorPlan(t, fits(t, r.outputTensorType(), "--output-tensor-type"), "--output-tensor-type");
        }
        int layer = layerOf(name);
        QuantMix mix = r.mixFor(layer);
        GgmlType type = mix.defaultType();
        String reason = layer >= 0 && r.hasLayerTypes() ? "layer " + layer + " " + mix.name() : mix.name();
        if (!type.isQuantized()) {
            return new TensorPlan(t, type, reason);
        }
        boolean manual = false;
        for (Recipe.TensorTypeRule rule : r.tensorTypes()) {
            if (rule.pattern().matcher(name).find()) {
                type = rule.type();
                reason = "--tensor-type " + rule.pattern().pattern();
                manual = true;
                break;
            }
        }
        if (!manual) {
            if (r.pure()) {
                reason += " (--pure)";
            } else if (r.outputTensorType() != null && MixRules.followsOutputRule(name, facts)) {
                type = r.outputTensorType();
                reason = "--output-tensor-type (tied embedding)";
            } else {
                type = MixRules.ruleType(name, t.rowLength(), layer, mix, facts);
                if (MixRules.followsOutputRule(name, facts) && name.equals("token_embd.weight")) {
                    reason += ", tied embedding: output rule";
                }
            }
        }
        GgmlType fitted = MixRules.fallback(type, t.rowLength());
        if (fitted != type) {
            reason += "; rows of " + t.rowLength() + " do not fit " + type + " blocks: fallback";
        }
        return new TensorPlan(t, fitted, reason);
    }

    /** An explicit override llama.cpp applies without fallback: it must fit, or it is the user's error. */
    private static GgmlType fits(TensorInfo t, GgmlType type, String option) {
        if (t.rowLength() % type.blockValues() != 0) {
            throw new PanamaxException(option + " " + type + ": rows of " + t.name() + " have " + t.rowLength()
                    + " values, not a whole number of " + type + " blocks of " + type.blockValues()
                    + " (choose a type with " + (t.rowLength() % 32 == 0 ? "32-value blocks, e.g. Q8_0 or Q5_0)" : "no blocks, e.g. F16)"));
        }
        return type;
    }
}
