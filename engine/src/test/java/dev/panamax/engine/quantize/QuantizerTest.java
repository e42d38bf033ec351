package dev.panamax.engine.quantize;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.TinyModels;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.GgufTensor;
import dev.panamax.gguf.GgufValueType;
import dev.panamax.gguf.GgufWriter;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.gguf.TensorInfo;
import dev.panamax.gguf.TensorSource;
import dev.panamax.kernels.Kernels;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The streaming quantizer end to end on small random models: bytes, metadata, order, atomicity, loading. */
class QuantizerTest {
    @TempDir
    Path dir;

    /** qwen2-shaped, rows of 256 and 512 (K-quant blocks fit), 2 layers, untied. */
    static final TinyModels.Shape SHAPE = new TinyModels.Shape("qwen2", 2, 256, 512, 4, 2, 96, true, false, false);

    private Path f32Model() throws IOException {
        return TinyModels.write(dir.resolve("in-f32.gguf"), SHAPE, 11);
    }

    private static Quantizer.Result quantize(Path in, Path out, Recipe r, int threads, Quantizer.Listener l)
            throws IOException {
        Quantizer.Options o = new Quantizer.Options(threads, false, List.of());
        try (GgufFile g = GgufFile.open(in)) {
            return Quantizer.write(g, Quantizer.prepare(g, r, o), out, o, l);
        }
    }

    private static Quantizer.Result quantize(Path in, Path out, Recipe r) throws IOException {
        return quantize(in, out, r, 2, new Quantizer.Listener() {});
    }

    private static float[] floats(GgufTensor t) {
        float[] x = new float[Math.toIntExact(t.info().elementCount())];
        Kernels.of(t.type()).dequantize(t.data(), 0, x, 0, x.length);
        return x;
    }

    /** Every tensor of {@code out} equals the kernels' quantizer run on the whole input tensor at once. */
    private static void assertByteExact(Path in, Path out) {
        try (GgufFile a = GgufFile.open(in); GgufFile b = GgufFile.open(out); Arena arena = Arena.ofConfined()) {
            for (GgufTensor t : b.tensors()) {
                GgufTensor src = a.tensor(t.name());
                MemorySegment expected;
                if (src.type() == t.type()) {
                    expected = src.data();
                } else {
                    float[] x = floats(src);
                    expected = arena.allocate(t.info().byteSize());
                    Kernels.of(t.type()).quantize(x, 0, expected, 0, x.length);
                }
                assertEquals(-1, expected.mismatch(t.data()), t.name() + " (" + src.type() + " -> " + t.type()
                        + ") differs from the reference quantizer");
            }
        }
    }

    @Test
    void q4KMIsByteExactAndLoads() throws IOException {
        Path in = f32Model();
        Path out = dir.resolve("q4km.gguf");
        Quantizer.Result r = quantize(in, out, Recipe.of(QuantMix.Q4_K_M));
        assertByteExact(in, out);
        assertEquals(Files.size(out), r.fileBytes());
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(GgmlType.Q4_K, g.tensor("blk.0.attn_q.weight").type());
            assertEquals(GgmlType.Q4_K, g.tensor("blk.0.attn_v.weight").type()); // use_more_bits(0, 2) is false
            assertEquals(GgmlType.Q6_K, g.tensor("blk.1.attn_v.weight").type()); // 1 >= 7*2/8
            assertEquals(GgmlType.Q6_K, g.tensor("output.weight").type());
            assertEquals(GgmlType.F32, g.tensor("blk.0.attn_q.bias").type());
            assertEquals(GgmlType.F32, g.tensor("blk.1.ffn_norm.weight").type());
        }
    }

    @Test
    void everyTargetTypeIsByteExact() throws IOException {
        Path in = f32Model();
        Path out = dir.resolve("all.gguf");
        List<Recipe.TensorTypeRule> rules = new ArrayList<>();
        for (String s : List.of("blk\\.0\\.attn_q=q2_k", "blk\\.0\\.attn_k=q3_k", "blk\\.0\\.attn_v=q5_k",
                "blk\\.0\\.attn_output=iq4_xs", "blk\\.0\\.ffn_gate=q4_0", "blk\\.0\\.ffn_up=q5_1", "blk\\.0\\.ffn_down=iq4_nl",
                "blk\\.1\\.attn_q=q4_1", "blk\\.1\\.attn_k=q5_0", "blk\\.1\\.attn_v=q8_0", "blk\\.1\\.attn_output=f16",
                "blk\\.1\\.ffn_gate=q6_k", "blk\\.1\\.ffn_up=q4_k", "blk\\.1\\.ffn_down=bf16")) {
            rules.add(Recipe.TensorTypeRule.parse("--tensor-type", s));
        }
        Recipe r = Recipe.of(QuantMix.Q4_K_M).withTensorTypes(rules).withTokenEmbeddingType(GgmlType.BF16)
                .withOutputTensorType(GgmlType.F16);
        quantize(in, out, r);
        try (GgufFile g = GgufFile.open(out)) {
            List<GgmlType> types = g.tensors().stream().map(GgufTensor::type).distinct().toList();
            for (GgmlType t : Recipe.TARGET_TYPES) {
                assertTrue(types.contains(t), t + " is covered (" + types + ")");
            }
        }
        assertByteExact(in, out);
    }

    @Test
    void f16InputAndRequantizeRules() throws IOException {
        Path in = f32Model();
        Path f16 = dir.resolve("f16.gguf");
        quantize(in, f16, Recipe.of(QuantMix.F16));
        try (GgufFile g = GgufFile.open(f16)) {
            assertEquals(GgmlType.F16, g.tensor("output.weight").type());
            assertEquals(GgmlType.F32, g.tensor("output_norm.weight").type());
        }
        assertByteExact(in, f16);
        Path q = dir.resolve("from-f16.gguf");
        quantize(f16, q, Recipe.of(QuantMix.Q5_K_M));
        assertByteExact(f16, q);
        Path bf16 = dir.resolve("bf16.gguf");
        quantize(in, bf16, Recipe.of(QuantMix.BF16));
        assertByteExact(in, bf16);
        Path fromBf16 = dir.resolve("from-bf16.gguf");
        quantize(bf16, fromBf16, Recipe.of(QuantMix.Q4_K_S));
        assertByteExact(bf16, fromBf16);

        // already quantized: refused without --allow-requantize, before any output exists
        Path q8 = dir.resolve("q8.gguf");
        PanamaxException e = assertThrows(PanamaxException.class, () -> quantize(q, q8, Recipe.of(QuantMix.Q8_0)));
        assertTrue(e.getMessage().contains("already quantized") && e.getMessage().contains("--allow-requantize"),
                e.getMessage());
        assertFalse(Files.exists(q8));
        List<String> warnings = new ArrayList<>();
        Quantizer.Options o = new Quantizer.Options(2, true, List.of());
        try (GgufFile g = GgufFile.open(q)) {
            Quantizer.write(g, Quantizer.prepare(g, Recipe.of(QuantMix.Q8_0), o), q8, o, new Quantizer.Listener() {
                @Override
                public void warning(String message) {
                    warnings.add(message);
                }
            });
        }
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).contains("requantizing"), warnings.get(0));
        assertByteExact(q, q8);
    }

    @Test
    void threadsDoNotChangeTheBytes() throws IOException {
        Path in = f32Model();
        Path one = dir.resolve("one.gguf");
        Path three = dir.resolve("three.gguf");
        quantize(in, one, Recipe.of(QuantMix.IQ4_XS), 1, new Quantizer.Listener() {});
        quantize(in, three, Recipe.of(QuantMix.IQ4_XS), 3, new Quantizer.Listener() {});
        assertArrayEquals(Files.readAllBytes(one), Files.readAllBytes(three));
    }

    /** An input with split keys, a non-default alignment and tensors in file order unlike llama.cpp's. */
    private Path oddInput() throws IOException {
        Path src = f32Model();
        Path odd = dir.resolve("odd.gguf");
        try (GgufFile g = GgufFile.open(src); GgufWriter w = GgufWriter.create(odd).alignment(64)) {
            w.putAll(g.metadata());
            w.put("split.no", new MetadataValue.IntValue(GgufValueType.UINT16, 0));
            w.put("split.count", new MetadataValue.IntValue(GgufValueType.UINT16, 1));
            w.put("split.tensors.count", new MetadataValue.IntValue(GgufValueType.INT32, g.tensors().size()));
            w.put("general.file_type", MetadataValue.ofUInt32(0));
            List<GgufTensor> reversed = new ArrayList<>(g.tensors());
            java.util.Collections.reverse(reversed);
            for (GgufTensor t : reversed) {
                w.addTensor(t.name(), t.type(), t.info().ne(), TensorSource.of(t.data()));
            }
            w.finish();
        }
        return odd;
    }

    @Test
    void metadataOrderAndAlignmentFollowLlamaCpp() throws IOException {
        Path in = oddInput();
        Path out = dir.resolve("out.gguf");
        Quantizer.Options o = new Quantizer.Options(2, false, List.of(KvOverride.parse("qwen2.context_length=int:1024"),
                KvOverride.parse("general.name=str:tiny q4")));
        try (GgufFile g = GgufFile.open(in)) {
            Quantizer.write(g, Quantizer.prepare(g, Recipe.of(QuantMix.Q4_K_S), o), out, o, new Quantizer.Listener() {});
        }
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(32, g.alignment());
            assertFalse(g.metadata().has("general.alignment"));
            assertFalse(g.metadata().has("split.no") || g.metadata().has("split.count")
                    || g.metadata().has("split.tensors.count"));
            assertEquals(14, g.metadata().getInt("general.file_type")); // Q4_K_S
            assertEquals(2, g.metadata().getInt("general.quantization_version"));
            assertEquals(1024, g.metadata().getInt("qwen2.context_length"));
            assertEquals("tiny q4", g.metadata().getString("general.name"));
            Map<String, Object> recipe = JSON.std.mapFrom(g.metadata().getString(Quantizer.RECIPE_KEY));
            assertEquals("Q4_K_S", recipe.get("base"));
            List<String> names = g.tensors().stream().map(GgufTensor::name).toList();
            List<String> sorted = g.tensors().stream().map(GgufTensor::info).sorted(QuantPlanner.LLAMA_ORDER)
                    .map(TensorInfo::name).toList();
            assertEquals(sorted, names);
            assertEquals("output.weight", names.get(0));
            for (GgufTensor t : g.tensors()) {
                assertEquals(0, t.info().offset() % 32, t.name());
            }
            assertEquals(0, g.header().dataOffset() % 32);
        }
    }

    @Test
    void hybridLayerTypesWriteEachLayersMix() throws IOException {
        Path in = f32Model();
        Path out = dir.resolve("hybrid.gguf");
        Recipe r = Recipe.of(QuantMix.Q4_K_M).withLayerTypes(
                LayerTypes.parse("--layer-types", "[[0,\"Q5_K_L\"],[1,\"Q3_K_M\"]]"), false);
        quantize(in, out, r);
        try (GgufFile g = GgufFile.open(out)) {
            assertEquals(GgmlType.Q8_0, g.tensor("blk.0.attn_v.weight").type());
            assertEquals(GgmlType.Q6_K, g.tensor("blk.0.attn_output.weight").type());
            assertEquals(GgmlType.Q6_K, g.tensor("blk.0.ffn_down.weight").type());
            assertEquals(GgmlType.Q5_K, g.tensor("blk.0.ffn_up.weight").type());
            assertEquals(GgmlType.Q3_K, g.tensor("blk.1.ffn_up.weight").type());
            assertEquals(GgmlType.Q4_K, g.tensor("blk.1.attn_output.weight").type());
            assertEquals(GgmlType.Q4_K, g.tensor("blk.1.ffn_down.weight").type()); // Q3_K_M: layer 1 >= 2/16
        }
        assertByteExact(in, out);
    }

    @Test
    void quantizedModelRunsCloseToTheOriginal() throws IOException {
        Path in = f32Model();
        Path out = dir.resolve("q8.gguf");
        quantize(in, out, Recipe.of(QuantMix.Q8_0));
        int[] prompt = {3, 14, 15, 92, 65, 35};
        float[] a = lastLogits(in, prompt);
        float[] b = lastLogits(out, prompt);
        double maxDiff = 0;
        double scale = 0;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
            scale = Math.max(scale, Math.abs(a[i]));
        }
        assertTrue(maxDiff < 0.05 * scale, "Q8_0 logits moved by " + maxDiff + " (scale " + scale + ")");
        assertTrue(maxDiff > 0, "the weights did change");
    }

    private static float[] lastLogits(Path model, int[] prompt) {
        try (Model m = Model.open(model); Session s = m.newSession(SessionOptions.defaults().withContext(32)
                .withThreads(1).withCacheTypes(GgmlType.F32, GgmlType.F32))) {
            return s.prefill(prompt);
        }
    }

    // ---- atomic output ----

    private static String sha256(Path p) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(p)));
    }

    private List<String> strayFiles(String keep) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.contains(".tmp") || n.equals(keep)).toList();
        }
    }

    /** A copy of the model with one NaN in the middle of a tensor that comes late in llama.cpp's order. */
    private Path withNaN(Path src) throws IOException {
        Path bad = dir.resolve("nan.gguf");
        Files.copy(src, bad);
        long offset;
        try (GgufFile g = GgufFile.open(bad)) {
            GgufTensor t = g.tensor("blk.1.ffn_gate.weight");
            offset = g.header().dataOffset() + t.info().offset() + 4L * 1000;
        }
        try (var ch = java.nio.channels.FileChannel.open(bad, java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putFloat(0, Float.NaN), offset);
        }
        return bad;
    }

    @Test
    void failureMidWayLeavesNoFileAndTheInputUntouched() throws Exception {
        Path bad = withNaN(f32Model());
        String before = sha256(bad);
        Path out = dir.resolve("never.gguf");
        AtomicReference<Long> progressed = new AtomicReference<>(0L);
        PanamaxException e = assertThrows(PanamaxException.class, () -> quantize(bad, out, Recipe.of(QuantMix.Q4_K_M), 2,
                new Quantizer.Listener() {
                    @Override
                    public void progress(long bytes) {
                        progressed.set(bytes);
                    }
                }));
        assertTrue(e.getMessage().contains("blk.1.ffn_gate.weight") && e.getMessage().contains("non-finite")
                && e.getMessage().contains("row 3"), e.getMessage());
        assertTrue(progressed.get() > 0, "it failed mid-way, after writing earlier tensors");
        assertFalse(Files.exists(out));
        assertEquals(List.of(), strayFiles("never.gguf"));
        assertEquals(before, sha256(bad));
    }

    @Test
    void failureKeepsAnExistingOutputAsItWas() throws Exception {
        Path in = f32Model();
        Path out = dir.resolve("existing.gguf");
        Files.writeString(out, "an older file");
        String before = sha256(in);
        RuntimeException e = assertThrows(RuntimeException.class, () -> quantize(in, out, Recipe.of(QuantMix.Q4_K_M), 2,
                new Quantizer.Listener() {
                    @Override
                    public void tensorStarted(int index, TensorPlan plan) {
                        if (index == 10) {
                            throw new IllegalStateException("disk on fire");
                        }
                    }
                }));
        assertEquals("disk on fire", e.getMessage());
        assertEquals("an older file", Files.readString(out));
        assertEquals(List.of("existing.gguf"), strayFiles("existing.gguf"));
        assertEquals(before, sha256(in));
    }

    @Test
    void refusesToOverwriteItsInput() throws Exception {
        Path in = f32Model();
        String before = sha256(in);
        PanamaxException e = assertThrows(PanamaxException.class, () -> quantize(in, in, Recipe.of(QuantMix.Q8_0)));
        assertTrue(e.getMessage().contains("overwrite the input"), e.getMessage());
        assertEquals(before, sha256(in));
    }

    @Test
    void unsupportedInputsAreClearErrors() throws IOException {
        Path in = dir.resolve("phi.gguf");
        try (GgufWriter w = GgufWriter.create(in)) {
            w.put("general.architecture", "phi3");
            w.finish();
        }
        try (GgufFile g = GgufFile.open(in)) {
            PanamaxException e = assertThrows(PanamaxException.class,
                    () -> Quantizer.prepare(g, Recipe.of(QuantMix.Q8_0), Quantizer.Options.defaults()));
            assertTrue(e.getMessage().contains("phi3") && e.getMessage().contains("qwen2, qwen3, llama"), e.getMessage());
        }
    }

    @Test
    void firstNonFinite() {
        float[] x = new float[300];
        assertEquals(-1, Quantizer.firstNonFinite(x, 300));
        x[257] = Float.POSITIVE_INFINITY;
        assertEquals(257, Quantizer.firstNonFinite(x, 300));
        assertEquals(-1, Quantizer.firstNonFinite(x, 257));
        x[3] = Float.NaN;
        assertEquals(3, Quantizer.firstNonFinite(x, 300));
        x[3] = -Float.MAX_VALUE;
        x[257] = Float.MIN_VALUE;
        assertEquals(-1, Quantizer.firstNonFinite(x, 300));
    }

    static float readFloat(MemorySegment s, long i) {
        return s.get(ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 4 * i);
    }
}
