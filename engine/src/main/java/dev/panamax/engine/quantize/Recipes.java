package dev.panamax.engine.quantize;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Named per-layer recipes stored as JSON data files: the built-in ones ship in the jar
 * ({@code recipes/NAME.json}); users pass their own file path instead of a name. A recipe has a
 * base mix, the card-form layer types for a given layer count (scaled to other depths), and the
 * llama-quantize flags it implies.
 */
public final class Recipes {
    public static final List<String> BUILT_IN = List.of("Q4_K_H");

    private Recipes() {}

    /** A built-in recipe by name, if there is one. */
    public static Optional<String> builtInJson(String name) {
        for (String n : BUILT_IN) {
            if (n.equalsIgnoreCase(name)) {
                try (InputStream in = Recipes.class.getResourceAsStream("recipes/" + n + ".json")) {
                    return Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
                } catch (IOException | NullPointerException e) {
                    throw new IllegalStateException("built-in recipe " + n + " is missing from the jar", e);
                }
            }
        }
        return Optional.empty();
    }

    /** Reads a recipe file (same format as the built-in ones). */
    public static String fileJson(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new PanamaxException(file + ": cannot read recipe (" + e.getMessage() + ")");
        }
    }

    /** Builds the recipe for a model of {@code layers} layers from recipe JSON. */
    @SuppressWarnings("unchecked")
    public static Recipe parse(String source, String json, int layers) {
        Map<String, Object> m;
        try {
            m = JSON.std.mapFrom(json);
        } catch (IOException e) {
            throw new PanamaxException(source + ": invalid recipe JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        String base = string(source, m, "base");
        Object lt = m.get("layer_types");
        if (lt == null) {
            throw new PanamaxException(source + ": recipe needs 'layer_types'");
        }
        Map<Integer, QuantMix> types = LayerTypes.parse(source + " layer_types", toJson(lt));
        int recipeLayers = m.get("layers") instanceof Number n ? n.intValue() : types.size();
        boolean high = Boolean.TRUE.equals(m.get("layer_types_high"));
        types = LayerTypes.resolve(source, types, recipeLayers, high);
        types = LayerTypes.scale(types, recipeLayers, layers);
        return new Recipe(QuantMix.parse(source + " base", base), types, high,
                type(source, m, "token_embedding_type"), type(source, m, "output_tensor_type"), List.of(), false, false,
                m.get("name") instanceof String s ? s : source);
    }

    private static String toJson(Object o) {
        try {
            return JSON.std.asString(o);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String string(String source, Map<String, Object> m, String key) {
        if (m.get(key) instanceof String s) {
            return s;
        }
        throw new PanamaxException(source + ": recipe needs '" + key + "' as a string");
    }

    private static GgmlType type(String source, Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            return null;
        }
        return GgmlType.byName(String.valueOf(v)).orElseThrow(() -> new PanamaxException(source + ": '" + key
                + "' has unknown tensor type '" + v + "'"));
    }
}
