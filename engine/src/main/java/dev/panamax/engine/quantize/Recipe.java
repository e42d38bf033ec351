package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * What a quantization run should produce: a base mix, optional per-layer mixes, and llama-quantize's
 * overrides.
 *
 * @param base the file-level mix (TYPE argument); also the rule set for tensors outside layers
 * @param layerTypes per-layer mixes by layer index (empty: every layer uses {@code base})
 * @param layersHigh --layer-types-high: layers the list leaves out take its highest-precision mix
 *     (applied when the list is resolved; kept here to be recorded)
 * @param tokenEmbeddingType --token-embedding-type, or null
 * @param outputTensorType --output-tensor-type, or null
 * @param tensorTypes --tensor-type REGEX=TYPE in order; the first match wins
 * @param pure --pure: no per-tensor rules, every quantizable tensor gets its mix's default type
 * @param leaveOutput --leave-output-tensor: output.weight is not requantized
 * @param name what the run is called (the TYPE argument or the recipe's name)
 * @param notes things the user should be told about how the recipe was applied
 */
public record Recipe(QuantMix base, Map<Integer, QuantMix> layerTypes, boolean layersHigh,
        GgmlType tokenEmbeddingType, GgmlType outputTensorType, List<TensorTypeRule> tensorTypes, boolean pure,
        boolean leaveOutput, String name, List<String> notes) {

    /** Types Panamax can quantize to (it has byte-exact reference quantizers for them). */
    public static final List<GgmlType> TARGET_TYPES = List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16,
            GgmlType.Q8_0, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1, GgmlType.Q2_K, GgmlType.Q3_K,
            GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL, GgmlType.IQ4_XS);

    /** --tensor-type REGEX=TYPE: the regular expression is searched in the tensor name, case-insensitively. */
    public record TensorTypeRule(Pattern pattern, GgmlType type) {
        public static TensorTypeRule parse(String option, String spec) {
            int eq = spec.lastIndexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new PanamaxException(option + " '" + spec + "': expected REGEX=TYPE, e.g. attn_v=q8_0");
            }
            GgmlType t = targetType(option + " '" + spec + "'", spec.substring(eq + 1).strip());
            try {
                return new TensorTypeRule(Pattern.compile(spec.substring(0, eq), Pattern.CASE_INSENSITIVE), t);
            } catch (PatternSyntaxException e) {
                throw new PanamaxException(option + " '" + spec + "': invalid regular expression (" + e.getDescription()
                        + ")");
            }
        }

        @Override
        public String toString() {
            return pattern.pattern() + "=" + type.name();
        }
    }

    public Recipe {
        layerTypes = new TreeMap<>(layerTypes);
        tensorTypes = List.copyOf(tensorTypes);
        notes = List.copyOf(notes);
    }

    public static Recipe of(QuantMix base) {
        return new Recipe(base, Map.of(), false, null, null, List.of(), false, false, base.name(), List.of());
    }

    /** A tensor type a user named for an override: it must be one Panamax can quantize to. */
    public static GgmlType targetType(String what, String name) {
        GgmlType t = GgmlType.byName(name.strip()).orElseThrow(() -> new PanamaxException(what
                + ": unknown tensor type '" + name + "' (known: " + TARGET_TYPES + ")"));
        if (!TARGET_TYPES.contains(t)) {
            throw new PanamaxException(what + ": Panamax cannot quantize to " + t + " (it can: " + TARGET_TYPES + ")");
        }
        return t;
    }

    /** The mix that governs a tensor of layer {@code layer} (-1 outside layers). */
    public QuantMix mixFor(int layer) {
        return layer >= 0 ? layerTypes.getOrDefault(layer, base) : base;
    }

    public boolean hasLayerTypes() {
        return !layerTypes.isEmpty();
    }

    public Recipe withLayerTypes(Map<Integer, QuantMix> types, boolean high) {
        return new Recipe(base, types, high, tokenEmbeddingType, outputTensorType, tensorTypes, pure, leaveOutput, name,
                notes);
    }

    public Recipe withTokenEmbeddingType(GgmlType t) {
        return new Recipe(base, layerTypes, layersHigh, t, outputTensorType, tensorTypes, pure, leaveOutput, name, notes);
    }

    public Recipe withOutputTensorType(GgmlType t) {
        return new Recipe(base, layerTypes, layersHigh, tokenEmbeddingType, t, tensorTypes, pure, leaveOutput, name, notes);
    }

    /** Adds rules after the existing ones (the first match wins). */
    public Recipe withTensorTypes(List<TensorTypeRule> more) {
        List<TensorTypeRule> all = new ArrayList<>(tensorTypes);
        all.addAll(more);
        return new Recipe(base, layerTypes, layersHigh, tokenEmbeddingType, outputTensorType, all, pure, leaveOutput, name,
                notes);
    }

    /** Adds rules before the existing ones (they win over them). */
    public Recipe withTensorTypesFirst(List<TensorTypeRule> first) {
        List<TensorTypeRule> all = new ArrayList<>(first);
        all.addAll(tensorTypes);
        return new Recipe(base, layerTypes, layersHigh, tokenEmbeddingType, outputTensorType, all, pure, leaveOutput, name,
                notes);
    }

    public Recipe withPure(boolean p) {
        return new Recipe(base, layerTypes, layersHigh, tokenEmbeddingType, outputTensorType, tensorTypes, p, leaveOutput,
                name, notes);
    }

    public Recipe withLeaveOutput(boolean l) {
        return new Recipe(base, layerTypes, layersHigh, tokenEmbeddingType, outputTensorType, tensorTypes, pure, l, name,
                notes);
    }

    public Recipe withNote(String note) {
        List<String> n = new ArrayList<>(notes);
        n.add(note);
        return new Recipe(base, layerTypes, layersHigh, tokenEmbeddingType, outputTensorType, tensorTypes, pure,
                leaveOutput, name, n);
    }

    /**
     * The record of this recipe that quantize writes into the output's metadata: plain JSON-able
     * values (name, base, layer types in the card's form, the flags that were in effect).
     */
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("name", name);
        m.put("base", base.name());
        if (!layerTypes.isEmpty()) {
            List<Object> list = new ArrayList<>();
            layerTypes.forEach((l, mix) -> list.add(List.of(l, mix.name())));
            m.put("layer_types", list);
            m.put("layer_types_high", layersHigh);
        }
        if (tokenEmbeddingType != null) {
            m.put("token_embedding_type", tokenEmbeddingType.name());
        }
        if (outputTensorType != null) {
            m.put("output_tensor_type", outputTensorType.name());
        }
        if (!tensorTypes.isEmpty()) {
            m.put("tensor_types", tensorTypes.stream().map(TensorTypeRule::toString).toList());
        }
        if (pure) {
            m.put("pure", true);
        }
        if (leaveOutput) {
            m.put("leave_output_tensor", true);
        }
        return m;
    }
}
