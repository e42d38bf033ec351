package dev.panamax.engine.synthetic;

import dev.panamax.engine.quantize.MixRules;
import dev.panamax.engine.quantize.QuantMix;
import dev.panamax.engine.quantize.QuantPlanner;
import dev.panamax.engine.quantize.Recipe;
import dev.panamax.engine.quantize.Recipes;
import dev.panamax.engine.quantize.TensorPlan;
import dev.panamax.engine.tokenizer.ByteLevel;
import dev.panamax.engine.tokenizer.TokenizerKeys;
import dev.panamax.gguf.FileType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufWriter;
import dev.panamax.gguf.GgufValueType;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.gguf.TensorInfo;
import dev.panamax.kernels.Kernels;
import dev.panamax.kernels.QuantFormat;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.LongConsumer;

/**
 * Random-weight GGUF files with the exact shapes, metadata and per-tensor quantization mix of
 * known models, so speed can be measured (and GPU code checked) without the real weights. Weights
 * are valid blocks of each type, made by our own quantizers from Gaussian noise once per type and
 * tiled; the tokenizer is a byte-level vocabulary of the model's size.
 */
public final class SyntheticModels {

    /** A model shape. */
    public record Shape(String name, String arch, int layers, int embedding, int feedForward, int heads, int kvHeads,
            int headDim, int vocab, boolean tied, boolean qkvBias, boolean qkNorm, float ropeBase, float rmsEps,
            int context) {}

    public static final List<Shape> SHAPES = List.of(
            new Shape("deepseek-r1-distill-qwen-14b", "qwen2", 48, 5120, 13824, 40, 8, 128, 152064, false, true, false,
                    1e6f, 1e-5f, 131072),
            new Shape("deepseek-r1-distill-qwen-1.5b", "qwen2", 28, 1536, 8960, 12, 2, 128, 151936, false, true, false,
                    1e4f, 1e-6f, 131072),
            new Shape("qwen3-0.6b", "qwen3", 28, 1024, 3072, 16, 8, 128, 151936, true, false, true, 1e6f, 1e-6f, 40960),
            new Shape("tiny-qwen2", "qwen2", 4, 256, 512, 4, 2, 64, 1024, false, true, false, 1e4f, 1e-6f, 4096));

    private SyntheticModels() {}

    public static Shape shape(String name) {
        return SHAPES.stream().filter(s -> s.name().equalsIgnoreCase(name)).findFirst().orElseThrow(() ->
                new PanamaxException("unknown synthetic model '" + name + "' (known: "
                        + SHAPES.stream().map(Shape::name).toList() + ")"));
    }

    /** Where built files are kept unless told otherwise: $XDG_CACHE_HOME/panamax/synthetic, else ~/.cache/... */
    public static Path defaultCacheDir() {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache");
        return base.resolve("panamax").resolve("synthetic");
    }

    /** Parses "shape:MIX" (MIX a quantization type or a built-in recipe such as Q4_K_H). */
    public static Path build(String spec, Path dir, LongConsumer progress) throws IOException {
        return build(spec, dir, total -> { }, progress);
    }

    /**
     * As {@link #build(String, Path, LongConsumer)}, telling {@code total} the bytes of tensor data
     * to write before writing starts (nothing when the file is already there). The file appears
     * under its final name only when complete, so an interrupted build is simply redone.
     */
    public static Path build(String spec, Path dir, LongConsumer total, LongConsumer progress) throws IOException {
        int colon = spec.lastIndexOf(':');
        if (colon < 0) {
            throw new PanamaxException("synthetic model '" + spec + "': expected NAME:TYPE, e.g. qwen3-0.6b:Q8_0");
        }
        Shape s = shape(spec.substring(0, colon));
        String mix = spec.substring(colon + 1).toUpperCase(Locale.ROOT);
        Path file = dir.resolve(s.name() + "-" + mix + ".gguf");
        if (Files.isRegularFile(file)) {
            return file;
        }
        Files.createDirectories(dir);
        Recipe recipe = Recipes.builtInJson(mix).map(json -> Recipes.parse(mix, json, s.layers()))
                .orElseGet(() -> Recipe.of(QuantMix.parse("synthetic model type", mix)));
        total.accept(dataBytes(s, recipe));
        write(s, recipe, file, 1234, progress);
        return file;
    }

    /** The tensors of a shape as an F16 checkpoint would hold them (llama.cpp names, ne = [in, out]). */
    public static List<TensorInfo> tensors(Shape s) {
        List<TensorInfo> t = new ArrayList<>();
        int q = s.heads() * s.headDim();
        int kv = s.kvHeads() * s.headDim();
        t.add(TensorInfo.of("token_embd.weight", GgmlType.F16, new long[] {s.embedding(), s.vocab()}, 0));
        for (int l = 0; l < s.layers(); l++) {
            String p = "blk." + l + ".";
            t.add(TensorInfo.of(p + "attn_norm.weight", GgmlType.F32, new long[] {s.embedding()}, 0));
            t.add(TensorInfo.of(p + "attn_q.weight", GgmlType.F16, new long[] {s.embedding(), q}, 0));
            t.add(TensorInfo.of(p + "attn_k.weight", GgmlType.F16, new long[] {s.embedding(), kv}, 0));
            t.add(TensorInfo.of(p + "attn_v.weight", GgmlType.F16, new long[] {s.embedding(), kv}, 0));
            if (s.qkvBias()) {
                t.add(TensorInfo.of(p + "attn_q.bias", GgmlType.F32, new long[] {q}, 0));
                t.add(TensorInfo.of(p + "attn_k.bias", GgmlType.F32, new long[] {kv}, 0));
                t.add(TensorInfo.of(p + "attn_v.bias", GgmlType.F32, new long[] {kv}, 0));
            }
            if (s.qkNorm()) {
                t.add(TensorInfo.of(p + "attn_q_norm.weight", GgmlType.F32, new long[] {s.headDim()}, 0));
                t.add(TensorInfo.of(p + "attn_k_norm.weight", GgmlType.F32, new long[] {s.headDim()}, 0));
            }
            t.add(TensorInfo.of(p + "attn_output.weight", GgmlType.F16, new long[] {q, s.embedding()}, 0));
            t.add(TensorInfo.of(p + "ffn_norm.weight", GgmlType.F32, new long[] {s.embedding()}, 0));
            t.add(TensorInfo.of(p + "ffn_gate.weight", GgmlType.F16, new long[] {s.embedding(), s.feedForward()}, 0));
            t.add(TensorInfo.of(p + "ffn_up.weight", GgmlType.F16, new long[] {s.embedding(), s.feedForward()}, 0));
            t.add(TensorInfo.of(p + "ffn_down.weight", GgmlType.F16, new long[] {s.feedForward(), s.embedding()}, 0));
        }
        t.add(TensorInfo.of("output_norm.weight", GgmlType.F32, new long[] {s.embedding()}, 0));
        if (!s.tied()) {
            t.add(TensorInfo.of("output.weight", GgmlType.F16, new long[] {s.embedding(), s.vocab()}, 0));
        }
        return t;
    }

    /** Bytes of tensor data a synthetic model of this shape and recipe holds. */
    public static long dataBytes(Shape s, Recipe recipe) {
        long n = 0;
        for (TensorPlan p : QuantPlanner.plan(tensors(s), recipe,
                new MixRules.ModelFacts(s.layers(), s.heads() / s.kvHeads(), !s.tied()))) {
            TensorInfo in = p.input();
            n += in.dims() == 1 ? 4 * in.elementCount() : p.outputType().bytesFor(in.elementCount());
        }
        return n;
    }

    /** Writes a synthetic model; {@code progress} receives bytes written so far. */
    public static void write(Shape s, Recipe recipe, Path file, long seed, LongConsumer progress) throws IOException {
        List<TensorPlan> plan = QuantPlanner.plan(tensors(s), recipe,
                new MixRules.ModelFacts(s.layers(), s.heads() / s.kvHeads(), !s.tied()));
        Map<GgmlType, byte[]> pools = new EnumMap<>(GgmlType.class);
        SplittableRandom rnd = new SplittableRandom(seed);
        long[] written = {0};
        try (GgufWriter w = GgufWriter.create(file)) {
            metadata(w, s, recipe);
            for (TensorPlan p : plan) {
                TensorInfo in = p.input();
                GgmlType type = p.outputType();
                long bytes = type.bytesFor(in.elementCount());
                if (in.dims() == 1) {
                    w.addTensor(in.name(), GgmlType.F32, in.ne(), sink -> {
                        float[] v = new float[(int) in.elementCount()];
                        boolean norm = in.name().contains("norm");
                        for (int i = 0; i < v.length; i++) {
                            v[i] = norm ? 1f + (float) rnd.nextGaussian() * 0.05f : (float) rnd.nextGaussian() * 0.02f;
                        }
                        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * v.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                        b.asFloatBuffer().put(v);
                        sink.write(b);
                        progress.accept(written[0] += 4L * v.length);
                    });
                    continue;
                }
                byte[] pool = pools.computeIfAbsent(type, t -> pool(t, rnd));
                int blockBytes = type.blockBytes();
                long start = (long) rnd.nextInt(pool.length / blockBytes) * blockBytes;
                w.addTensor(in.name(), type, in.ne(), sink -> {
                    long left = bytes;
                    long pos = start;
                    while (left > 0) {
                        int n = (int) Math.min(left, pool.length - pos);
                        sink.write(java.nio.ByteBuffer.wrap(pool, (int) pos, n));
                        left -= n;
                        pos = 0;
                        progress.accept(written[0] += n);
                    }
                });
            }
            w.finish();
        }
    }

    /** About 8 MiB of valid blocks of {@code type}, quantized from Gaussian noise. */
    private static byte[] pool(GgmlType type, SplittableRandom rnd) {
        QuantFormat f = Kernels.of(type);
        int values = (8 << 20) / type.blockBytes() * type.blockValues();
        values -= values % 256;
        float[] x = new float[values];
        for (int i = 0; i < values; i++) {
            x[i] = (float) rnd.nextGaussian() * 0.02f;
        }
        try (Arena a = Arena.ofConfined()) {
            MemorySegment seg = a.allocate(type.bytesFor(values));
            f.quantize(x, 0, seg, 0, values);
            return seg.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
        }
    }

    private static void metadata(GgufWriter w, Shape s, Recipe recipe) {
        String a = s.arch() + ".";
        w.put("general.architecture", s.arch());
        w.put("general.name", "synthetic " + s.name() + " " + recipe.name());
        w.put(FileType.KEY, MetadataValue.ofUInt32(recipe.base().fileType().id()));
        w.put("general.quantization_version", MetadataValue.ofUInt32(2));
        w.put(a + "block_count", MetadataValue.ofUInt32(s.layers()));
        w.put(a + "context_length", MetadataValue.ofUInt32(s.context()));
        w.put(a + "embedding_length", MetadataValue.ofUInt32(s.embedding()));
        w.put(a + "feed_forward_length", MetadataValue.ofUInt32(s.feedForward()));
        w.put(a + "attention.head_count", MetadataValue.ofUInt32(s.heads()));
        w.put(a + "attention.head_count_kv", MetadataValue.ofUInt32(s.kvHeads()));
        if (s.headDim() != s.embedding() / s.heads()) {
            w.put(a + "attention.key_length", MetadataValue.ofUInt32(s.headDim()));
            w.put(a + "attention.value_length", MetadataValue.ofUInt32(s.headDim()));
        }
        w.put(a + "rope.freq_base", MetadataValue.ofFloat32(s.ropeBase()));
        w.put(a + "attention.layer_norm_rms_epsilon", MetadataValue.ofFloat32(s.rmsEps()));
        // byte-level vocabulary: the 256 byte symbols, filler pieces, then the special tokens
        List<String> tokens = new ArrayList<>(s.vocab());
        int[] types = new int[s.vocab()];
        for (int b = 0; b < 256; b++) {
            tokens.add(String.valueOf(ByteLevel.charOf(b)));
            types[b] = 1;
        }
        int specials = 3;
        for (int i = 256; i < s.vocab() - specials; i++) {
            tokens.add("<synthetic_" + i + ">");
            types[i] = 1;
        }
        tokens.add("<|endoftext|>");
        tokens.add("<|im_start|>");
        tokens.add("<|im_end|>");
        for (int i = s.vocab() - specials; i < s.vocab(); i++) {
            types[i] = 3;
        }
        w.put(TokenizerKeys.MODEL, "gpt2");
        w.put(TokenizerKeys.PRE, "qwen2");
        w.put(TokenizerKeys.TOKENS, MetadataValue.ofStrings(tokens));
        w.put(TokenizerKeys.TOKEN_TYPE, MetadataValue.ofInt32s(types));
        w.put(TokenizerKeys.MERGES, MetadataValue.ofStrings(List.of()));
        w.put(TokenizerKeys.BOS_ID, new MetadataValue.IntValue(GgufValueType.UINT32, s.vocab() - 3));
        w.put(TokenizerKeys.EOS_ID, new MetadataValue.IntValue(GgufValueType.UINT32, s.vocab() - 1));
        w.put(TokenizerKeys.ADD_BOS, false);
    }
}
