package dev.panamax.engine.convert;

import dev.panamax.engine.quantize.QuantPlanner;
import dev.panamax.engine.tokenizer.HfTokenizerJson;
import dev.panamax.engine.tokenizer.TokenType;
import dev.panamax.engine.tokenizer.TokenizerKeys;
import dev.panamax.gguf.FileType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufWriter;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.gguf.TensorInfo;
import dev.panamax.gguf.TensorSink;
import dev.panamax.kernels.Kernels;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code convert_hf_to_gguf.py} for qwen2, qwen3 and llama in Java: a Hugging Face folder
 * (config.json, safetensors, tokenizer.json / tokenizer_config.json) becomes a GGUF file with
 * llama.cpp's tensor names, metadata keys and conventions:
 * <ul>
 *   <li>2-D weights in the output type (F16 by default, BF16, F32; "auto" follows the checkpoint's
 *       first matrix); norms, 1-D tensors and biases in F32;
 *   <li>llama's q_proj / k_proj rows permuted from Hugging Face's rotate-half layout to ggml's
 *       interleaved pairs (LlamaModel.permute); qwen's left as they are (NEOX rope);
 *   <li>tied embeddings: no output.weight;
 *   <li>rope: freq_base, and linear / yarn scaling keys from rope_scaling (transformers 4) or
 *       rope_parameters (transformers 5); llama3 rope writes rope_freqs.weight;
 *   <li>head_dim as attention.key_length / value_length when config.json has it; llama adds
 *       vocab_size and rope.dimension_count;
 *   <li>the tokenizer (gpt2 byte-level BPE): tokens padded to vocab_size with [PADn] UNUSED,
 *       merges, token types (added tokens that look special, {@code <|...|>}, are CONTROL as in
 *       llama.cpp), pre-tokenizer name, special ids, add_bos, chat template (tokenizer_config.json
 *       or chat_template.jinja).
 * </ul>
 * Tensors stream from the mapped safetensors through a small buffer to the output, which appears
 * only when complete.
 */
public final class HfConverter {
    private HfConverter() {}

    /** --outtype. */
    public enum OutType {
        F32, F16, BF16, AUTO;

        public static OutType parse(String s) {
            for (OutType t : values()) {
                if (t.name().equalsIgnoreCase(s.strip())) {
                    return t;
                }
            }
            throw new PanamaxException("--outtype '" + s + "': expected f16, bf16, f32 or auto");
        }
    }

    /** How one output tensor is made. {@code permuteHeads} > 0: llama's Q/K row permutation with that many heads. */
    public record TensorOut(String name, String source, GgmlType type, long[] ne, int permuteHeads, float[] generated) {
        public long bytes() {
            return type.bytesFor(elements());
        }

        public long elements() {
            long n = 1;
            for (long d : ne) {
                n *= d;
            }
            return n;
        }
    }

    /** Everything decided before data moves. */
    public record Plan(HfConfig config, GgmlType weightType, Map<String, MetadataValue> metadata, List<TensorOut> tensors,
            List<String> warnings, long inputBytes, long outputBytes) {}

    public interface Listener {
        default void tensorStarted(int index, TensorOut t) {}

        /** Input bytes read so far. */
        default void progress(long bytes) {}
    }

    public record Result(Path output, long fileBytes, double seconds) {}

    private static final Pattern LAYER = Pattern.compile("model\\.layers\\.(\\d+)\\.(.+)");
    private static final Map<String, String> LAYER_NAMES = Map.ofEntries(
            Map.entry("input_layernorm.weight", "attn_norm.weight"),
            Map.entry("post_attention_layernorm.weight", "ffn_norm.weight"),
            Map.entry("self_attn.q_proj.weight", "attn_q.weight"), Map.entry("self_attn.q_proj.bias", "attn_q.bias"),
            Map.entry("self_attn.k_proj.weight", "attn_k.weight"), Map.entry("self_attn.k_proj.bias", "attn_k.bias"),
            Map.entry("self_attn.v_proj.weight", "attn_v.weight"), Map.entry("self_attn.v_proj.bias", "attn_v.bias"),
            Map.entry("self_attn.o_proj.weight", "attn_output.weight"),
            Map.entry("self_attn.o_proj.bias", "attn_output.bias"),
            Map.entry("self_attn.q_norm.weight", "attn_q_norm.weight"),
            Map.entry("self_attn.k_norm.weight", "attn_k_norm.weight"),
            Map.entry("mlp.gate_proj.weight", "ffn_gate.weight"), Map.entry("mlp.up_proj.weight", "ffn_up.weight"),
            Map.entry("mlp.down_proj.weight", "ffn_down.weight"));
    private static final List<String> REQUIRED_PER_LAYER = List.of("attn_norm.weight", "attn_q.weight", "attn_k.weight",
            "attn_v.weight", "attn_output.weight", "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight",
            "ffn_down.weight");

    /** Plans the conversion of {@code dir} (whose checkpoint is {@code st}). */
    public static Plan plan(Path dir, Safetensors st, OutType outType, String name) {
        HfConfig c = HfConfig.read(dir);
        List<String> warnings = new ArrayList<>();
        GgmlType weightType = switch (outType) {
            case F32 -> GgmlType.F32;
            case F16 -> GgmlType.F16;
            case BF16 -> GgmlType.BF16;
            case AUTO -> st.tensors().values().stream().filter(t -> t.shape().length >= 2).findFirst()
                    .map(t -> t.dtype() == Safetensors.DType.BF16 ? GgmlType.BF16 : GgmlType.F16).orElse(GgmlType.F16);
        };
        int hd = c.headDimOrDefault();
        boolean tied = c.tied();
        if (!tied && !st.tensors().containsKey("lm_head.weight")) {
            warnings.add("config.json does not tie the embeddings but there is no lm_head.weight: the output layer "
                    + "uses the token embedding (tied)");
            tied = true;
        }
        List<TensorOut> out = new ArrayList<>();
        long inBytes = 0;
        for (Safetensors.Tensor t : st.tensors().values()) {
            String n = t.name();
            if (n.endsWith("rotary_emb.inv_freq") || n.endsWith(".attention.masked_bias") || n.endsWith(".attention.bias")) {
                continue;
            }
            if (n.equals("lm_head.weight") && tied) {
                if (c.tied()) {
                    warnings.add("lm_head.weight is left out: config.json ties it to the token embedding");
                }
                continue;
            }
            String g = ggufName(n, c);
            long[] expected = expectedShape(g, c, hd);
            if (expected != null && !java.util.Arrays.equals(expected, t.shape())) {
                throw new PanamaxException(t.file() + ": tensor '" + n + "' has shape " + t.shapeString() + ", expected "
                        + java.util.Arrays.toString(expected) + " from " + c.file());
            }
            long[] ne = new long[t.shape().length];
            for (int i = 0; i < ne.length; i++) {
                ne[i] = t.shape()[ne.length - 1 - i];
            }
            boolean matrix = t.shape().length >= 2 && !g.endsWith("_norm.weight") && g.endsWith(".weight");
            int permute = 0;
            if (c.arch().equals("llama")) {
                if (g.matches("blk\\.\\d+\\.attn_q\\.(weight|bias)")) {
                    permute = c.heads();
                } else if (g.matches("blk\\.\\d+\\.attn_k\\.(weight|bias)")) {
                    permute = c.kvHeads();
                }
            }
            out.add(new TensorOut(g, n, matrix ? weightType : GgmlType.F32, ne, permute, null));
            inBytes += t.data().byteSize();
        }
        List<String> have = out.stream().map(TensorOut::name).toList();
        List<String> missing = new ArrayList<>();
        for (String req : List.of("token_embd.weight", "output_norm.weight")) {
            if (!have.contains(req)) {
                missing.add(req);
            }
        }
        for (int l = 0; l < c.layers(); l++) {
            for (String req : REQUIRED_PER_LAYER) {
                if (!have.contains("blk." + l + "." + req)) {
                    missing.add("blk." + l + "." + req);
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new PanamaxException(dir + ": the checkpoint lacks " + (missing.size() > 6
                    ? missing.subList(0, 6) + " and " + (missing.size() - 6) + " more" : missing)
                    + " (" + c.layers() + " layers per config.json)");
        }
        float[] ropeFreqs = llama3RopeFactors(c, hd, warnings);
        if (ropeFreqs != null) {
            out.add(new TensorOut("rope_freqs.weight", "(generated from rope_scaling)", GgmlType.F32,
                    new long[] {ropeFreqs.length}, 0, ropeFreqs));
        }
        out.sort((a, b) -> QuantPlanner.LLAMA_ORDER.compare(info(a), info(b)));
        long outBytes = out.stream().mapToLong(TensorOut::bytes).sum();
        long params = out.stream().mapToLong(TensorOut::elements).sum();
        Map<String, MetadataValue> md = metadata(dir, c, weightType, name, params, warnings);
        return new Plan(c, weightType, md, List.copyOf(out), List.copyOf(warnings), inBytes, outBytes);
    }

    private static TensorInfo info(TensorOut t) {
        return TensorInfo.of(t.name(), t.type(), t.ne(), 0);
    }

    static String ggufName(String hf, HfConfig c) {
        switch (hf) {
            case "model.embed_tokens.weight" -> {
                return "token_embd.weight";
            }
            case "model.norm.weight" -> {
                return "output_norm.weight";
            }
            case "lm_head.weight" -> {
                return "output.weight";
            }
            default -> { }
        }
        Matcher m = LAYER.matcher(hf);
        if (m.matches()) {
            int layer = Integer.parseInt(m.group(1));
            String g = LAYER_NAMES.get(m.group(2));
            if (g != null) {
                if (layer >= c.layers()) {
                    throw new PanamaxException("tensor '" + hf + "' belongs to layer " + layer + ", but " + c.file()
                            + " says num_hidden_layers = " + c.layers());
                }
                return "blk." + layer + "." + g;
            }
        }
        throw new PanamaxException("cannot map tensor '" + hf + "' to a GGUF name (architecture " + c.hfArchitecture() + ")");
    }

    /** The Hugging Face shape config.json implies for a GGUF tensor name, or null if unchecked. */
    private static long[] expectedShape(String g, HfConfig c, int hd) {
        long h = c.hidden();
        long q = (long) c.heads() * hd;
        long kv = (long) c.kvHeads() * hd;
        String kind = g.startsWith("blk.") ? g.substring(g.indexOf('.', 4) + 1) : g;
        return switch (kind) {
            case "token_embd.weight", "output.weight" -> new long[] {c.vocab(), h};
            case "output_norm.weight", "attn_norm.weight", "ffn_norm.weight" -> new long[] {h};
            case "attn_q.weight" -> new long[] {q, h};
            case "attn_q.bias" -> new long[] {q};
            case "attn_k.weight", "attn_v.weight" -> new long[] {kv, h};
            case "attn_k.bias", "attn_v.bias" -> new long[] {kv};
            case "attn_output.weight" -> new long[] {h, q};
            case "attn_output.bias" -> new long[] {h};
            case "attn_q_norm.weight", "attn_k_norm.weight" -> new long[] {hd};
            case "ffn_gate.weight", "ffn_up.weight" -> new long[] {c.ffn(), h};
            case "ffn_down.weight" -> new long[] {h, c.ffn()};
            default -> null;
        };
    }

    /** llama.cpp's rope_freqs for rope_type llama3 (LlamaModel.generate_extra_tensors), else null. */
    private static float[] llama3RopeFactors(HfConfig c, int hd, List<String> warnings) {
        if (!"llama3".equalsIgnoreCase(String.valueOf(c.ropeType()))) {
            return null;
        }
        double base = c.ropeTheta() != null ? c.ropeTheta() : 10000.0;
        double factor = num(c.rope(), "factor", 8.0);
        double low = num(c.rope(), "low_freq_factor", 1.0);
        double high = num(c.rope(), "high_freq_factor", 4.0);
        double old = num(c.rope(), "original_max_position_embeddings", 8192);
        double lowWavelen = old / low;
        double highWavelen = old / high;
        float[] f = new float[hd / 2];
        for (int i = 0; i < f.length; i++) {
            float freq = (float) (1.0 / Math.pow(base, (float) (2 * i) / hd));
            double wavelen = 2 * Math.PI / freq;
            if (wavelen < highWavelen) {
                f[i] = 1;
            } else if (wavelen > lowWavelen) {
                f[i] = (float) factor;
            } else {
                double smooth = (old / wavelen - low) / (high - low);
                f[i] = (float) (1 / ((1 - smooth) / factor + smooth));
            }
        }
        warnings.add("rope_type llama3: rope_freqs.weight is written as llama.cpp does, but the Panamax engine does not "
                + "apply it yet (contexts beyond " + (long) old + " tokens will differ)");
        return f;
    }

    private static double num(Map<String, Object> m, String key, double dflt) {
        return m.get(key) instanceof Number n ? n.doubleValue() : dflt;
    }

    private static Map<String, MetadataValue> metadata(Path dir, HfConfig c, GgmlType weightType, String name,
            long params, List<String> warnings) {
        String a = c.arch() + ".";
        Map<String, MetadataValue> md = new LinkedHashMap<>();
        md.put("general.architecture", MetadataValue.of(c.arch()));
        md.put("general.type", MetadataValue.of("model"));
        String n = name != null ? name : dir.toAbsolutePath().normalize().getFileName().toString();
        md.put("general.name", MetadataValue.of(n));
        md.put("general.size_label", MetadataValue.of(sizeLabel(params)));
        md.put(a + "block_count", MetadataValue.ofUInt32(c.layers()));
        if (c.context() != null) {
            md.put(a + "context_length", MetadataValue.ofUInt32(c.context()));
        }
        md.put(a + "embedding_length", MetadataValue.ofUInt32(c.hidden()));
        md.put(a + "feed_forward_length", MetadataValue.ofUInt32(c.ffn()));
        md.put(a + "attention.head_count", MetadataValue.ofUInt32(c.heads()));
        md.put(a + "attention.head_count_kv", MetadataValue.ofUInt32(c.kvHeads()));
        String ropeType = c.ropeType();
        Map<String, Object> r = c.rope();
        if (ropeType != null) {
            Object factor = r.get("factor");
            switch (ropeType.toLowerCase(Locale.ROOT)) {
                case "default", "llama3" -> { }
                case "linear" -> {
                    if (factor instanceof Number f) {
                        md.put(a + "rope.scaling.type", MetadataValue.of("linear"));
                        md.put(a + "rope.scaling.factor", MetadataValue.ofFloat32(f.floatValue()));
                    }
                }
                case "yarn" -> {
                    if (factor instanceof Number f) {
                        if (!(r.get("original_max_position_embeddings") instanceof Number orig)) {
                            throw new PanamaxException(c.file() + ": yarn rope scaling needs "
                                    + "\"original_max_position_embeddings\"");
                        }
                        md.put(a + "rope.scaling.type", MetadataValue.of("yarn"));
                        md.put(a + "rope.scaling.factor", MetadataValue.ofFloat32(f.floatValue()));
                        md.put(a + "rope.scaling.original_context_length", MetadataValue.ofUInt32(orig.longValue()));
                        putFloat(md, a + "rope.scaling.yarn_ext_factor", r.get("extrapolation_factor"));
                        putFloat(md, a + "rope.scaling.yarn_attn_factor", r.get("attention_factor") != null
                                ? r.get("attention_factor") : r.get("attn_factor"));
                        putFloat(md, a + "rope.scaling.yarn_beta_fast", r.get("beta_fast"));
                        putFloat(md, a + "rope.scaling.yarn_beta_slow", r.get("beta_slow"));
                    }
                }
                default -> warnings.add("rope type '" + ropeType + "' is not converted (llama.cpp ignores it too); "
                        + "the model runs without rope scaling");
            }
        }
        if (c.ropeTheta() != null) {
            md.put(a + "rope.freq_base", MetadataValue.ofFloat32(c.ropeTheta().floatValue()));
        }
        if (c.rmsEps() != null) {
            md.put(a + "attention.layer_norm_rms_epsilon", MetadataValue.ofFloat32(c.rmsEps().floatValue()));
        }
        if (c.headDim() != null) {
            md.put(a + "attention.key_length", MetadataValue.ofUInt32(c.headDim()));
            md.put(a + "attention.value_length", MetadataValue.ofUInt32(c.headDim()));
        }
        FileType ft = switch (weightType) {
            case F32 -> FileType.F32;
            case BF16 -> FileType.BF16;
            default -> FileType.F16;
        };
        md.put(FileType.KEY, MetadataValue.ofUInt32(ft.id()));
        if (c.arch().equals("llama")) {
            md.put(a + "vocab_size", MetadataValue.ofUInt32(c.vocab()));
            md.put(a + "rope.dimension_count", MetadataValue.ofUInt32(c.headDimOrDefault()));
        }
        md.put("general.quantization_version", MetadataValue.ofUInt32(2));
        md.putAll(tokenizer(dir, c));
        return md;
    }

    private static void putFloat(Map<String, MetadataValue> md, String key, Object v) {
        if (v instanceof Number n) {
            md.put(key, MetadataValue.ofFloat32(n.floatValue()));
        }
    }

    /** gguf-py's size label: 1.8B, 15B, 494M, 120K. */
    static String sizeLabel(long params) {
        double scaled;
        String suffix;
        if (params > 1e12) {
            scaled = params * 1e-12;
            suffix = "T";
        } else if (params > 1e9) {
            scaled = params * 1e-9;
            suffix = "B";
        } else if (params > 1e6) {
            scaled = params * 1e-6;
            suffix = "M";
        } else {
            scaled = params * 1e-3;
            suffix = "K";
        }
        String rounded = Long.toString(Math.round(scaled)).replaceFirst("^0+", "");
        int fix = Math.max(2 - rounded.length(), 0);
        return String.format(Locale.ROOT, "%." + fix + "f%s", scaled, suffix);
    }

    private static Map<String, MetadataValue> tokenizer(Path dir, HfConfig c) {
        Path json = dir.resolve("tokenizer.json");
        if (!Files.isRegularFile(json)) {
            throw new PanamaxException(dir + ": no tokenizer.json (Panamax converts byte-level BPE tokenizers from "
                    + "tokenizer.json)");
        }
        Path configJson = dir.resolve("tokenizer_config.json");
        Map<String, MetadataValue> md = new LinkedHashMap<>(HfTokenizerJson.read(json,
                Files.isRegularFile(configJson) ? configJson : null));
        Path jinja = dir.resolve("chat_template.jinja");
        if (!md.containsKey(TokenizerKeys.CHAT_TEMPLATE) && Files.isRegularFile(jinja)) {
            try {
                md.put(TokenizerKeys.CHAT_TEMPLATE, MetadataValue.of(Files.readString(jinja)));
            } catch (IOException e) {
                throw new PanamaxException(jinja + ": cannot read (" + e.getMessage() + ")");
            }
        }
        // llama.cpp's converter: added tokens that look special are CONTROL even when not marked special
        MetadataValue.StringArray tokens = (MetadataValue.StringArray) md.get(TokenizerKeys.TOKENS);
        MetadataValue.IntArray types = (MetadataValue.IntArray) md.get(TokenizerKeys.TOKEN_TYPE);
        long[] t = types.values().clone();
        for (int i = 0; i < t.length; i++) {
            if (t[i] == TokenType.USER_DEFINED.code() && looksSpecial(tokens.values().get(i))) {
                t[i] = TokenType.CONTROL.code();
            }
        }
        md.put(TokenizerKeys.TOKEN_TYPE, new MetadataValue.IntArray(types.elementType(), t));
        if (tokens.size() > c.vocab()) {
            throw new PanamaxException(json + ": " + tokens.size() + " tokens, more than vocab_size " + c.vocab()
                    + " in " + c.file());
        }
        if (tokens.size() < c.vocab()) {
            md = new LinkedHashMap<>(HfTokenizerJson.padVocabulary(md, c.vocab()));
        }
        if (!md.containsKey(TokenizerKeys.BOS_ID) && c.bosId() != null && c.bosId() < c.vocab()) {
            md.put(TokenizerKeys.BOS_ID, MetadataValue.ofUInt32(c.bosId()));
        }
        if (!md.containsKey(TokenizerKeys.EOS_ID) && c.eosId() != null && c.eosId() < c.vocab()) {
            md.put(TokenizerKeys.EOS_ID, MetadataValue.ofUInt32(c.eosId()));
        }
        return md;
    }

    /** llama.cpp's TextModel.does_token_look_special. */
    static boolean looksSpecial(String s) {
        return s.equals("<pad>") || s.equals("<mask>") || s.equals("<2mass>") || s.equals("[@BOS@]")
                || (s.startsWith("<|") && s.endsWith("|>")) || (s.startsWith("<｜") && s.endsWith("｜>"))
                || (s.startsWith("<unused") && s.endsWith(">"));
    }

    /** Converts {@code dir} to {@code out} (atomically: nothing appears at {@code out} on error). */
    public static Result convert(Path dir, Safetensors st, Plan plan, Path out, Listener listener) throws IOException {
        long start = System.nanoTime();
        long[] done = {0};
        try (GgufWriter w = GgufWriter.create(out); Arena arena = Arena.ofConfined()) {
            plan.metadata().forEach(w::put);
            MemorySegment buffer = arena.allocate(CHUNK_BYTES * 2L, 64);
            for (int i = 0; i < plan.tensors().size(); i++) {
                TensorOut t = plan.tensors().get(i);
                int index = i;
                w.addTensor(t.name(), t.type(), t.ne(), sink -> {
                    listener.tensorStarted(index, t);
                    if (t.generated() != null) {
                        MemorySegment seg = arena.allocate(4L * t.generated().length);
                        MemorySegment.copy(t.generated(), 0, seg, Safetensors.F32_LE, 0, t.generated().length);
                        sink.write(seg);
                        return;
                    }
                    Safetensors.Tensor src = st.tensors().get(t.source());
                    write(src, t, sink, buffer, bytes -> listener.progress(done[0] += bytes));
                });
            }
            w.finish();
        }
        return new Result(out, Files.size(out), (System.nanoTime() - start) / 1e9);
    }

    private static final int CHUNK_BYTES = 8 << 20;

    private interface Advance {
        void bytes(long n);
    }

    private static void write(Safetensors.Tensor src, TensorOut t, TensorSink sink, MemorySegment buffer, Advance advance)
            throws IOException {
        boolean sameType = switch (src.dtype()) {
            case F32 -> t.type() == GgmlType.F32;
            case F16 -> t.type() == GgmlType.F16;
            case BF16 -> t.type() == GgmlType.BF16;
        };
        if (sameType && t.permuteHeads() == 0) {
            MemorySegment data = src.data();
            for (long off = 0; off < data.byteSize(); off += CHUNK_BYTES) {
                long n = Math.min(CHUNK_BYTES, data.byteSize() - off);
                sink.write(data.asSlice(off, n));
                advance.bytes(n);
            }
            return;
        }
        // rows of the HF tensor: the last dimension is contiguous; 1-D tensors are rows of one value
        long elements = src.elements();
        int rowLength = src.shape().length >= 2 ? Math.toIntExact(src.shape()[src.shape().length - 1]) : 1;
        long rows = elements / rowLength;
        int rowsPerChunk = (int) Math.max(1, Math.min(rows, (CHUNK_BYTES / 4) / rowLength));
        float[] x = new float[rowsPerChunk * rowLength];
        short[] half = src.dtype() == Safetensors.DType.F32 ? null : new short[rowLength];
        int inBytes = src.dtype().bytes();
        long outRow = t.type().bytesFor(rowLength);
        var to = Kernels.of(t.type());
        for (long r0 = 0; r0 < rows; r0 += rowsPerChunk) {
            int n = (int) Math.min(rowsPerChunk, rows - r0);
            for (int i = 0; i < n; i++) {
                long row = permutedRow(r0 + i, rows, t.permuteHeads());
                long off = row * rowLength * inBytes;
                if (half == null) {
                    MemorySegment.copy(src.data(), Safetensors.F32_LE, off, x, i * rowLength, rowLength);
                } else {
                    MemorySegment.copy(src.data(), Safetensors.I16_LE, off, half, 0, rowLength);
                    int base = i * rowLength;
                    if (src.dtype() == Safetensors.DType.F16) {
                        for (int k = 0; k < rowLength; k++) {
                            x[base + k] = Float.float16ToFloat(half[k]);
                        }
                    } else {
                        for (int k = 0; k < rowLength; k++) {
                            x[base + k] = Float.intBitsToFloat(half[k] << 16);
                        }
                    }
                }
            }
            to.quantize(x, 0, buffer, 0, n * rowLength);
            sink.write(buffer.asSlice(0, n * outRow));
            advance.bytes((long) n * rowLength * inBytes);
        }
    }

    /**
     * The source row of output row {@code o} under LlamaModel.permute with {@code heads} heads:
     * rows (head, 2, dim/2) become (head, dim/2, 2), so output row h*d + 2i + j comes from input
     * row h*d + j*(d/2) + i.
     */
    static long permutedRow(long o, long rows, int heads) {
        if (heads == 0) {
            return o;
        }
        long d = rows / heads;
        long h = o / d;
        long rem = o % d;
        long i = rem / 2;
        long j = rem % 2;
        return h * d + j * (d / 2) + i;
    }
}
