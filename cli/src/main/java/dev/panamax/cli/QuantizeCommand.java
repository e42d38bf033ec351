package dev.panamax.cli;

import dev.panamax.engine.quantize.KvOverride;
import dev.panamax.engine.quantize.LayerTypes;
import dev.panamax.engine.quantize.QuantPlanner;
import dev.panamax.engine.quantize.Quantizer;
import dev.panamax.engine.quantize.Recipe;
import dev.panamax.engine.quantize.Recipes;
import dev.panamax.engine.quantize.TensorPlan;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panamax quantize}: llama-quantize, with per-layer recipes. */
@Command(name = "quantize", sortOptions = false,
        description = {"Quantize a GGUF model (F32/F16/BF16) the way llama-quantize does: same per-tensor types, "
                + "byte-identical tensor data, same file conventions. TYPE is a quantization type "
                + "(Q8_0, Q6_K, Q5_K_M, Q5_K_S, Q4_K_M, Q4_K_S, Q3_K_L, Q3_K_M, Q3_K_S, Q2_K, IQ4_XS, IQ4_NL, Q4_0, "
                + "Q4_1, Q5_0, Q5_1, F16, BF16, F32; aliases Q3_K, Q4_K, Q5_K; or its file type number), a built-in "
                + "recipe (Q4_K_H), a recipe file (path), or NAME for ~/.config/panamax/recipes/NAME.json.",
            "Per-layer recipes: --layer-types '[[0,\"Q4_K_L\"],[1,\"Q4_K_M\"],...]' gives each layer its own mix "
                + "(the mix's rules applied to that layer, with its real index); extra layer types Q4_K_L "
                + "(Q4_K_M + attn_output Q6_K), Q5_K_L (Q5_K + attn_v Q8_0, attn_output Q6_K, ffn_down Q6_K), "
                + "Q6_K_S (Q6_K), Q6_K_M (Q6_K + attn_v Q8_0, ffn_down Q8_0), Q6_K_L (Q6_K_M + attn_output Q8_0)."})
final class QuantizeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "IN.gguf", description = "Input model (F32, F16 or BF16; first part of a split model).")
    Path input;

    @Parameters(index = "1", paramLabel = "OUT.gguf", description = "Output file (written atomically; the input is never modified).")
    Path output;

    @Parameters(index = "2", paramLabel = "TYPE", description = "Quantization type or recipe (see above).")
    String type;

    @Parameters(index = "3", arity = "0..1", paramLabel = "NTHREADS", description = "Threads (as llama-quantize's last argument; same as -t).")
    Integer positionalThreads;

    @Option(names = "--layer-types", paramLabel = "JSON", description = "Per-layer mixes, the model card's form: [[0,\"Q4_K_L\"],[1,\"Q4_K_M\"],...]; TYPE is then the base mix (file type, tensors outside layers).")
    String layerTypes;

    @Option(names = "--layer-types-file", paramLabel = "FILE", description = "Read the --layer-types list from a file.")
    Path layerTypesFile;

    @Option(names = "--layer-types-high", description = "Layers the list leaves out take the list's highest-precision mix (without it every layer must be listed). A complete list is unaffected.")
    boolean layerTypesHigh;

    @Option(names = "--token-embedding-type", paramLabel = "TYPE", description = "Tensor type for token_embd.weight.")
    String tokenEmbeddingType;

    @Option(names = "--output-tensor-type", paramLabel = "TYPE", description = "Tensor type for output.weight (and a tied embedding).")
    String outputTensorType;

    @Option(names = "--tensor-type", paramLabel = "REGEX=TYPE", description = "Type for tensors whose name matches REGEX (repeatable; the first match wins), e.g. attn_v=q8_0.")
    List<String> tensorTypes = new ArrayList<>();

    @Option(names = "--tensor-type-file", paramLabel = "FILE", description = "REGEX=TYPE rules from a file, separated by spaces or newlines.")
    Path tensorTypeFile;

    @Option(names = "--pure", description = "No mix rules: every quantized tensor gets the mix's default type.")
    boolean pure;

    @Option(names = "--leave-output-tensor", description = "Keep output.weight as it is in the input.")
    boolean leaveOutput;

    @Option(names = "--override-kv", paramLabel = "KEY=TYPE:VALUE", description = "Set a metadata key in the output (TYPE: int, float, bool, str; repeatable).")
    List<String> overrides = new ArrayList<>();

    @Option(names = "--allow-requantize", description = "Allow converting tensors that are already quantized (worse than quantizing from F16/BF16/F32).")
    boolean allowRequantize;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Threads (default: physical cores).")
    Integer threads;

    @Option(names = "--dry-run", description = "Print the plan (every tensor's type, per-layer summary, sizes) and write nothing.")
    boolean dryRun;

    @Option(names = "--plan", description = "Print the per-tensor plan before quantizing.")
    boolean printPlan;

    @Option(names = "--progress", negatable = true, description = "Show the progress bar on standard error (default: when it is a terminal).")
    Boolean progress;

    @Option(names = "--json", description = "Print a JSON summary (with the per-tensor plan) on standard output.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!Files.isRegularFile(input)) {
            throw new PanamaxException(input + ": " + (Files.isDirectory(input) ? "is a directory, expected a .gguf file"
                    : "no such file") + " (IN)");
        }
        if (Files.isDirectory(output)) {
            throw new PanamaxException(output + ": is a folder; OUT.gguf must be a file name");
        }
        int nThreads = threads();
        List<KvOverride> kv = overrides.stream().map(KvOverride::parse).toList();
        Quantizer.Options options = new Quantizer.Options(nThreads, allowRequantize, kv);
        try (GgufFile in = GgufFile.open(input)) {
            Recipe recipe = recipe(in);
            for (String note : recipe.notes()) {
                err.println("note: " + note);
            }
            Quantizer.Job job = Quantizer.prepare(in, recipe, options);
            if (printPlan || dryRun) {
                if (!json) {
                    printPlan(job, out);
                }
            }
            if (dryRun) {
                if (json) {
                    out.println(Json.pretty(toJson(job, null)));
                } else {
                    out.printf(Locale.ROOT, "dry run: %s -> %s as %s: %d tensors (%d converted), %s -> %s of tensor data "
                            + "(%.2f bits per weight); nothing written%n", input, output, recipe.name(), job.plan().size(),
                            job.converted(), ProgressBar.size(job.inputTensorBytes()), ProgressBar.size(job.outputTensorBytes()),
                            job.bitsPerWeight());
                }
                out.flush();
                return 0;
            }
            ProgressBar bar = new ProgressBar(err, "quantize", job.inputTensorBytes(), ProgressBar.wanted(progress));
            Quantizer.Result r;
            try {
                r = Quantizer.write(in, job, output, options, new Quantizer.Listener() {
                    @Override
                    public void warning(String message) {
                        bar.clear();
                        err.println("warning: " + message);
                        err.flush();
                    }

                    @Override
                    public void tensorStarted(int index, TensorPlan p) {
                        bar.detail(String.format(Locale.ROOT, "%d/%d %s %s", index + 1, job.plan().size(),
                                p.input().name(), p.outputType()));
                    }

                    @Override
                    public void progress(long inputBytesDone) {
                        bar.update(inputBytesDone);
                    }
                });
            } catch (IOException | RuntimeException e) {
                bar.clear();
                throw e;
            }
            bar.finish();
            if (json) {
                out.println(Json.pretty(toJson(job, r)));
            } else {
                out.printf(Locale.ROOT, "quantized %s -> %s as %s%s: %d tensors (%d converted), %s (%.2f bits per weight), "
                        + "%.1f s, %.0f MB/s%n", input, output, recipe.name(),
                        recipe.name().equals(recipe.base().name()) ? "" : " (base " + recipe.base() + ")",
                        job.plan().size(), job.converted(), ProgressBar.size(r.fileBytes()), job.bitsPerWeight(),
                        r.seconds(), r.inputMBps());
            }
            out.flush();
        }
        return 0;
    }

    private int threads() {
        if (threads != null && positionalThreads != null && !threads.equals(positionalThreads)) {
            throw new PanamaxException("-t " + threads + " and NTHREADS " + positionalThreads + " disagree; give one");
        }
        Integer t = threads != null ? threads : positionalThreads;
        int n = t != null ? t : Cpus.physicalCores();
        if (n < 1) {
            throw new PanamaxException("-t/--threads must be at least 1, got " + n);
        }
        return n;
    }

    private Recipe recipe(GgufFile in) throws IOException {
        int layers = Quantizer.layers(in);
        Recipe r = Recipes.fromType(type, layers, layerTypesHigh && layerTypes == null && layerTypesFile == null);
        if (layerTypes != null && layerTypesFile != null) {
            throw new PanamaxException("--layer-types and --layer-types-file: give one of them");
        }
        if (layerTypes != null || layerTypesFile != null) {
            if (r.hasLayerTypes()) {
                throw new PanamaxException("TYPE " + r.name() + " is a recipe with its own layer types; give a plain "
                        + "base type (e.g. " + r.base() + ") with --layer-types, or edit a copy of the recipe");
            }
            String source = layerTypes != null ? "--layer-types" : layerTypesFile.toString();
            String text;
            if (layerTypes != null) {
                text = layerTypes;
            } else {
                try {
                    text = Files.readString(layerTypesFile);
                } catch (NoSuchFileException e) {
                    throw new PanamaxException(layerTypesFile + ": no such file (--layer-types-file)");
                }
            }
            r = r.withLayerTypes(LayerTypes.resolve(source, LayerTypes.parse(source, text), layers, layerTypesHigh),
                    layerTypesHigh);
        } else if (layerTypesHigh && !r.hasLayerTypes()) {
            throw new PanamaxException("--layer-types-high needs per-layer types (--layer-types, --layer-types-file or a "
                    + "recipe with layer types)");
        }
        if (tokenEmbeddingType != null) {
            r = r.withTokenEmbeddingType(Recipe.targetType("--token-embedding-type", tokenEmbeddingType));
        }
        if (outputTensorType != null) {
            r = r.withOutputTensorType(Recipe.targetType("--output-tensor-type", outputTensorType));
        }
        List<Recipe.TensorTypeRule> rules = new ArrayList<>();
        for (String s : tensorTypes) {
            rules.add(Recipe.TensorTypeRule.parse("--tensor-type", s));
        }
        if (tensorTypeFile != null) {
            String text;
            try {
                text = Files.readString(tensorTypeFile);
            } catch (NoSuchFileException e) {
                throw new PanamaxException(tensorTypeFile + ": no such file (--tensor-type-file)");
            }
            for (String s : text.strip().split("\\s+")) {
                if (!s.isEmpty()) {
                    rules.add(Recipe.TensorTypeRule.parse(tensorTypeFile.toString(), s));
                }
            }
        }
        // the command line's rules come before a recipe's own: the first match wins
        r = r.withTensorTypesFirst(rules);
        if (pure) {
            r = r.withPure(true);
        }
        if (leaveOutput) {
            r = r.withLeaveOutput(true);
        }
        return r;
    }

    // ---- plan printing ----

    private static final Pattern LAYER = Pattern.compile("blk\\.(\\d+)\\.(.+?)(\\.weight)?");

    private void printPlan(Quantizer.Job job, PrintWriter out) {
        int n = job.plan().size();
        int w = Integer.toString(n).length();
        int nameWidth = job.plan().stream().mapToInt(p -> p.input().name().length()).max().orElse(20);
        for (int i = 0; i < n; i++) {
            TensorPlan p = job.plan().get(i);
            out.printf(Locale.ROOT, "[%" + w + "d/%d] %-" + nameWidth + "s %-6s %-16s %10s -> %10s %-6s %s%n", i + 1, n,
                    p.input().name(), p.input().type(), shape(p.input().ne()), Format.bytes(p.input().byteSize()),
                    Format.bytes(p.outputBytes()), p.outputType(), p.converts() ? p.reason() : "copied: " + p.reason());
        }
        // one line per layer: the type of each weight
        Map<Integer, Map<String, GgmlType>> layers = new TreeMap<>();
        Map<Integer, Long> bytes = new TreeMap<>();
        for (TensorPlan p : job.plan()) {
            Matcher m = LAYER.matcher(p.input().name());
            if (m.matches()) {
                int layer = Integer.parseInt(m.group(1));
                bytes.merge(layer, p.outputBytes(), Long::sum);
                if (p.input().dims() >= 2) {
                    layers.computeIfAbsent(layer, k -> new LinkedHashMap<>()).put(m.group(2), p.outputType());
                }
            }
        }
        if (!layers.isEmpty()) {
            List<String> columns = new ArrayList<>();
            layers.values().forEach(t -> t.keySet().forEach(k -> {
                if (!columns.contains(k)) {
                    columns.add(k);
                }
            }));
            out.println();
            StringBuilder header = new StringBuilder("  layer mix    ");
            columns.forEach(c -> header.append(String.format(Locale.ROOT, " %-11s", c)));
            out.println(header.append("      bytes"));
            layers.forEach((layer, types) -> {
                StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %5d %-7s", layer,
                        job.recipe().mixFor(layer).name()));
                columns.forEach(c -> line.append(String.format(Locale.ROOT, " %-11s",
                        types.containsKey(c) ? types.get(c).name() : "-")));
                out.println(line.append(String.format(Locale.ROOT, " %10s", Format.bytes(bytes.get(layer)))));
            });
        }
        out.println();
        Map<GgmlType, long[]> perType = new TreeMap<>();
        for (TensorPlan p : job.plan()) {
            long[] s = perType.computeIfAbsent(p.outputType(), k -> new long[2]);
            s[0]++;
            s[1] += p.outputBytes();
        }
        StringBuilder types = new StringBuilder("types:");
        perType.forEach((t, s) -> types.append(String.format(Locale.ROOT, " %s %d (%s);", t, s[0], Format.bytes(s[1]))));
        out.println(types.substring(0, types.length() - 1));
        out.printf(Locale.ROOT, "tensor data: %s -> %s (%.2f bits per weight), general.file_type %s%n",
                Format.bytes(job.inputTensorBytes()), Format.bytes(job.outputTensorBytes()), job.bitsPerWeight(),
                job.recipe().base().fileType());
    }

    private static String shape(long[] ne) {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < ne.length; i++) {
            sb.append(i > 0 ? ", " : "").append(ne[i]);
        }
        return sb.append(']').toString();
    }

    private Map<String, Object> toJson(Quantizer.Job job, Quantizer.Result r) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("input", input.toString());
        j.put("output", output.toString());
        j.put("dry_run", r == null);
        j.put("type", job.recipe().name());
        j.put("recipe", job.recipe().describe());
        j.put("file_type", job.recipe().base().fileType().name());
        j.put("tensors", job.plan().size());
        j.put("converted", job.converted());
        j.put("parameters", job.parameters());
        j.put("input_tensor_bytes", job.inputTensorBytes());
        j.put("output_tensor_bytes", job.outputTensorBytes());
        j.put("bits_per_weight", Math.round(job.bitsPerWeight() * 1000) / 1000.0);
        if (r != null) {
            j.put("file_bytes", r.fileBytes());
            j.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
            j.put("input_mb_per_second", Math.round(r.inputMBps() * 10) / 10.0);
        }
        List<Object> plan = new ArrayList<>();
        for (TensorPlan p : job.plan()) {
            Map<String, Object> t = new LinkedHashMap<>();
            t.put("name", p.input().name());
            t.put("layer", QuantPlanner.layerOf(p.input().name()));
            t.put("shape", p.input().ne());
            t.put("from", p.input().type().name());
            t.put("to", p.outputType().name());
            t.put("bytes", p.outputBytes());
            t.put("reason", p.reason());
            plan.add(t);
        }
        j.put("plan", plan);
        return j;
    }
}
