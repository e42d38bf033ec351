package dev.panamax.engine.quantize;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Per-layer mixes in the model card's form {@code [[0,"Q4_K_L"],[1,"Q4_K_M"],...]}, checked
 * against the model's layer count. With {@code high} (--layer-types-high), layers the list leaves
 * out take the list's highest-precision mix instead of being an error; a complete list (such as
 * the built-in Q4_K_H for 48 layers) is unaffected by it.
 */
public final class LayerTypes {
    private LayerTypes() {}

    /** Parses the JSON list; {@code source} names the option or file in messages. */
    public static Map<Integer, QuantMix> parse(String source, String json) {
        Object root;
        try {
            root = JSON.std.anyFrom(json);
        } catch (IOException e) {
            throw new PanamaxException(source + ": invalid JSON (" + firstLine(e.getMessage()) + ")");
        }
        if (!(root instanceof List<?> list)) {
            throw new PanamaxException(source + ": expected a JSON list of [layer, \"TYPE\"] pairs");
        }
        if (list.isEmpty()) {
            throw new PanamaxException(source + ": the list is empty; expected [layer, \"TYPE\"] pairs such as [[0,\"Q4_K_M\"]]");
        }
        Map<Integer, QuantMix> out = new TreeMap<>();
        for (int i = 0; i < list.size(); i++) {
            if (!(list.get(i) instanceof List<?> pair) || pair.size() != 2 || !(pair.get(0) instanceof Number n)
                    || !(pair.get(1) instanceof String type)) {
                throw new PanamaxException(source + ": entry " + i + " should be [layer, \"TYPE\"], found " + list.get(i));
            }
            int layer = n.intValue();
            if (layer < 0 || n.doubleValue() != layer) {
                throw new PanamaxException(source + ": entry " + i + " has layer " + n + ", expected a layer index >= 0");
            }
            QuantMix mix = QuantMix.parse(source + ": layer " + layer, type);
            if (out.put(layer, mix) != null) {
                throw new PanamaxException(source + ": layer " + layer + " is listed twice");
            }
        }
        return out;
    }

    /**
     * Checks the list against the model: every layer index must exist, and every layer must be
     * listed unless {@code high}, which fills gaps with the list's highest-precision mix.
     */
    public static Map<Integer, QuantMix> resolve(String source, Map<Integer, QuantMix> types, int layers, boolean high) {
        Map<Integer, QuantMix> out = new TreeMap<>(types);
        for (int layer : types.keySet()) {
            if (layer >= layers) {
                throw new PanamaxException(source + ": layer " + layer + " does not exist (the model has " + layers
                        + " layers, 0.." + (layers - 1) + ")");
            }
        }
        List<Integer> missing = new java.util.ArrayList<>();
        for (int l = 0; l < layers; l++) {
            if (!out.containsKey(l)) {
                missing.add(l);
            }
        }
        if (!missing.isEmpty()) {
            if (!high) {
                throw new PanamaxException(source + ": " + (missing.size() == 1 ? "layer " : "layers ") + ranges(missing)
                        + (missing.size() == 1 ? " is" : " are") + " missing (the model has " + layers
                        + " layers; list them all, or pass --layer-types-high to give unlisted layers the highest listed type)");
            }
            QuantMix best = types.values().stream().max(java.util.Comparator.comparingDouble(LayerTypes::precision))
                    .orElseThrow(() -> new PanamaxException(source + ": the list is empty"));
            missing.forEach(l -> out.put(l, best));
        }
        return out;
    }

    /**
     * Scales a list made for {@code fromLayers} layers to a model of {@code toLayers}: layer i covers
     * the recipe layers at the same relative depth, [i*from/to, (i+1)*from/to), and takes the
     * highest-precision mix among them (so the sensitive first and last layers keep their bits).
     */
    public static Map<Integer, QuantMix> scale(Map<Integer, QuantMix> types, int fromLayers, int toLayers) {
        if (fromLayers == toLayers) {
            return types;
        }
        Map<Integer, QuantMix> out = new TreeMap<>();
        for (int i = 0; i < toLayers; i++) {
            int lo = (int) ((long) i * fromLayers / toLayers);
            int hi = (int) Math.min(fromLayers, Math.max(lo + 1, ((long) (i + 1) * fromLayers + toLayers - 1) / toLayers));
            QuantMix best = null;
            for (int j = lo; j < hi; j++) {
                QuantMix m = types.get(j);
                if (m != null && (best == null || precision(m) > precision(best))) {
                    best = m;
                }
            }
            out.put(i, best);
        }
        return out;
    }

    /** Rough bits per weight of a mix's default type, to rank mixes by precision. */
    static double precision(QuantMix m) {
        double base = m.defaultType().bitsPerWeight();
        return m.ordinal() * 1e-3 + base; // ties (e.g. Q4_K_S < Q4_K_M < Q4_K_L) broken by declaration order
    }

    /** [1, 2, 3, 7] -> "1-3, 7". */
    static String ranges(List<Integer> sorted) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < sorted.size(); ) {
            int j = i;
            while (j + 1 < sorted.size() && sorted.get(j + 1) == sorted.get(j) + 1) {
                j++;
            }
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(sorted.get(i));
            if (j > i) {
                sb.append('-').append(sorted.get(j));
            }
            i = j + 1;
        }
        return sb.toString();
    }

    private static String firstLine(String s) {
        return s == null ? "" : s.lines().findFirst().orElse("");
    }
}
