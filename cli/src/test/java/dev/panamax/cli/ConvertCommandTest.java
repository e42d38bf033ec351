package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.engine.tokenizer.ByteLevel;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * panamax convert on a Hugging Face folder written here (config.json, model.safetensors, a byte-level
 * BPE tokenizer.json); the engine's ConvertTest checks conversions of models saved by transformers
 * against transformers' logits.
 */
class ConvertCommandTest {
    @TempDir
    Path dir;

    static final int HIDDEN = 64;
    static final int FFN = 128;
    static final int HEADS = 4;
    static final int KV = 2;
    static final int VOCAB = 260;

    /** A qwen2 folder with random F32 weights. */
    private Path hfFolder() throws Exception {
        Path d = dir.resolve("tiny-qwen2");
        Files.createDirectories(d);
        Files.writeString(d.resolve("config.json"), """
                {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 64,
                 "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
                 "vocab_size": 260, "max_position_embeddings": 512, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
                 "tie_word_embeddings": true, "bos_token_id": 256, "eos_token_id": 257}
                """);
        Map<String, float[]> t = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        Random r = new Random(3);
        add(t, shapes, "model.embed_tokens.weight", r, VOCAB, HIDDEN);
        for (int l = 0; l < 2; l++) {
            String p = "model.layers." + l + ".";
            add(t, shapes, p + "input_layernorm.weight", r, HIDDEN);
            add(t, shapes, p + "post_attention_layernorm.weight", r, HIDDEN);
            add(t, shapes, p + "self_attn.q_proj.weight", r, HIDDEN, HIDDEN);
            add(t, shapes, p + "self_attn.q_proj.bias", r, HIDDEN);
            add(t, shapes, p + "self_attn.k_proj.weight", r, KV * 16, HIDDEN);
            add(t, shapes, p + "self_attn.k_proj.bias", r, KV * 16);
            add(t, shapes, p + "self_attn.v_proj.weight", r, KV * 16, HIDDEN);
            add(t, shapes, p + "self_attn.v_proj.bias", r, KV * 16);
            add(t, shapes, p + "self_attn.o_proj.weight", r, HIDDEN, HIDDEN);
            add(t, shapes, p + "mlp.gate_proj.weight", r, FFN, HIDDEN);
            add(t, shapes, p + "mlp.up_proj.weight", r, FFN, HIDDEN);
            add(t, shapes, p + "mlp.down_proj.weight", r, HIDDEN, FFN);
        }
        add(t, shapes, "model.norm.weight", r, HIDDEN);
        Files.write(d.resolve("model.safetensors"), safetensors(t, shapes));
        // byte-level BPE: the 256 byte symbols, no merges, two special tokens
        Map<String, Object> vocab = new LinkedHashMap<>();
        for (int b = 0; b < 256; b++) {
            vocab.put(String.valueOf(ByteLevel.charOf(b)), b);
        }
        Map<String, Object> tok = new LinkedHashMap<>();
        tok.put("version", "1.0");
        tok.put("added_tokens", List.of(
                Map.of("id", 256, "content", "<|endoftext|>", "special", true),
                Map.of("id", 257, "content", "<|im_end|>", "special", true)));
        tok.put("normalizer", null);
        tok.put("pre_tokenizer", Map.of("type", "ByteLevel", "add_prefix_space", false, "trim_offsets", true,
                "use_regex", true));
        tok.put("decoder", Map.of("type", "ByteLevel"));
        tok.put("model", Map.of("type", "BPE", "vocab", vocab, "merges", List.of()));
        Files.writeString(d.resolve("tokenizer.json"), JSON.std.asString(tok));
        Files.writeString(d.resolve("tokenizer_config.json"),
                "{\"bos_token\": \"<|endoftext|>\", \"eos_token\": \"<|im_end|>\", \"add_bos_token\": false,"
                        + " \"chat_template\": \"{% for m in messages %}{{ m['content'] }}{% endfor %}\"}");
        return d;
    }

    private static void add(Map<String, float[]> t, Map<String, long[]> shapes, String name, Random r, long... shape) {
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        float[] v = new float[(int) n];
        boolean norm = name.endsWith("norm.weight");
        for (int i = 0; i < v.length; i++) {
            v[i] = norm ? 1 + 0.1f * (float) r.nextGaussian() : 0.15f * (float) r.nextGaussian();
        }
        t.put(name, v);
        shapes.put(name, shape);
    }

    static byte[] safetensors(Map<String, float[]> tensors, Map<String, long[]> shapes) throws Exception {
        Map<String, Object> header = new LinkedHashMap<>();
        long offset = 0;
        for (var e : tensors.entrySet()) {
            long bytes = 4L * e.getValue().length;
            long[] s = shapes.get(e.getKey());
            header.put(e.getKey(), Map.of("dtype", "F32", "shape", s, "data_offsets", List.of(offset, offset + bytes)));
            offset += bytes;
        }
        byte[] h = JSON.std.asString(header).getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(h.length).array());
        out.write(h);
        for (float[] v : tensors.values()) {
            ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
            out.write(b.array());
        }
        return out.toByteArray();
    }

    @Test
    void convertsAndTheResultRuns() throws Exception {
        Path hf = hfFolder();
        Path out = dir.resolve("tiny.gguf");
        CliRunner r = CliRunner.run("convert", hf.toString(), out.toString(), "--json");
        assertEquals(0, r.exitCode(), r.err());
        Map<String, Object> j = JSON.std.mapFrom(r.out());
        assertEquals("qwen2", j.get("architecture"));
        assertEquals("F16", j.get("weight_type"));
        assertEquals(2 * 12 + 2, ((Number) j.get("tensors")).intValue());
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(GgmlType.F16, g.tensor("token_embd.weight").type());
            assertTrue(g.findTensor("output.weight").isEmpty());
            assertEquals("tiny-qwen2", g.metadata().getString("general.name"));
            assertEquals("gpt-2", g.metadata().getString("tokenizer.ggml.pre"));
            assertEquals(260, g.metadata().getStringArray("tokenizer.ggml.tokens").size()); // padded to vocab_size
        }
        CliRunner run = CliRunner.run("run", "-m", out.toString(), "-p", "hello", "-n", "4", "--raw", "--temp", "0",
                "--json");
        assertEquals(0, run.exitCode(), run.err());
        assertEquals(4, ((Number) JSON.std.mapFrom(run.out()).get("generated_tokens")).intValue());
        // and it quantizes
        CliRunner q = CliRunner.run("quantize", out.toString(), dir.resolve("q8.gguf").toString(), "Q8_0");
        assertEquals(0, q.exitCode(), q.err());

        CliRunner text = CliRunner.run("convert", hf.toString(), dir.resolve("f32.gguf").toString(), "--outtype", "f32",
                "--name", "Tiny");
        assertEquals(0, text.exitCode(), text.err());
        assertTrue(text.out().startsWith("converted " + hf + " (Qwen2ForCausalLM, qwen2) -> "), text.out());
        assertFalse(text.err().contains("warning"), text.err());
    }

    @Test
    void badInputsAreOneLineErrors() throws Exception {
        Path out = dir.resolve("x.gguf");
        CliRunner r = CliRunner.run("convert", dir.resolve("nope").toString(), out.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("nope") && r.err().contains("no such folder"), r.err());
        Path hf = hfFolder();
        r = CliRunner.run("convert", hf.toString(), out.toString(), "--outtype", "q4");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--outtype 'q4'"), r.err());
        Files.writeString(hf.resolve("config.json"), Files.readString(hf.resolve("config.json"))
                .replace("\"num_key_value_heads\": 2", "\"num_key_value_heads\": 3"));
        r = CliRunner.run("convert", hf.toString(), out.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("num_key_value_heads 3"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(Files.exists(out));
    }
}
