package dev.panamax.engine.quantize;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

/**
 * Named per-layer recipes stored as JSON data files: the built-in ones ship in the jar
 * ({@code recipes/NAME.json}); users keep their own as files (passed by path, or by name from
 * {@code ~/.config/panamax/recipes/NAME.json}). A recipe has a base mix, the card-form layer types
 * for a given layer count (scaled to other depths), and the llama-quantize flags it implies:
 *
 * <pre>
 * {
 *   "name": "Q4_K_H",                       // optional; default: the file name
 *   "description": "...",                   // optional
 *   "base": "Q4_K_M",                       // the file-level mix: general.file_type, non-layer tensors
 *   "layers": 48,                           // optional: the depth layer_types is written for
 *   "layer_types": [[0,"Q4_K_L"], ...],     // optional: per-layer mixes (card form)
 *   "layer_types_high": true,               // optional: --layer-types-high
 *   "token_embedding_type": "Q4_K",         // optional: --token-embedding-type
 *   "output_tensor_type": "Q6_K",           // optional: --output-tensor-type
 *   "tensor_types": ["attn_v=q8_0"],        // optional: --tensor-type rules, first match wins
 *   "pure": false,                          // optional: --pure
 *   "leave_output_tensor": false            // optional: --leave-output-tensor
 * }
 * </pre>
 */
public final class Recipes {
    public static final List<String> BUILT_IN = List.of("Q4_K_H");

    private static final Set<String> KEYS = Set.of("name", "description", "base", "layers", "layer_types",
            "layer_types_high", "token_embedding_type", "output_tensor_type", "tensor_types", "pure",
            "leave_output_tensor");

    private Recipes() {}

    /** A built-in recipe by name, if there is one. */
    public static Optional<String> builtInJson(String name) {
        for (String n : BUILT_IN) {
            if (n.equalsIgnoreCase(name)) {
                try (InputStream in = Recipes.class.getResourceAsStream("recipes/" + n + ".json")) {
                    if (in == null) {
                        throw new IllegalStateException("built-in recipe " + n + " is missing from the jar");
                    }
                    return Optional.of(new String(in.readAllBytes(), StandardCharsets.UTF_8));
                } catch (IOException e) {
                    throw new IllegalStateException("built-in recipe " + n + " cannot be read", e);
                }
            }
        }
        return Optional.empty();
    }

    /** Folder of the user's own named recipes. */
    public static Path userFolder() {
        String xdg = System.getenv("XDG_CONFIG_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".config");
        return base.resolve("panamax").resolve("recipes");
    }

    /**
     * Resolves llama-quantize's TYPE argument for a model of {@code layers} layers: a mix name
     * (with the Q3_K/Q4_K/Q5_K aliases), a general.file_type number, a built-in recipe (Q4_K_H), a
     * recipe in {@link #userFolder()}, or the path of a recipe file.
     */
    public static Recipe fromType(String type, int layers) {
        return fromType(type, layers, false);
    }

    /** As {@link #fromType(String, int)}; {@code high} adds --layer-types-high to a recipe that has layer types. */
    public static Recipe fromType(String type, int layers, boolean high) {
        String t = type.strip();
        if (t.isEmpty()) {
            throw new PanamaxException("TYPE is empty; expected a quantization type such as Q4_K_M, or a recipe");
        }
        Optional<String> builtIn = builtInJson(t);
        if (builtIn.isPresent()) {
            return parse(t.toUpperCase(Locale.ROOT), builtIn.get(), layers, high);
        }
        if (t.matches("\\d+")) {
            int id = Integer.parseInt(t);
            QuantMix m = QuantMix.byFileTypeId(id).orElseThrow(() -> new PanamaxException("TYPE " + t
                    + " is not a file type number Panamax can produce"));
            return Recipe.of(m);
        }
        Path file = Path.of(t);
        boolean looksLikePath = t.contains("/") || t.contains("\\") || t.toLowerCase(Locale.ROOT).endsWith(".json");
        if (looksLikePath) {
            return parse(file.toString(), fileJson(file), layers, high);
        }
        Optional<QuantMix> mix = QuantMix.find(t);
        if (mix.isPresent()) {
            if (!mix.get().isFileLevel()) {
                throw new PanamaxException("TYPE " + mix.get() + " is a per-layer type (for --layer-types lists); use a "
                        + "file type such as Q4_K_M, or a recipe such as Q4_K_H");
            }
            return Recipe.of(mix.get());
        }
        Path user = userFolder().resolve(t + ".json");
        if (Files.isRegularFile(user)) {
            return parse(user.toString(), fileJson(user), layers, high);
        }
        if (Files.isRegularFile(file)) {
            return parse(file.toString(), fileJson(file), layers, high);
        }
        throw new PanamaxException("TYPE '" + t + "' is neither a quantization type " + fileLevelNames()
                + " nor a recipe (built in: " + BUILT_IN + "; or a recipe file path, or NAME for "
                + userFolder().resolve("NAME.json") + ")");
    }

    static List<String> fileLevelNames() {
        List<String> n = new ArrayList<>();
        for (QuantMix m : QuantMix.values()) {
            if (m.isFileLevel()) {
                n.add(m.name());
            }
        }
        return n;
    }

    /** Reads a recipe file (same format as the built-in ones). */
    public static String fileJson(Path file) {
        try {
            return Files.readString(file);
        } catch (NoSuchFileException e) {
            throw new PanamaxException(file + ": recipe file not found");
        } catch (IOException e) {
            throw new PanamaxException(file + ": cannot read recipe (" + e.getMessage() + ")");
        }
    }

    /** Builds the recipe for a model of {@code layers} layers from recipe JSON; {@code source} names it in errors. */
    public static Recipe parse(String source, String json, int layers) {
        return parse(source, json, layers, false);
    }

    /** As {@link #parse(String, String, int)}, with --layer-types-high added when {@code high}. */
    public static Recipe parse(String source, String json, int layers, boolean extraHigh) {
        Map<String, Object> m;
        try {
            Object root = JSON.std.anyFrom(json);
            if (!(root instanceof Map<?, ?>)) {
                throw new PanamaxException(source + ": a recipe is a JSON object with at least \"base\"");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> mm = (Map<String, Object>) root;
            m = mm;
        } catch (IOException e) {
            throw new PanamaxException(source + ": invalid recipe JSON (" + e.getMessage().lines().findFirst().orElse("")
                    + ")");
        }
        Set<String> unknown = new TreeSet<>(m.keySet());
        unknown.removeAll(KEYS);
        if (!unknown.isEmpty()) {
            throw new PanamaxException(source + ": unknown recipe key" + (unknown.size() > 1 ? "s " : " ") + unknown
                    + " (known: " + new TreeSet<>(KEYS) + ")");
        }
        QuantMix base = QuantMix.parse(source + ": \"base\"", string(source, m, "base", true));
        if (!base.isFileLevel()) {
            throw new PanamaxException(source + ": \"base\" " + base + " is a per-layer type; use a file type such as Q4_K_M");
        }
        String name = m.containsKey("name") ? string(source, m, "name", true)
                : Path.of(source).getFileName().toString().replaceFirst("(?i)\\.json$", "");
        Recipe r = new Recipe(base, Map.of(), false, type(source, m, "token_embedding_type"),
                type(source, m, "output_tensor_type"), List.of(), bool(source, m, "pure"),
                bool(source, m, "leave_output_tensor"), name, List.of());
        if (m.get("tensor_types") != null) {
            if (!(m.get("tensor_types") instanceof List<?> rules)) {
                throw new PanamaxException(source + ": \"tensor_types\" should be a list of \"REGEX=TYPE\" strings");
            }
            List<Recipe.TensorTypeRule> parsed = new ArrayList<>();
            for (Object o : rules) {
                if (!(o instanceof String s)) {
                    throw new PanamaxException(source + ": \"tensor_types\" entries should be \"REGEX=TYPE\" strings, found " + o);
                }
                parsed.add(Recipe.TensorTypeRule.parse(source + ": tensor_types", s));
            }
            r = r.withTensorTypes(parsed);
        }
        boolean high = bool(source, m, "layer_types_high") || extraHigh;
        Object lt = m.get("layer_types");
        if (lt == null) {
            if (m.containsKey("layers")) {
                throw new PanamaxException(source + ": \"layers\" is given but \"layer_types\" is missing");
            }
            return r.withLayerTypes(Map.of(), high);
        }
        Map<Integer, QuantMix> types = LayerTypes.parse(source + ": layer_types", toJson(lt));
        int recipeLayers = layers;
        if (m.containsKey("layers")) {
            if (!(m.get("layers") instanceof Number n) || n.intValue() <= 0 || n.doubleValue() != n.intValue()) {
                throw new PanamaxException(source + ": \"layers\" should be a positive whole number, found " + m.get("layers"));
            }
            recipeLayers = n.intValue();
        }
        types = LayerTypes.resolve(source + ": layer_types", types, recipeLayers, high);
        if (recipeLayers != layers) {
            types = LayerTypes.scale(types, recipeLayers, layers);
            r = r.withNote("recipe " + name + " is written for " + recipeLayers + " layers; the model has " + layers
                    + ", so each layer takes the highest-precision type of the recipe layers at the same relative depth");
        }
        return r.withLayerTypes(types, high);
    }

    private static String toJson(Object o) {
        try {
            return JSON.std.asString(o);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String string(String source, Map<String, Object> m, String key, boolean required) {
        Object v = m.get(key);
        if (v instanceof String s) {
            return s;
        }
        if (v == null && !required) {
            return null;
        }
        throw new PanamaxException(source + ": recipe needs \"" + key + "\" as a string"
                + (v == null ? "" : ", found " + v));
    }

    private static boolean bool(String source, Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            return false;
        }
        if (v instanceof Boolean b) {
            return b;
        }
        throw new PanamaxException(source + ": \"" + key + "\" should be true or false, found " + v);
    }

    private static GgmlType type(String source, Map<String, Object> m, String key) {
        Object v = m.get(key);
        if (v == null) {
            return null;
        }
        if (!(v instanceof String s)) {
            throw new PanamaxException(source + ": \"" + key + "\" should be a tensor type name, found " + v);
        }
        return Recipe.targetType(source + ": \"" + key + "\"", s);
    }
}
