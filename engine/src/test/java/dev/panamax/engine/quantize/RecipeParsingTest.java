package dev.panamax.engine.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufValueType;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

/** Layer-type lists, recipe files, TYPE resolution and the other option parsers: values and error messages. */
class RecipeParsingTest {

    private static String error(Executable e) {
        return assertThrows(PanamaxException.class, e).getMessage();
    }

    private static void assertMentions(String message, String... parts) {
        for (String p : parts) {
            assertTrue(message.contains(p), "message should mention '" + p + "': " + message);
        }
    }

    @Test
    void cardFormList() {
        Map<Integer, QuantMix> m = LayerTypes.parse("--layer-types", "[[0,\"Q4_K_L\"],[1, \"q4_k_m\"],[2,\"Q6_K_M\"]]");
        assertEquals(Map.of(0, QuantMix.Q4_K_L, 1, QuantMix.Q4_K_M, 2, QuantMix.Q6_K_M), m);
        assertEquals(m, LayerTypes.resolve("--layer-types", m, 3, false));
        // llama-quantize's aliases
        assertEquals(QuantMix.Q4_K_M, LayerTypes.parse("x", "[[0,\"Q4_K\"]]").get(0));
    }

    @Test
    void unknownTypeNamesOptionAndLayer() {
        String m = error(() -> LayerTypes.parse("--layer-types", "[[0,\"Q4_K_M\"],[7,\"Q4_K_XL\"]]"));
        assertMentions(m, "--layer-types", "layer 7", "Q4_K_XL", "Q4_K_L");
    }

    @Test
    void badJson() {
        assertMentions(error(() -> LayerTypes.parse("--layer-types", "[[0,\"Q4_K_M\"]")), "--layer-types",
                "invalid JSON");
        assertMentions(error(() -> LayerTypes.parse("--layer-types", "{\"0\":\"Q4_K_M\"}")), "--layer-types",
                "expected a JSON list");
        assertMentions(error(() -> LayerTypes.parse("--layer-types", "[[0,\"Q4_K_M\",1]]")), "entry 0",
                "[layer, \"TYPE\"]");
        assertMentions(error(() -> LayerTypes.parse("--layer-types", "[[\"0\",\"Q4_K_M\"]]")), "entry 0");
        assertMentions(error(() -> LayerTypes.parse("--layer-types", "[[-1,\"Q4_K_M\"]]")), "layer -1");
        assertMentions(error(() -> LayerTypes.parse("--layer-types", "[[1.5,\"Q4_K_M\"]]")), "layer 1.5");
        assertMentions(error(() -> LayerTypes.parse("--layer-types", "[]")), "--layer-types", "empty");
    }

    @Test
    void duplicates() {
        assertMentions(error(() -> LayerTypes.parse("layers.json", "[[0,\"Q4_K_M\"],[1,\"Q3_K_M\"],[1,\"Q4_K_S\"]]")),
                "layers.json", "layer 1", "listed twice");
    }

    @Test
    void missingAndExtraLayers() {
        Map<Integer, QuantMix> m = LayerTypes.parse("--layer-types", "[[0,\"Q4_K_M\"],[1,\"Q3_K_M\"],[4,\"Q5_K_M\"]]");
        assertMentions(error(() -> LayerTypes.resolve("--layer-types", m, 6, false)), "--layer-types",
                "layers 2-3, 5 are missing", "6 layers", "--layer-types-high");
        assertMentions(error(() -> LayerTypes.resolve("--layer-types", m, 4, false)), "layer 4 does not exist",
                "4 layers");
        // --layer-types-high: unlisted layers take the highest listed mix
        Map<Integer, QuantMix> high = LayerTypes.resolve("--layer-types", m, 6, true);
        assertEquals(QuantMix.Q5_K_M, high.get(2));
        assertEquals(QuantMix.Q5_K_M, high.get(5));
        assertEquals(QuantMix.Q3_K_M, high.get(1));
        assertEquals("1-3, 5, 9", LayerTypes.ranges(List.of(1, 2, 3, 5, 9)));
    }

    @Test
    void highestPrecisionRanking() {
        Map<Integer, QuantMix> m = LayerTypes.resolve("x", Map.of(0, QuantMix.Q4_K_S, 1, QuantMix.Q4_K_L,
                2, QuantMix.Q4_K_M), 4, true);
        assertEquals(QuantMix.Q4_K_L, m.get(3));
        m = LayerTypes.resolve("x", Map.of(0, QuantMix.Q3_K_L, 1, QuantMix.Q4_K_S), 3, true);
        assertEquals(QuantMix.Q4_K_S, m.get(2));
        m = LayerTypes.resolve("x", Map.of(0, QuantMix.Q6_K_M, 1, QuantMix.Q5_K_L), 3, true);
        assertEquals(QuantMix.Q6_K_M, m.get(2));
    }

    @Test
    void builtInQ4KH() {
        Recipe r = Recipes.fromType("q4_k_h", 48);
        assertEquals("Q4_K_H", r.name());
        assertEquals(QuantMix.Q4_K_M, r.base());
        assertEquals(48, r.layerTypes().size());
        assertEquals(QuantMix.Q4_K_L, r.layerTypes().get(0));
        assertEquals(QuantMix.Q3_K_L, r.layerTypes().get(3));
        assertEquals(QuantMix.Q5_K_L, r.layerTypes().get(44));
        assertEquals(QuantMix.Q6_K_M, r.layerTypes().get(47));
        assertEquals(GgmlType.Q4_K, r.tokenEmbeddingType());
        assertEquals(GgmlType.Q6_K, r.outputTensorType());
        assertTrue(r.layersHigh());
        assertTrue(r.notes().isEmpty());
        // another depth: scaled, with a note
        Recipe s = Recipes.fromType("Q4_K_H", 24);
        assertEquals(24, s.layerTypes().size());
        assertEquals(QuantMix.Q4_K_L, s.layerTypes().get(0)); // recipe layers 0-1: Q4_K_L, Q4_K_M
        assertEquals(QuantMix.Q4_K_S, s.layerTypes().get(1)); // 2-3: Q4_K_S, Q3_K_L
        assertEquals(QuantMix.Q6_K_M, s.layerTypes().get(23));
        assertFalse(s.notes().isEmpty());
        assertMentions(s.notes().get(0), "48 layers", "24");
    }

    @Test
    void scalingTakesTheBestCoveredLayer() {
        Map<Integer, QuantMix> four = Map.of(0, QuantMix.Q4_K_L, 1, QuantMix.Q3_K_M, 2, QuantMix.Q3_K_M, 3, QuantMix.Q6_K);
        assertEquals(Map.of(0, QuantMix.Q4_K_L, 1, QuantMix.Q6_K), LayerTypes.scale(four, 4, 2));
        Map<Integer, QuantMix> two = Map.of(0, QuantMix.Q4_K_M, 1, QuantMix.Q5_K_M);
        assertEquals(Map.of(0, QuantMix.Q4_K_M, 1, QuantMix.Q4_K_M, 2, QuantMix.Q5_K_M, 3, QuantMix.Q5_K_M),
                LayerTypes.scale(two, 2, 4));
        assertEquals(Map.of(0, QuantMix.Q4_K_M, 1, QuantMix.Q5_K_M, 2, QuantMix.Q5_K_M), LayerTypes.scale(two, 2, 3));
    }

    @Test
    void typeArgument() {
        assertEquals(QuantMix.Q4_K_M, Recipes.fromType("Q4_K", 28).base());
        assertEquals(QuantMix.Q4_K_M, Recipes.fromType("15", 28).base());
        assertEquals(QuantMix.Q8_0, Recipes.fromType("q8_0", 28).base());
        assertMentions(error(() -> Recipes.fromType("Q4_K_L", 28)), "per-layer type");
        assertMentions(error(() -> Recipes.fromType("Q9_K", 28)), "Q9_K", "Q4_K_M", "Q4_K_H");
        assertMentions(error(() -> Recipes.fromType("99", 28)), "99");
        assertMentions(error(() -> Recipes.fromType("/no/such/recipe.json", 28)), "/no/such/recipe.json", "not found");
    }

    @Test
    void recipeFiles(@TempDir Path dir) throws IOException {
        Path f = dir.resolve("mine.json");
        Files.writeString(f, """
                {"base": "Q4_K_S", "layers": 4,
                 "layer_types": [[0,"Q5_K_M"],[1,"Q4_K_S"],[2,"Q4_K_S"],[3,"Q6_K"]],
                 "tensor_types": ["attn_v=q8_0"], "output_tensor_type": "q8_0"}
                """);
        Recipe r = Recipes.fromType(f.toString(), 4);
        assertEquals("mine", r.name());
        assertEquals(QuantMix.Q4_K_S, r.base());
        assertEquals(QuantMix.Q6_K, r.layerTypes().get(3));
        assertEquals(GgmlType.Q8_0, r.outputTensorType());
        assertEquals(1, r.tensorTypes().size());
        assertFalse(r.layersHigh());

        Files.writeString(f, "{\"base\": \"Q4_K_S\", \"layer_typs\": []}");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 4)), f.toString(), "unknown recipe key", "layer_typs");
        Files.writeString(f, "{\"layer_types\": [[0,\"Q4_K_S\"]]}");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 1)), f.toString(), "\"base\"");
        Files.writeString(f, "{\"base\": \"Q4_K_S\", \"layer_types\": [[0,\"Q4_K_S\"],[2,\"Q9\"]]}");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 3)), f.toString(), "layer 2", "Q9");
        Files.writeString(f, "{\"base\": \"Q4_K_S\", \"layer_types\": [[0,\"Q4_K_S\"]]}");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 3)), f.toString(), "layers 1-2 are missing");
        Files.writeString(f, "{\"base\": \"Q4_K_S\",");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 3)), f.toString(), "invalid recipe JSON");
        Files.writeString(f, "{\"base\": \"Q4_K_L\"}");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 3)), "per-layer type");
        Files.writeString(f, "{\"base\": \"Q4_K_S\", \"token_embedding_type\": \"IQ2_XXS\"}");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 3)), "token_embedding_type", "cannot quantize to IQ2_XXS");
        Files.writeString(f, "{\"base\": \"Q4_K_S\", \"pure\": \"yes\"}");
        assertMentions(error(() -> Recipes.fromType(f.toString(), 3)), "\"pure\"", "true or false");
    }

    @Test
    void tensorTypeRules() {
        Recipe.TensorTypeRule r = Recipe.TensorTypeRule.parse("--tensor-type", "ATTN_V=q8_0");
        assertEquals(GgmlType.Q8_0, r.type());
        assertTrue(r.pattern().matcher("blk.3.attn_v.weight").find());
        assertMentions(error(() -> Recipe.TensorTypeRule.parse("--tensor-type", "attn_v")), "--tensor-type", "REGEX=TYPE");
        assertMentions(error(() -> Recipe.TensorTypeRule.parse("--tensor-type", "attn_v=q9_0")), "--tensor-type",
                "unknown tensor type 'q9_0'");
        assertMentions(error(() -> Recipe.TensorTypeRule.parse("--tensor-type", "attn_v(=q8_0")), "--tensor-type",
                "invalid regular expression");
    }

    @Test
    void kvOverrides() {
        Map<String, MetadataValue> md = new LinkedHashMap<>();
        md.put("qwen2.context_length", new MetadataValue.IntValue(GgufValueType.UINT32, 131072));
        KvOverride.parse("qwen2.context_length=int:32768").apply(md);
        KvOverride.parse("general.name=str:my model: v2").apply(md);
        KvOverride.parse("x.flag=bool:true").apply(md);
        KvOverride.parse("x.scale=float:0.5").apply(md);
        KvOverride.parse("x.neg=int:-3").apply(md);
        assertEquals(new MetadataValue.IntValue(GgufValueType.UINT32, 32768), md.get("qwen2.context_length"));
        assertEquals(new MetadataValue.StringValue("my model: v2"), md.get("general.name"));
        assertEquals(new MetadataValue.BoolValue(true), md.get("x.flag"));
        assertEquals(new MetadataValue.FloatValue(GgufValueType.FLOAT32, 0.5), md.get("x.scale"));
        assertEquals(new MetadataValue.IntValue(GgufValueType.INT64, -3), md.get("x.neg"));
        assertMentions(error(() -> KvOverride.parse("nokey")), "--override-kv", "KEY=TYPE:VALUE");
        assertMentions(error(() -> KvOverride.parse("a=long:3")), "TYPE int, float, bool or str");
        assertMentions(error(() -> KvOverride.parse("a=int:3x")), "not a whole number");
        assertMentions(error(() -> KvOverride.parse("a=bool:yes")), "true or false");
        assertMentions(error(() -> KvOverride.parse("general.alignment=int:64")), "general.alignment");
        assertMentions(error(() -> KvOverride.parse("qwen2.context_length=int:-1").apply(md)), "does not fit", "UINT32");
    }
}
