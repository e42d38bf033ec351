package dev.panamax.engine.convert;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.tokenizer.TokenType;
import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.GgufTensor;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.kernels.Kernels;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link HfConverter} on models saved by transformers: the converted GGUF runs in our engine and
 * gives transformers' logits; names, metadata and tokenizer are llama.cpp's.
 */
class ConvertTest {
    @TempDir
    Path tmp;

    static Path convert(String model, String outType, Path out) throws IOException {
        Path dir = HfReference.dir().resolve(model);
        try (Safetensors st = Safetensors.openDirectory(dir)) {
            HfConverter.Plan plan = HfConverter.plan(dir, st, HfConverter.OutType.parse(outType), null);
            HfConverter.convert(dir, st, plan, out, new HfConverter.Listener() {});
        }
        return out;
    }

    static float[][] logits(Path gguf, int[] prompt) {
        try (Model m = Model.open(gguf); Session s = m.newSession(SessionOptions.defaults().withContext(64)
                .withThreads(2).withCacheTypes(GgmlType.F32, GgmlType.F32))) {
            float[][] out = new float[prompt.length][];
            int vocab = m.config().vocab();
            s.forward(prompt, 0, prompt.length, 0, (i, l, o) -> out[i] = java.util.Arrays.copyOfRange(l, o, o + vocab));
            return out;
        }
    }

    @ParameterizedTest(name = "{0} --outtype {1}")
    @CsvSource({"qwen2, f32, 1e-4", "qwen3, f32, 1e-4", "qwen3, auto, 1e-4", "llama, f32, 1e-4", "llama, auto, 1e-4",
            "qwen2, f16, 2e-2", "llama, f16, 1e-3"})
    void convertedModelMatchesTransformers(String model, String outType, double tolerance) throws IOException {
        Map<String, Object> ref = HfReference.model(model);
        Path out = convert(model, outType, tmp.resolve(model + "-" + outType + ".gguf"));
        float[][] expected = HfReference.floats2(ref.get("logits"));
        float[][] got = logits(out, HfReference.ints(ref.get("prompt")));
        double scale = 1;
        for (float[] row : expected) {
            for (float v : row) {
                scale = Math.max(scale, Math.abs(v));
            }
        }
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i].length, got[i].length);
            for (int v = 0; v < expected[i].length; v++) {
                worst = Math.max(worst, Math.abs(expected[i][v] - got[i][v]));
            }
        }
        assertTrue(worst <= tolerance * scale, model + " " + outType + ": max logit difference " + worst
                + " (scale " + scale + ")");
        // exact-weight conversions must be much closer than the tolerance says
        if (tolerance < 1e-3) {
            assertTrue(worst < 2e-5 * scale, model + " " + outType + ": " + worst);
        }
    }

    @Test
    void tokenizerMatchesHuggingFace() throws IOException {
        for (String model : List.of("qwen2", "llama")) {
            Map<String, Object> ref = HfReference.model(model);
            Path out = convert(model, "f32", tmp.resolve(model + ".gguf"));
            try (GgufFile g = GgufFile.open(out)) {
                Tokenizer t = Tokenizer.fromMetadata(g.metadata());
                for (Object o : (List<?>) ref.get("tokenization")) {
                    Map<?, ?> c = (Map<?, ?>) o;
                    String text = (String) c.get("text");
                    assertArrayEquals(HfReference.ints(c.get("ids")), t.encode(text, false, true), model + ": " + text);
                }
                assertEquals(((Number) ref.get("bos")).intValue(), t.bosId().orElseThrow());
                assertEquals(((Number) ref.get("eos")).intValue(), t.eosId().orElseThrow());
                assertEquals(Boolean.TRUE.equals(ref.get("add_bos")), t.addBos());
                assertTrue(t.chatTemplate().isPresent(), "chat template from chat_template.jinja");
            }
        }
    }

    @Test
    void namesAndMetadataAreLlamaCpps() throws IOException {
        Path qwen2 = convert("qwen2", "f16", tmp.resolve("qwen2.gguf"));
        try (GgufFile g = GgufFile.open(qwen2)) {
            var m = g.metadata();
            assertEquals("qwen2", m.getString("general.architecture"));
            assertEquals("model", m.getString("general.type"));
            assertEquals(1, m.getInt("general.file_type"));
            assertEquals(2, m.getInt("general.quantization_version"));
            assertEquals(2, m.getInt("qwen2.block_count"));
            assertEquals(256, m.getInt("qwen2.context_length"));
            assertEquals(64, m.getInt("qwen2.embedding_length"));
            assertEquals(128, m.getInt("qwen2.feed_forward_length"));
            assertEquals(4, m.getInt("qwen2.attention.head_count"));
            assertEquals(2, m.getInt("qwen2.attention.head_count_kv"));
            assertEquals(10000f, m.getFloat("qwen2.rope.freq_base"));
            assertEquals(1e-6f, m.getFloat("qwen2.attention.layer_norm_rms_epsilon"));
            assertEquals("yarn", m.getString("qwen2.rope.scaling.type"));
            assertEquals(4f, m.getFloat("qwen2.rope.scaling.factor"));
            assertEquals(32, m.getInt("qwen2.rope.scaling.original_context_length"));
            assertFalse(m.has("qwen2.attention.key_length"), "qwen2's config.json has no head_dim");
            assertEquals("qwen2", m.getString("tokenizer.ggml.pre"));
            assertEquals(300, m.getStringArray("tokenizer.ggml.tokens").size());
            int imStart = m.getStringArray("tokenizer.ggml.tokens").indexOf("<|im_start|>");
            assertEquals(TokenType.CONTROL.code(), m.getIntArray("tokenizer.ggml.token_type")[imStart]);
            assertEquals(TokenType.USER_DEFINED.code(),
                    m.getIntArray("tokenizer.ggml.token_type")[m.getStringArray("tokenizer.ggml.tokens").indexOf("<think>")]);
            assertEquals(TokenType.UNUSED.code(), m.getIntArray("tokenizer.ggml.token_type")[299]);
            assertEquals(GgmlType.F16, g.tensor("blk.0.attn_q.weight").type());
            assertEquals(GgmlType.F32, g.tensor("blk.0.attn_q.bias").type());
            assertEquals(GgmlType.F32, g.tensor("blk.1.ffn_norm.weight").type());
            assertEquals(GgmlType.F16, g.tensor("output.weight").type());
            assertArrayEquals(new long[] {64, 128}, g.tensor("blk.0.ffn_gate.weight").info().ne());
            assertArrayEquals(new long[] {128, 64}, g.tensor("blk.0.ffn_down.weight").info().ne());
        }
        Path qwen3 = convert("qwen3", "auto", tmp.resolve("qwen3.gguf"));
        try (GgufFile g = GgufFile.open(qwen3)) {
            assertTrue(g.findTensor("output.weight").isEmpty(), "tied embeddings: no output tensor");
            assertEquals(32, g.metadata().getInt("qwen3.attention.key_length"));
            assertEquals(32, g.metadata().getInt("qwen3.attention.value_length"));
            assertEquals(GgmlType.F16, g.tensor("token_embd.weight").type()); // auto: the checkpoint's F16
            assertEquals(GgmlType.F32, g.tensor("blk.0.attn_q_norm.weight").type());
            assertArrayEquals(new long[] {32}, g.tensor("blk.0.attn_k_norm.weight").info().ne());
        }
        Path llama = convert("llama", "auto", tmp.resolve("llama.gguf"));
        try (GgufFile g = GgufFile.open(llama)) {
            assertEquals(32, g.metadata().getInt("general.file_type")); // BF16
            assertEquals(300, g.metadata().getInt("llama.vocab_size"));
            assertEquals(16, g.metadata().getInt("llama.rope.dimension_count"));
            assertEquals("llama-bpe", g.metadata().getString("tokenizer.ggml.pre"));
            assertTrue(g.metadata().getBool("tokenizer.ggml.add_bos_token"));
            assertEquals(GgmlType.BF16, g.tensor("blk.2.attn_k.weight").type());
        }
    }

    @Test
    void f16OutputIsRoundToNearestEvenOfTheCheckpoint() throws IOException {
        Path f32 = convert("qwen2", "f32", tmp.resolve("a.gguf"));
        Path f16 = convert("qwen2", "f16", tmp.resolve("b.gguf"));
        try (GgufFile a = GgufFile.open(f32); GgufFile b = GgufFile.open(f16)) {
            for (GgufTensor t : b.tensors()) {
                GgufTensor src = a.tensor(t.name());
                float[] x = new float[(int) src.info().elementCount()];
                Kernels.of(src.type()).dequantize(src.data(), 0, x, 0, x.length);
                for (int i = 0; i < x.length; i++) {
                    if (t.type() == GgmlType.F16) {
                        short h = t.data().get(java.lang.foreign.ValueLayout.JAVA_SHORT_UNALIGNED
                                .withOrder(ByteOrder.LITTLE_ENDIAN), 2L * i);
                        assertEquals(Float.floatToFloat16(x[i]), h, t.name() + "[" + i + "]");
                    }
                }
            }
        }
    }

    @Test
    void llamaPermutationMatchesConvertHfToGguf() {
        // LlamaModel.permute on 2 heads of dim 8: rows (h, 2, 4) -> (h, 4, 2)
        long[] expected = {0, 4, 1, 5, 2, 6, 3, 7, 8, 12, 9, 13, 10, 14, 11, 15};
        for (int o = 0; o < 16; o++) {
            assertEquals(expected[o], HfConverter.permutedRow(o, 16, 2), "row " + o);
        }
        assertEquals(5, HfConverter.permutedRow(5, 16, 0));
        assertEquals("1.8B", HfConverter.sizeLabel(1_777_088_000L));
        assertEquals("15B", HfConverter.sizeLabel(14_770_033_664L));
        assertEquals("494M", HfConverter.sizeLabel(494_032_768L));
        assertEquals("131K", HfConverter.sizeLabel(131_008L));
    }

    // ---- bad input ----

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    private static String error(Path dir, Path out) {
        return assertThrows(PanamaxException.class, () -> {
            try (Safetensors st = Safetensors.openDirectory(dir)) {
                HfConverter.convert(dir, st, HfConverter.plan(dir, st, HfConverter.OutType.F16, null), out,
                        new HfConverter.Listener() {});
            }
        }).getMessage();
    }

    @Test
    void badFoldersAreClearErrors() throws IOException {
        Path out = tmp.resolve("out.gguf");
        Path empty = Files.createDirectory(tmp.resolve("empty"));
        assertTrue(error(empty, out).contains("no model.safetensors"), error(empty, out));

        Path llama = tmp.resolve("llama");
        copyTree(HfReference.dir().resolve("llama"), llama);
        Files.delete(llama.resolve("model-00003-of-00007.safetensors"));
        String e = error(llama, out);
        assertTrue(e.contains("model-00003-of-00007.safetensors") && e.contains("no such file"), e);

        Path qwen2 = tmp.resolve("qwen2");
        copyTree(HfReference.dir().resolve("qwen2"), qwen2);
        Path config = qwen2.resolve("config.json");
        String original = Files.readString(config);
        Files.writeString(config, original.replace("\"intermediate_size\": 128", "\"intermediate_size\": 100"));
        e = error(qwen2, out);
        assertTrue(e.contains("mlp") && e.contains("100") && e.contains("config.json"), e);
        Files.writeString(config, original.replace("Qwen2ForCausalLM", "GPT2LMHeadModel"));
        e = error(qwen2, out);
        assertTrue(e.contains("GPT2LMHeadModel") && e.contains("not supported"), e);
        Files.writeString(config, original.replace("\"num_hidden_layers\": 2", "\"num_hidden_layers\": 3"));
        e = error(qwen2, out);
        assertTrue(e.contains("blk.2.attn_q.weight") && e.contains("3 layers"), e);
        Files.writeString(config, "{");
        e = error(qwen2, out);
        assertTrue(e.contains("config.json") && e.contains("not valid JSON"), e);
        Files.writeString(config, original);

        // a truncated shard
        Path st = qwen2.resolve("model.safetensors");
        byte[] bytes = Files.readAllBytes(st);
        Files.write(st, java.util.Arrays.copyOf(bytes, bytes.length - 100));
        e = error(qwen2, out);
        assertTrue(e.contains("model.safetensors") && e.contains("truncated"), e);
        // an unsupported dtype
        Files.write(st, safetensors("{\"model.embed_tokens.weight\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8));
        e = error(qwen2, out);
        assertTrue(e.contains("I64") && e.contains("F32, F16 and BF16"), e);
        Files.write(st, new byte[] {1, 2, 3});
        e = error(qwen2, out);
        assertTrue(e.contains("not a safetensors file"), e);
        assertFalse(Files.exists(out), "no output after errors");
        Files.write(st, bytes);
        Files.delete(qwen2.resolve("tokenizer.json"));
        e = error(qwen2, out);
        assertTrue(e.contains("tokenizer.json"), e);
        assertFalse(Files.exists(out));
    }

    static byte[] safetensors(String header, int dataBytes) {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        return b.array();
    }
}
