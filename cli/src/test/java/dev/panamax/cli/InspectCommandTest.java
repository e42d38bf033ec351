package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.FileType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufValueType;
import dev.panamax.gguf.GgufWriter;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.TensorSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class InspectCommandTest {
    @TempDir
    Path dir;

    /** A 2-layer qwen2-shaped file with a per-layer type mix. */
    private Path model() throws Exception {
        Path p = dir.resolve("mixed.gguf");
        try (GgufWriter w = GgufWriter.create(p)) {
            w.put("general.architecture", "qwen2");
            w.put("general.name", "Mixed Test");
            w.put(FileType.KEY, new MetadataValue.IntValue(GgufValueType.UINT32, FileType.Q4_K_M.id()));
            w.put("qwen2.block_count", MetadataValue.ofUInt32(2));
            w.put("qwen2.context_length", MetadataValue.ofUInt32(32768));
            w.put("qwen2.embedding_length", MetadataValue.ofUInt32(256));
            w.put("qwen2.attention.head_count", MetadataValue.ofUInt32(4));
            w.put("qwen2.attention.head_count_kv", MetadataValue.ofUInt32(2));
            w.put("tokenizer.ggml.model", "gpt2");
            w.put("tokenizer.ggml.tokens", MetadataValue.ofStrings(List.of("a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k")));
            w.addTensor("token_embd.weight", GgmlType.Q8_0, new long[] {256, 11}, TensorSource.zeros(GgmlType.Q8_0.bytesFor(256 * 11)));
            for (int i = 0; i < 2; i++) {
                GgmlType v = i == 0 ? GgmlType.Q6_K : GgmlType.Q4_K;
                w.addTensor("blk." + i + ".attn_norm.weight", GgmlType.F32, new long[] {256}, TensorSource.zeros(1024));
                w.addTensor("blk." + i + ".attn_q.weight", GgmlType.Q4_K, new long[] {256, 256}, TensorSource.zeros(GgmlType.Q4_K.bytesFor(65536)));
                w.addTensor("blk." + i + ".attn_v.weight", v, new long[] {256, 128}, TensorSource.zeros(v.bytesFor(32768)));
            }
            w.finish();
        }
        return p;
    }

    @Test
    void summaryShowsArchitectureSizesAndPerLayerTypes() throws Exception {
        CliRunner r = CliRunner.run("inspect", model().toString());
        assertEquals(0, r.exitCode(), r.err());
        String o = r.out();
        assertTrue(o.contains("architecture   qwen2"), o);
        assertTrue(o.contains("name           Mixed Test"), o);
        assertTrue(o.contains("file type      Q4_K_M (15)"), o);
        assertTrue(o.contains("context        32768"), o);
        assertTrue(o.contains("heads          4 (2 key/value)"), o);
        assertTrue(o.contains("vocabulary     11 tokens, tokenizer gpt2"), o);
        assertTrue(o.matches("(?s).*Q4_K\\s+3\\s+.*"), o);
        assertTrue(o.contains("layer types"), "mixed layers are listed: " + o);
        assertTrue(o.matches("(?s).*\\n\\s+0 Q4_K\\s+Q6_K\\s.*\\n\\s+1 Q4_K\\s+Q4_K\\s.*"), o);
        assertFalse(o.contains("blk.0.attn_q.weight"), "tensor list only with --tensors");
    }

    @Test
    void tensorsAndMetadataListings() throws Exception {
        CliRunner r = CliRunner.run("inspect", "--tensors", "--metadata", model().toString());
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.out().matches("(?s).*blk\\.1\\.attn_v\\.weight\\s+Q4_K\\s+\\[256, 128\\]\\s+18432\\s.*"), r.out());
        assertTrue(r.out().contains("tokenizer.ggml.tokens"), r.out());
        assertTrue(r.out().contains("[\"a\", \"b\", \"c\", \"d\", \"e\", \"f\", \"g\", \"h\", ... (11 string values)]"), r.out());
    }

    @Test
    void jsonIsParseable() throws Exception {
        CliRunner r = CliRunner.run("inspect", "--json", "--tensors", model().toString());
        assertEquals(0, r.exitCode(), r.err());
        Map<String, Object> j = JSON.std.mapFrom(r.out());
        assertEquals("qwen2", j.get("architecture"));
        assertEquals(32768, ((Number) j.get("context_length")).intValue());
        assertEquals(7, ((List<?>) j.get("tensors")).size());
        @SuppressWarnings("unchecked")
        Map<String, Map<String, String>> layers = (Map<String, Map<String, String>>) j.get("layers");
        assertEquals("Q6_K", layers.get("0").get("attn_v"));
        assertEquals("Q4_K", layers.get("1").get("attn_v"));
    }

    @Test
    void errorsAreOneLineWithoutStackTrace() throws Exception {
        CliRunner r = CliRunner.run("inspect", dir.resolve("missing.gguf").toString());
        assertEquals(1, r.exitCode());
        assertEquals("panamax: error: " + dir.resolve("missing.gguf") + ": no such file", r.err().strip());

        Path bad = Files.write(dir.resolve("bad.gguf"), "GGUF\3\0\0\0garbage".getBytes());
        r = CliRunner.run("inspect", bad.toString());
        assertEquals(1, r.exitCode());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertTrue(r.err().contains("bad.gguf at byte 8: file ends inside tensor count"), r.err());

        r = CliRunner.run("inspect", "--verbose", bad.toString());
        assertTrue(r.err().contains("at dev.panamax.gguf"), "stack trace with --verbose: " + r.err());

        r = CliRunner.run("inspect", "--nope", bad.toString());
        assertEquals(2, r.exitCode());
        assertTrue(r.err().startsWith("panamax: Unknown option: '--nope'"), r.err());
    }

    @Test
    void helpAndVersionWorkEverywhere() {
        CliRunner r = CliRunner.run("--help");
        assertEquals(0, r.exitCode());
        assertTrue(r.out().contains("inspect"), r.out());
        r = CliRunner.run("inspect", "--help");
        assertEquals(0, r.exitCode());
        assertTrue(r.out().contains("--tensors"), r.out());
        r = CliRunner.run("--version");
        assertTrue(r.out().startsWith("panamax "), r.out());
        r = CliRunner.run("inspect", "--version");
        assertTrue(r.out().startsWith("panamax "), r.out());
        r = CliRunner.run();
        assertEquals(2, r.exitCode());
        assertTrue(r.err().contains("a command is required"), r.err());
    }
}
