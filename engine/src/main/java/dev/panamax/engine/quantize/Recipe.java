package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * What a quantization run should produce: a base mix, optional per-layer mixes, and llama-quantize's
 * overrides.
 *
 * @param base the file-level mix (TYPE argument); also the rule set for tensors outside layers
 * @param layerTypes per-layer mixes by layer index (empty: every layer uses {@code base})
 * @param layersHigh apply the "more bits" branch of the rules inside every layer (--layer-types-high)
 * @param tokenEmbeddingType --token-embedding-type, or null
 * @param outputTensorType --output-tensor-type, or null
 * @param tensorTypes --tensor-type REGEX=TYPE in order; the first match wins
 * @param pure --pure: no per-tensor rules, every quantizable tensor gets the default type
 * @param leaveOutput --leave-output-tensor: output.weight is not requantized
 */
public record Recipe(QuantMix base, Map<Integer, QuantMix> layerTypes, boolean layersHigh,
        GgmlType tokenEmbeddingType, GgmlType outputTensorType, List<TensorTypeRule> tensorTypes, boolean pure,
        boolean leaveOutput, String name) {

    /** --tensor-type REGEX=TYPE. */
    public record TensorTypeRule(Pattern pattern, GgmlType type) {
        public static TensorTypeRule parse(String spec) {
            int eq = spec.lastIndexOf('=');
            if (eq <= 0 || eq == spec.length() - 1) {
                throw new PanamaxException("--tensor-type '" + spec + "': expected REGEX=TYPE, e.g. attn_v=q8_0");
            }
            GgmlType t = GgmlType.byName(spec.substring(eq + 1).strip()).orElseThrow(() -> new PanamaxException(
                    "--tensor-type '" + spec + "': unknown tensor type '" + spec.substring(eq + 1) + "'"));
            try {
                return new TensorTypeRule(Pattern.compile(spec.substring(0, eq)), t);
            } catch (java.util.regex.PatternSyntaxException e) {
                throw new PanamaxException("--tensor-type '" + spec + "': invalid regular expression (" + e.getDescription() + ")");
            }
        }
    }

    public Recipe {
        layerTypes = new TreeMap<>(layerTypes);
        tensorTypes = List.copyOf(tensorTypes);
    }

    public static Recipe of(QuantMix base) {
        return new Recipe(base, Map.of(), false, null, null, List.of(), false, false, base.name());
    }

    /** The mix that governs a tensor of layer {@code layer} (-1 outside layers). */
    public QuantMix mixFor(int layer) {
        return layer >= 0 ? layerTypes.getOrDefault(layer, base) : base;
    }
}
