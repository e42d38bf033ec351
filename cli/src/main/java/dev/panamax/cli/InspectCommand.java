package dev.panamax.cli;

import dev.panamax.gguf.FileType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.GgufTensor;
import dev.panamax.gguf.Metadata;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.MetadataValue.ArrayValue;
import dev.panamax.gguf.MetadataValue.IntValue;
import dev.panamax.gguf.TensorInfo;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panamax inspect}: what a GGUF file holds, without loading any weights. */
@Command(name = "inspect",
        description = "Show a GGUF model's architecture, size and quantization (no weights are read).")
final class InspectCommand implements Callable<Integer> {
    private static final Pattern LAYER = Pattern.compile("blk\\.(\\d+)\\.(.+?)(\\.weight)?");

    @Parameters(index = "0", paramLabel = "MODEL.gguf", description = "GGUF file (first part of a split model).")
    Path model;

    @Option(names = "--tensors", description = "List every tensor: name, type, shape, bytes, offset.")
    boolean tensors;

    @Option(names = "--metadata", description = "Print every metadata key (long arrays shortened).")
    boolean metadata;

    @Option(names = "--layers", description = "Always print the per-layer tensor types (default: only for mixed files).")
    boolean layers;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        try (GgufFile g = GgufFile.open(model)) {
            if (json) {
                out.println(Json.pretty(toJson(g)));
            } else {
                printSummary(g, out);
            }
        }
        out.flush();
        return 0;
    }

    // ---- summary ----

    private void printSummary(GgufFile g, PrintWriter out) {
        Metadata m = g.metadata();
        String arch = text(m, "general.architecture").orElse("(unknown)");
        row(out, "file", g.name() + (g.paths().size() > 1 ? " (+" + (g.paths().size() - 1) + " parts)" : ""));
        row(out, "size", Format.bytes(g.fileBytes()) + ", GGUF v" + g.version() + ", " + g.tensors().size()
                + " tensors, " + m.size() + " metadata keys");
        row(out, "architecture", arch);
        text(m, "general.name").ifPresent(v -> row(out, "name", v));
        row(out, "parameters", Format.count(g.parameterCount()) + String.format(Locale.ROOT, " (%.2f bits per weight)",
                bitsPerWeight(g)));
        row(out, "file type", fileType(m).orElse("(not recorded)"));
        text(m, arch + ".context_length").ifPresent(v -> row(out, "context", v));
        text(m, arch + ".block_count").ifPresent(v -> row(out, "layers", v));
        text(m, arch + ".embedding_length").ifPresent(v -> row(out, "embedding", v));
        text(m, arch + ".feed_forward_length").ifPresent(v -> row(out, "feed forward", v));
        text(m, arch + ".attention.head_count").ifPresent(v -> row(out, "heads",
                v + text(m, arch + ".attention.head_count_kv").map(kv -> " (" + kv + " key/value)").orElse("")));
        text(m, arch + ".rope.freq_base").ifPresent(v -> row(out, "rope base", v));
        vocabSize(g).ifPresent(v -> row(out, "vocabulary", v + " tokens"
                + text(m, "tokenizer.ggml.model").map(t -> ", tokenizer " + t).orElse("")
                + text(m, "tokenizer.ggml.pre").map(p -> " (pre " + p + ")").orElse("")));

        out.println();
        out.println("tensor types:");
        out.printf(Locale.ROOT, "  %-8s %8s %12s %12s %7s%n", "type", "tensors", "parameters", "bytes", "share");
        for (var e : typeSummary(g).entrySet()) {
            TypeStats s = e.getValue();
            out.printf(Locale.ROOT, "  %-8s %8d %12s %12s %6.1f%%%n", e.getKey(), s.tensors, Format.count(s.params),
                    Format.bytes(s.bytes), 100.0 * s.bytes / Math.max(1, totalTensorBytes(g)));
        }
        Map<Integer, Map<String, GgmlType>> perLayer = layerTypes(g);
        if (layers || (!perLayer.isEmpty() && new LinkedHashSet<>(perLayer.values()).size() > 1)) {
            printLayers(g, perLayer, out);
        }
        if (tensors) {
            out.println();
            out.printf(Locale.ROOT, "  %-40s %-8s %-22s %14s %14s%n", "tensor", "type", "shape", "bytes", "offset");
            for (GgufTensor t : g.tensors()) {
                TensorInfo i = t.info();
                out.printf(Locale.ROOT, "  %-40s %-8s %-22s %14d %14d%n", i.name(), i.type(), i.shapeString(),
                        i.byteSize(), i.offset());
            }
        }
        if (metadata) {
            out.println();
            out.println("metadata:");
            m.asMap().forEach((k, v) -> out.printf(Locale.ROOT, "  %-44s %-8s %s%n", k, typeName(v), v.display(8)));
        }
    }

    private static void printLayers(GgufFile g, Map<Integer, Map<String, GgmlType>> perLayer, PrintWriter out) {
        List<String> columns = new ArrayList<>();
        perLayer.values().forEach(types -> types.keySet().forEach(k -> {
            if (!columns.contains(k)) {
                columns.add(k);
            }
        }));
        out.println();
        out.println("layer types (quantized weights):");
        StringBuilder header = new StringBuilder("  layer");
        columns.forEach(c -> header.append(String.format(Locale.ROOT, " %-11s", c)));
        out.println(header.append("      bytes"));
        Map<Integer, Long> layerBytes = new TreeMap<>();
        for (GgufTensor t : g.tensors()) {
            Matcher mt = LAYER.matcher(t.name());
            if (mt.matches()) {
                layerBytes.merge(Integer.parseInt(mt.group(1)), t.info().byteSize(), Long::sum);
            }
        }
        perLayer.forEach((layer, types) -> {
            StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %5d", layer));
            columns.forEach(c -> line.append(String.format(Locale.ROOT, " %-11s",
                    types.containsKey(c) ? types.get(c).name() : "-")));
            out.println(line.append(String.format(Locale.ROOT, " %10s", Format.bytes(layerBytes.getOrDefault(layer, 0L)))));
        });
    }

    // ---- JSON ----

    private Map<String, Object> toJson(GgufFile g) {
        Metadata m = g.metadata();
        String arch = text(m, "general.architecture").orElse(null);
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("files", g.paths().stream().map(Path::toString).toList());
        j.put("file_bytes", g.fileBytes());
        j.put("gguf_version", g.version());
        j.put("alignment", g.alignment());
        j.put("architecture", arch);
        j.put("name", text(m, "general.name").orElse(null));
        j.put("parameters", g.parameterCount());
        j.put("bits_per_weight", Math.round(bitsPerWeight(g) * 1000) / 1000.0);
        j.put("file_type", fileType(m).orElse(null));
        j.put("context_length", integer(m, arch + ".context_length"));
        j.put("block_count", integer(m, arch + ".block_count"));
        j.put("embedding_length", integer(m, arch + ".embedding_length"));
        j.put("head_count", integer(m, arch + ".attention.head_count"));
        j.put("head_count_kv", integer(m, arch + ".attention.head_count_kv"));
        j.put("vocab_size", vocabSize(g).orElse(null));
        j.put("tokenizer_model", text(m, "tokenizer.ggml.model").orElse(null));
        j.put("tokenizer_pre", text(m, "tokenizer.ggml.pre").orElse(null));
        Map<String, Object> types = new LinkedHashMap<>();
        typeSummary(g).forEach((t, s) -> types.put(t.name(), Map.of("tensors", s.tensors, "parameters", s.params, "bytes", s.bytes)));
        j.put("types", types);
        Map<String, Object> layerTypes = new LinkedHashMap<>();
        layerTypes(g).forEach((layer, lt) -> {
            Map<String, String> names = new LinkedHashMap<>();
            lt.forEach((k, v) -> names.put(k, v.name()));
            layerTypes.put(Integer.toString(layer), names);
        });
        j.put("layers", layerTypes);
        if (tensors) {
            List<Object> list = new ArrayList<>();
            for (GgufTensor t : g.tensors()) {
                TensorInfo i = t.info();
                Map<String, Object> e = new LinkedHashMap<>();
                e.put("name", i.name());
                e.put("type", i.type().name());
                e.put("shape", i.ne());
                e.put("bytes", i.byteSize());
                e.put("offset", i.offset());
                list.add(e);
            }
            j.put("tensors", list);
        }
        if (metadata) {
            Map<String, Object> md = new LinkedHashMap<>();
            m.asMap().forEach((k, v) -> md.put(k, Map.of("type", typeName(v), "value", v.display(8))));
            j.put("metadata", md);
        }
        return j;
    }

    // ---- helpers ----

    private record TypeStats(long tensors, long params, long bytes) {}

    private static Map<GgmlType, TypeStats> typeSummary(GgufFile g) {
        Map<GgmlType, TypeStats> m = new EnumMap<>(GgmlType.class);
        for (GgufTensor t : g.tensors()) {
            m.merge(t.type(), new TypeStats(1, t.info().elementCount(), t.info().byteSize()),
                    (a, b) -> new TypeStats(a.tensors + b.tensors, a.params + b.params, a.bytes + b.bytes));
        }
        return m;
    }

    /** Per layer, the type of each 2-D weight (norms and biases left out), in file order. */
    static Map<Integer, Map<String, GgmlType>> layerTypes(GgufFile g) {
        Map<Integer, Map<String, GgmlType>> layers = new TreeMap<>();
        for (GgufTensor t : g.tensors()) {
            Matcher mt = LAYER.matcher(t.name());
            if (mt.matches() && t.info().dims() >= 2) {
                layers.computeIfAbsent(Integer.parseInt(mt.group(1)), k -> new LinkedHashMap<>())
                        .put(mt.group(2), t.type());
            }
        }
        return layers;
    }

    private static long totalTensorBytes(GgufFile g) {
        return g.tensors().stream().mapToLong(t -> t.info().byteSize()).sum();
    }

    private static double bitsPerWeight(GgufFile g) {
        return 8.0 * totalTensorBytes(g) / Math.max(1, g.parameterCount());
    }

    private static Optional<String> fileType(Metadata m) {
        Optional<MetadataValue> v = m.get(FileType.KEY);
        if (v.isEmpty()) {
            return Optional.empty();
        }
        if (v.get() instanceof IntValue iv) {
            return Optional.of(FileType.byId(iv.value()).map(f -> f.name() + " (" + iv.value() + ")")
                    .orElse("unknown (" + iv.value() + ")"));
        }
        return Optional.of(v.get().display(4));
    }

    private static Optional<Integer> vocabSize(GgufFile g) {
        Optional<MetadataValue> tokens = g.metadata().get("tokenizer.ggml.tokens");
        if (tokens.isPresent() && tokens.get() instanceof ArrayValue a) {
            return Optional.of(a.size());
        }
        return g.findTensor("token_embd.weight").map(t -> (int) t.info().ne(1));
    }

    /** Any scalar value as text, without failing on unexpected types (inspect must show odd files). */
    private static Optional<String> text(Metadata m, String key) {
        return m.get(key).map(v -> v instanceof MetadataValue.StringValue s ? s.value() : v.display(4));
    }

    private static Long integer(Metadata m, String key) {
        return m.get(key).filter(v -> v instanceof IntValue).map(v -> ((IntValue) v).value()).orElse(null);
    }

    private static String typeName(MetadataValue v) {
        if (v instanceof ArrayValue a) {
            return "[" + a.elementType().name().toLowerCase(Locale.ROOT) + "]";
        }
        return v.type().name().toLowerCase(Locale.ROOT);
    }

    private static void row(PrintWriter out, String label, String value) {
        out.printf(Locale.ROOT, "%-14s %s%n", label, value);
    }
}
