package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.engine.quantize.QuantMix;
import dev.panamax.engine.quantize.Recipe;
import dev.panamax.engine.synthetic.SyntheticModels;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** panamax quantize on a small random F16 model of a real layout (4 layers, rows of 256 and 512). */
class QuantizeCommandTest {
    @TempDir
    static Path shared;

    @TempDir
    Path dir;

    static Path f16;

    @BeforeAll
    static void model() throws Exception {
        f16 = shared.resolve("tiny-f16.gguf");
        SyntheticModels.write(SyntheticModels.shape("tiny-qwen2"), Recipe.of(QuantMix.F16), f16, 42, b -> { });
    }

    private static void assertOneLineError(CliRunner r, String... parts) {
        assertEquals(1, r.exitCode(), r.out() + r.err());
        String e = r.err().strip();
        assertTrue(e.startsWith("panamax: error: "), e);
        assertEquals(1, e.lines().count(), "one line: " + e);
        for (String p : parts) {
            assertTrue(e.contains(p), "should mention '" + p + "': " + e);
        }
    }

    private List<String> files() throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void quantizesAndReports() throws Exception {
        Path out = dir.resolve("q4km.gguf");
        CliRunner r = CliRunner.run("quantize", f16.toString(), out.toString(), "Q4_K_M", "-t", "2");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().startsWith("quantized " + f16 + " -> " + out + " as Q4_K_M: "), r.out());
        assertTrue(r.out().contains("MB/s"), r.out());
        assertFalse(r.err().contains("\r"), "no progress bar when standard error is not a terminal: " + r.err());
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(15, g.metadata().getInt("general.file_type"));
            assertEquals(GgmlType.Q6_K, g.tensor("output.weight").type());
            assertEquals(GgmlType.Q4_K, g.tensor("blk.0.attn_v.weight").type()); // use_more_bits(0, 4) is false
            assertEquals(GgmlType.Q6_K, g.tensor("blk.3.attn_v.weight").type()); // 3 >= 7*4/8
        }
    }

    @Test
    void jsonSummaryAndProgressBar() throws Exception {
        Path out = dir.resolve("q8.gguf");
        CliRunner r = CliRunner.run("quantize", f16.toString(), out.toString(), "q8_0", "2", "--json", "--progress");
        assertEquals(0, r.exitCode(), r.err());
        Map<String, Object> j = JSON.std.mapFrom(r.out());
        assertEquals("Q8_0", j.get("type"));
        assertEquals(false, j.get("dry_run"));
        assertEquals(Files.size(out), ((Number) j.get("file_bytes")).longValue());
        List<?> plan = (List<?>) j.get("plan");
        assertEquals(((Number) j.get("tensors")).intValue(), plan.size());
        assertEquals("output.weight", ((Map<?, ?>) plan.get(0)).get("name"));
        assertTrue(r.err().contains("\rquantize ") && r.err().contains("MB/s") && r.err().contains("ETA")
                && r.err().contains("100%"), r.err());
    }

    @Test
    void dryRunPrintsThePlanAndWritesNothing() throws Exception {
        Path out = dir.resolve("never.gguf");
        CliRunner r = CliRunner.run("quantize", f16.toString(), out.toString(), "Q3_K_M", "--dry-run",
                "--tensor-type", "ffn_up=q8_0", "--output-tensor-type", "q8_0");
        assertEquals(0, r.exitCode(), r.err());
        String o = r.out();
        assertTrue(o.contains("blk.0.ffn_up.weight") && o.contains("Q8_0") && o.contains("--tensor-type ffn_up"), o);
        assertTrue(o.contains("layer mix") && o.contains("Q3_K_M"), o);
        assertTrue(o.lines().anyMatch(l -> l.matches("\\s+3 Q3_K_M .*")), o);
        assertTrue(o.contains("dry run: ") && o.contains("nothing written"), o);
        assertFalse(Files.exists(out));
    }

    @Test
    void layerTypesAndRecipes() throws Exception {
        Path out = dir.resolve("hybrid.gguf");
        CliRunner r = CliRunner.run("quantize", f16.toString(), out.toString(), "Q4_K_M", "--layer-types",
                "[[0,\"Q6_K_M\"],[1,\"Q3_K_L\"],[2,\"Q4_K_S\"],[3,\"Q5_K_L\"]]");
        assertEquals(0, r.exitCode(), r.err());
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(GgmlType.Q8_0, g.tensor("blk.0.attn_v.weight").type());
            assertEquals(GgmlType.Q6_K, g.tensor("blk.0.attn_q.weight").type());
            assertEquals(GgmlType.Q5_K, g.tensor("blk.1.attn_output.weight").type());
            assertEquals(GgmlType.Q3_K, g.tensor("blk.1.ffn_up.weight").type());
            assertEquals(GgmlType.Q5_K, g.tensor("blk.2.attn_v.weight").type()); // Q4_K_S: layer < 4
            assertEquals(GgmlType.Q8_0, g.tensor("blk.3.attn_v.weight").type());
            Map<String, Object> recipe = JSON.std.mapFrom(g.metadata().getString("panamax.quantize.recipe"));
            assertEquals(4, ((List<?>) recipe.get("layer_types")).size());
        }
        // inspect shows one line per layer
        CliRunner i = CliRunner.run("inspect", out.toString());
        assertTrue(i.out().contains("layer types") && i.out().lines().filter(l -> l.matches("\\s+[0-3] .*")).count() == 4,
                i.out());

        // the built-in recipe on a model of another depth: scaled, with a note
        Path h = dir.resolve("h.gguf");
        r = CliRunner.run("quantize", f16.toString(), h.toString(), "Q4_K_H");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("note: recipe Q4_K_H is written for 48 layers; the model has 4"), r.err());
        assertTrue(r.out().contains("as Q4_K_H (base Q4_K_M)"), r.out());
        try (GgufFile g = GgufFile.open(h)) {
            assertEquals(GgmlType.Q4_K, g.tensor("token_embd.weight").type()); // --token-embedding-type Q4_K
            assertEquals(GgmlType.Q6_K, g.tensor("output.weight").type());
            assertEquals(GgmlType.Q8_0, g.tensor("blk.3.ffn_down.weight").type()); // last layers: Q6_K_M
        }

        // a recipe file as TYPE, and --layer-types-file
        Path recipe = dir.resolve("my.json");
        Files.writeString(recipe, "{\"base\": \"Q5_K_S\", \"layer_types\": [[0,\"Q8_0\"]], \"layer_types_high\": true}");
        r = CliRunner.run("quantize", f16.toString(), dir.resolve("r.gguf").toString(), recipe.toString());
        assertEquals(0, r.exitCode(), r.err());
        try (GgufFile g = GgufFile.open(dir.resolve("r.gguf"))) {
            assertEquals(16, g.metadata().getInt("general.file_type"));
            assertEquals(GgmlType.Q8_0, g.tensor("blk.3.ffn_gate.weight").type()); // unlisted -> highest listed
        }
        Path list = dir.resolve("layers.json");
        Files.writeString(list, "[[0,\"Q4_K_M\"],[1,\"Q4_K_M\"],[2,\"Q4_K_M\"],[3,\"Q6_K\"]]");
        r = CliRunner.run("quantize", f16.toString(), dir.resolve("l.gguf").toString(), "Q4_K_S", "--layer-types-file",
                list.toString());
        assertEquals(0, r.exitCode(), r.err());
    }

    @Test
    void badLayerTypesAreOneLineErrors() throws Exception {
        String in = f16.toString();
        String out = dir.resolve("x.gguf").toString();
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--layer-types", "[[0,\"Q4_K_M\"],[1,\"Q3_K_M\"]]"),
                "--layer-types", "layers 2-3 are missing", "--layer-types-high");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--layer-types", "[[0,\"Q4_K_M\"],[1,\"Q9_K\"]"),
                "--layer-types", "invalid JSON");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--layer-types", "[[0,\"Q4_K_M\"],[1,\"Q9_K\"]]"),
                "--layer-types", "layer 1", "Q9_K");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--layer-types",
                "[[0,\"Q4_K_M\"],[0,\"Q3_K_M\"],[1,\"Q4_K_M\"],[2,\"Q4_K_M\"],[3,\"Q4_K_M\"]]"), "layer 0", "twice");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--layer-types", "[[7,\"Q4_K_M\"]]",
                "--layer-types-high"), "layer 7 does not exist", "4 layers");
        Path missing = dir.resolve("nope.json");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--layer-types-file", missing.toString()),
                missing.toString(), "no such file");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_H", "--layer-types", "[[0,\"Q4_K_M\"]]"),
                "Q4_K_H", "its own layer types");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--layer-types-high"), "--layer-types-high");
        assertEquals(List.of(), files(), "no output, no temporary files");
    }

    @Test
    void badArgumentsAreOneLineErrors() throws Exception {
        String in = f16.toString();
        String out = dir.resolve("x.gguf").toString();
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_XL"), "TYPE 'Q4_K_XL'", "Q4_K_M", "Q4_K_H");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_L"), "per-layer type");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--tensor-type", "attn_v"), "--tensor-type",
                "REGEX=TYPE");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--tensor-type", "attn_v=iq2_xxs"),
                "cannot quantize to IQ2_XXS");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--override-kv", "a.b=int:x"), "--override-kv",
                "not a whole number");
        assertOneLineError(CliRunner.run("quantize", in, out, "Q4_K_M", "--token-embedding-type", "q4_k", "-t", "0"),
                "-t/--threads");
        assertOneLineError(CliRunner.run("quantize", dir.resolve("missing.gguf").toString(), out, "Q4_K_M"),
                "missing.gguf", "no such file");
        assertOneLineError(CliRunner.run("quantize", in, dir.resolve("no/such/dir/x.gguf").toString(), "Q8_0"),
                "does not exist");
        assertOneLineError(CliRunner.run("quantize", in, in, "Q8_0"), "overwrite the input");
        assertOneLineError(CliRunner.run("quantize", in, dir.toString(), "Q8_0"), "is a folder");
        Path notGguf = dir.resolve("text.gguf");
        Files.writeString(notGguf, "hello, not a model");
        assertOneLineError(CliRunner.run("quantize", notGguf.toString(), out, "Q8_0"), notGguf.toString());
        Files.delete(notGguf);
        assertEquals(List.of(), files());
    }

    @Test
    void requantizeNeedsTheFlagAndWarns() throws Exception {
        Path q8 = dir.resolve("q8.gguf");
        assertEquals(0, CliRunner.run("quantize", f16.toString(), q8.toString(), "Q8_0").exitCode());
        Path q4 = dir.resolve("q4.gguf");
        assertOneLineError(CliRunner.run("quantize", q8.toString(), q4.toString(), "Q4_0"), "already quantized",
                "--allow-requantize");
        CliRunner r = CliRunner.run("quantize", q8.toString(), q4.toString(), "Q4_0", "--allow-requantize");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().contains("warning: requantizing"), r.err());
    }
}
