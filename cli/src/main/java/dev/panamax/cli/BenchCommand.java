package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.Throughput;
import dev.panamax.engine.synthetic.SyntheticModels;
import dev.panamax.gguf.FileType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.kernels.VectorShapes;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panamax bench}: prompt-processing and generation speed of a model, llama-bench style. Each
 * test runs {@code -r} times after an untimed warm-up ({@code --warmup}, three seconds) of the same
 * kind of work (the JIT compiles the kernels meanwhile); the table shows the mean and standard deviation
 * of tokens per second.
 */
@Command(name = "bench", sortOptions = false,
        description = {"Measure prompt processing (pp) and generation (tg) speed, like llama-bench.",
            "Lists (-p 64,512) run every combination. Token ids are random; no text is decoded."},
        subcommands = {KernelBenchCommand.class})
final class BenchCommand implements Callable<Integer> {

    static final class Source {
        @Option(names = {"-m", "--model"}, paramLabel = "MODEL.gguf", description = "GGUF model to measure.")
        Path model;

        @Option(names = "--synthetic", paramLabel = "NAME:TYPE",
                description = {"Random-weight model with a known model's exact shapes and quantization mix, built once"
                    + " and cached, e.g. deepseek-r1-distill-qwen-14b:Q4_K_M, deepseek-r1-distill-qwen-14b:Q4_K_H,"
                    + " deepseek-r1-distill-qwen-1.5b:Q4_K_M, qwen3-0.6b:Q8_0."})
        String synthetic;
    }

    @ArgGroup(exclusive = true)
    Source source;

    @Option(names = "--cache-dir", paramLabel = "DIR",
            description = "Where --synthetic models are kept (default: $XDG_CACHE_HOME or ~/.cache, /panamax/synthetic).")
    Path cacheDir;

    @Option(names = {"-p", "--n-prompt"}, paramLabel = "N", split = ",", defaultValue = "512",
            description = "Prompt lengths to time (0 skips; default: ${DEFAULT-VALUE}).")
    List<Integer> prompt;

    @Option(names = {"-n", "--n-gen"}, paramLabel = "N", split = ",", defaultValue = "128",
            description = "Generation lengths to time (0 skips; default: ${DEFAULT-VALUE}).")
    List<Integer> gen;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", split = ",",
            description = "Thread counts (default: physical cores).")
    List<Integer> threads;

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", defaultValue = "5",
            description = "Timed repetitions of each test (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = {"-d", "--n-depth"}, paramLabel = "N", split = ",", defaultValue = "0",
            description = "Tokens already in the KV cache when the test starts (default: ${DEFAULT-VALUE}).")
    List<Integer> depth;

    @Option(names = {"-ctk", "--cache-type-k"}, paramLabel = "TYPE", split = ",", defaultValue = "f16",
            description = "KV cache key types (default: ${DEFAULT-VALUE}).")
    List<String> cacheTypeK;

    @Option(names = {"-ctv", "--cache-type-v"}, paramLabel = "TYPE", description = "KV cache value type (default: as -ctk).")
    String cacheTypeV;

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", defaultValue = "512",
            description = "Prompt tokens per forward call, at most 256 on the CPU and 512 on a GPU (default: ${DEFAULT-VALUE}).")
    int batch;

    @Mixin
    GpuOptions gpu;

    @Option(names = {"-md", "--model-draft"}, paramLabel = "DRAFT.gguf",
            description = "Speculative decoding: greedy generation of -n tokens from --spec-prompt with each --draft length"
                    + " (instead of the pp/tg tests).")
    Path draftModel;

    @Option(names = "--draft", paramLabel = "N", split = ",", defaultValue = "0,1,2,3,4",
            description = "Draft block lengths to compare with -md; 0 is the run without a draft (default: ${DEFAULT-VALUE}).")
    List<Integer> draftLengths;

    @Option(names = "--spec-prompt", paramLabel = "TEXT",
            defaultValue = "And it came to pass, when the king heard the words of the book of the law, that he",
            description = "Prompt of the -md test (raw text, no chat template).")
    String specPrompt;

    @Option(names = "--verify", paramLabel = "N", split = ",",
            description = "Verification cost: time one forward pass of N+1 tokens against a single-token decode, at each -d depth"
                    + " (instead of the pp/tg tests).")
    List<Integer> verify;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "3",
            description = "Untimed warm-up per test, while the JIT compiles the kernels (default: ${DEFAULT-VALUE}).")
    double warmup;

    @Option(names = "--json", description = "Print the results as JSON instead of a table.")
    boolean json;

    @Spec
    CommandSpec spec;

    /** One timed test's result. */
    record Result(String test, int threads, String cacheK, String cacheV, int depth, int nPrompt, int nGen,
            double[] tokensPerSecond) {
        double mean() {
            return Throughput.mean(tokensPerSecond);
        }

        double stddev() {
            return Throughput.stddev(tokensPerSecond);
        }
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (reps < 1) {
            throw new PanamaxException("-r/--repetitions must be at least 1, got " + reps);
        }
        if (source == null) {
            throw new PanamaxException("no model: pass -m MODEL.gguf or --synthetic NAME:TYPE (or run 'panamax bench kernels')");
        }
        Path file = modelFile(err);
        List<Integer> threadList = threads == null || threads.isEmpty() ? List.of(Cpus.physicalCores()) : threads;
        for (int t : threadList) {
            if (t < 1) {
                throw new PanamaxException("-t/--threads must be at least 1, got " + t);
            }
        }
        for (List<Integer> l : List.of(prompt, gen, depth)) {
            for (int v : l) {
                if (v < 0) {
                    throw new PanamaxException("-p, -n and -d take counts of 0 or more, got " + v);
                }
            }
        }
        int maxPrompt = prompt.stream().mapToInt(Integer::intValue).max().orElse(0);
        int maxGen = gen.stream().mapToInt(Integer::intValue).max().orElse(0);
        int maxDepth = depth.stream().mapToInt(Integer::intValue).max().orElse(0);
        int context = maxDepth + Math.max(maxPrompt, maxGen) + 1;
        List<Result> results = new ArrayList<>();
        try (Model model = Model.open(file)) {
            if (draftModel != null || verify != null) {
                return speculative(model, modelName(model), file, model.file().fileBytes(), model.file().parameterCount(),
                        threadList.get(0), out, err);
            }
            if (context > model.config().trainedContext() && model.config().trainedContext() > 0) {
                err.println("panamax: note: depth + test length " + context + " exceeds the model's trained context "
                        + model.config().trainedContext());
            }
            String name = modelName(model);
            long size = model.file().fileBytes();
            long params = model.file().parameterCount();
            TablePrinter table = json ? null : new TablePrinter(out, name, size, params);
            for (String ctk : cacheTypeK) {
                GgmlType kType = ModelOptions.cacheType("-ctk", ctk);
                GgmlType vType = ModelOptions.cacheType("-ctv", cacheTypeV != null ? cacheTypeV : ctk);
                for (int t : threadList) {
                    SessionOptions opts = new SessionOptions(context, batch, kType, vType, t).withBackend(gpu.backendOptions());
                    try (Session session = model.newSession(opts)) {
                        GpuOptions.report(session, err);
                        for (int d : depth) {
                            for (int p : prompt) {
                                if (p > 0) {
                                    Result r = run(session, "pp" + p, t, kType, vType, d, p, 0);
                                    results.add(r);
                                    if (table != null) {
                                        table.row(r);
                                    }
                                }
                            }
                            for (int n : gen) {
                                if (n > 0) {
                                    Result r = run(session, "tg" + n, t, kType, vType, d, 0, n);
                                    results.add(r);
                                    if (table != null) {
                                        table.row(r);
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if (json) {
                out.println(Json.pretty(toJson(name, file, size, params, results)));
            } else {
                out.println();
                out.println("panamax " + Panamax.versionString() + ", " + VectorShapes.describe() + ", Java "
                        + Runtime.version().feature() + ", " + Runtime.getRuntime().availableProcessors() + " CPUs");
            }
            out.flush();
        }
        return 0;
    }

    /** The -md and --verify tests (see {@link SpecBench}). */
    private int speculative(Model model, String name, Path file, long size, long params, int threads,
            PrintWriter out, PrintWriter err) {
        GgmlType kType = ModelOptions.cacheType("-ctk", cacheTypeK.get(0));
        GgmlType vType = ModelOptions.cacheType("-ctv", cacheTypeV != null ? cacheTypeV : cacheTypeK.get(0));
        int nGen = gen.get(0);
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("model", name);
        j.put("file", file.toString());
        j.put("size_bytes", size);
        j.put("params", params);
        j.put("threads", threads);
        List<Map<String, Object>> rs = new ArrayList<>();
        if (verify != null) {
            for (int v : verify) {
                if (v < 1) {
                    throw new PanamaxException("--verify takes draft lengths of 1 or more, got " + v);
                }
            }
            int maxVerify = verify.stream().mapToInt(Integer::intValue).max().orElse(1) + 1;
            int maxDepth = depth.stream().mapToInt(Integer::intValue).max().orElse(0);
            try (Session session = model.newSession(new SessionOptions(maxDepth + maxVerify + 1, batch, kType, vType, threads)
                    .withBackend(gpu.backendOptions()))) {
                GpuOptions.report(session, err);
                for (int d : depth) {
                    List<SpecBench.VerifyRow> rows = SpecBench.verification(session, verify, d, reps, warmup);
                    rows.forEach(r -> rs.add(SpecBench.verifyJson(r)));
                    if (!json) {
                        SpecBench.printVerify(out, name, rows);
                        out.flush();
                    }
                }
            }
        }
        if (draftModel != null) {
            if (!Files.isRegularFile(draftModel)) {
                throw new PanamaxException(draftModel + ": no such file (-md)");
            }
            for (int n : draftLengths) {
                if (n < 0) {
                    throw new PanamaxException("--draft takes lengths of 0 or more, got " + n);
                }
            }
            if (nGen < 1) {
                throw new PanamaxException("-n must be at least 1 for the -md test");
            }
            int promptTokens = model.tokenizer().encode(specPrompt, model.tokenizer().addBos(), false).length;
            int ctx = promptTokens + nGen + draftLengths.stream().mapToInt(Integer::intValue).max().orElse(0) + 2;
            try (Model draft = Model.open(draftModel);
                    Session session = model.newSession(new SessionOptions(ctx, batch, kType, vType, threads)
                            .withBackend(gpu.backendOptions()));
                    Session draftSession = draft.newSession(new SessionOptions(ctx + 64, batch, GgmlType.F16, GgmlType.F16, threads))) {
                List<SpecBench.SpecRow> rows = SpecBench.draftLengths(model, session, draft, draftSession, draftLengths,
                        specPrompt, nGen, reps, warmup, err);
                double base = rows.stream().filter(r -> r.draft() == 0).mapToDouble(SpecBench.SpecRow::tokensPerSecond)
                        .findFirst().orElse(0);
                rows.forEach(r -> rs.add(SpecBench.specJson(r, base)));
                j.put("draft_model", draftModel.toString());
                if (!json) {
                    SpecBench.printSpec(out, name, draft.displayName(), nGen, rows);
                }
            }
        }
        j.put("results", rs);
        if (json) {
            out.println(Json.pretty(j));
        } else {
            out.println("panamax " + Panamax.versionString() + ", " + VectorShapes.describe() + ", Java "
                    + Runtime.version().feature() + ", " + Runtime.getRuntime().availableProcessors() + " CPUs, "
                    + threads + " threads");
        }
        out.flush();
        return 0;
    }

    private Path modelFile(PrintWriter err) throws IOException {
        if (source.model != null) {
            if (!Files.isRegularFile(source.model)) {
                throw new PanamaxException(source.model + ": no such file (-m)");
            }
            return source.model;
        }
        Path dir = cacheDir != null ? cacheDir : SyntheticModels.defaultCacheDir();
        ProgressBar bar = new ProgressBar(err, "building " + source.synthetic);
        Path f = SyntheticModels.build(source.synthetic, dir, bar::total, bar::update);
        bar.finish();
        return f;
    }

    static String modelName(Model model) {
        String arch = model.config().arch().name().toLowerCase(Locale.ROOT);
        var id = model.file().metadata().optInt(FileType.KEY);
        String type = id.isPresent() ? FileType.byId(id.getAsInt()).map(FileType::name).orElse("?") : "?";
        return model.displayName() + " (" + arch + " " + type + ")";
    }

    /** Times one test (see {@link Throughput}): an untimed warm-up, then {@code reps} repetitions. */
    private Result run(Session session, String test, int threads, GgmlType k, GgmlType v, int depth, int nPrompt,
            int nGen) {
        Throughput throughput = new Throughput(session, depth, nPrompt, nGen);
        throughput.warmUp(warmup);
        double[] tps = new double[reps];
        for (int r = 0; r < reps; r++) {
            tps[r] = throughput.tokensPerSecond();
        }
        return new Result(test, threads, k.name().toLowerCase(Locale.ROOT), v.name().toLowerCase(Locale.ROOT), depth,
                nPrompt, nGen, tps);
    }

    private static Map<String, Object> toJson(String name, Path file, long size, long params, List<Result> results) {
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("model", name);
        j.put("file", file.toString());
        j.put("size_bytes", size);
        j.put("params", params);
        j.put("vector", VectorShapes.describe());
        j.put("java", Runtime.version().toString());
        j.put("cpus", Runtime.getRuntime().availableProcessors());
        List<Map<String, Object>> rs = new ArrayList<>();
        for (Result r : results) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("test", r.test());
            m.put("threads", r.threads());
            m.put("type_k", r.cacheK());
            m.put("type_v", r.cacheV());
            m.put("n_depth", r.depth());
            m.put("n_prompt", r.nPrompt());
            m.put("n_gen", r.nGen());
            m.put("avg_ts", round(r.mean()));
            m.put("stddev_ts", round(r.stddev()));
            List<Double> samples = new ArrayList<>();
            for (double v : r.tokensPerSecond()) {
                samples.add(round(v));
            }
            m.put("samples_ts", samples);
            rs.add(m);
        }
        j.put("results", rs);
        return j;
    }

    static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }

    /** llama-bench's markdown table, printed a row at a time as results come in. */
    static final class TablePrinter {
        private final PrintWriter out;
        private final String name;
        private final long size;
        private final long params;
        private boolean header;

        TablePrinter(PrintWriter out, String name, long size, long params) {
            this.out = out;
            this.name = name;
            this.size = size;
            this.params = params;
        }

        void row(Result r) {
            if (!header) {
                out.printf(Locale.ROOT, "| %-40s | %10s | %9s | %7s | %5s | %5s | %13s | %20s |%n", "model", "size", "params",
                        "threads", "ctk", "ctv", "test", "t/s");
                out.printf(Locale.ROOT, "| %-40s | %10s | %9s | %7s | %5s | %5s | %13s | %20s |%n", "-".repeat(40),
                        "-".repeat(9) + ":", "-".repeat(8) + ":", "-".repeat(6) + ":", "-".repeat(5), "-".repeat(5),
                        "-".repeat(12) + ":", "-".repeat(19) + ":");
                header = true;
            }
            String test = r.test() + (r.depth() > 0 ? " @ d" + r.depth() : "");
            out.printf(Locale.ROOT, "| %-40s | %10s | %9s | %7d | %5s | %5s | %13s | %20s |%n", name, Format.bytes(size),
                    Format.count(params), r.threads(), r.cacheK(), r.cacheV(), test,
                    String.format(Locale.ROOT, "%.2f ± %.2f", r.mean(), r.stddev()));
            out.flush();
        }
    }

    /** A one-line progress bar on standard error for long builds. */
    static final class ProgressBar {
        private final PrintWriter err;
        private final String label;
        private long total = -1;
        private int shown = -1;
        private boolean used;

        ProgressBar(PrintWriter err, String label) {
            this.err = err;
            this.label = label;
        }

        void total(long bytes) {
            total = bytes;
        }

        void update(long done) {
            used = true;
            int pct = total > 0 ? (int) Math.min(100, done * 100 / total) : -1;
            if (pct == shown) {
                return;
            }
            shown = pct;
            int width = 30;
            int filled = pct < 0 ? 0 : pct * width / 100;
            err.print("\r" + label + " [" + "#".repeat(filled) + " ".repeat(width - filled) + "] "
                    + (pct < 0 ? Format.bytes(done) : pct + "%") + (total > 0 ? " of " + Format.bytes(total) : ""));
            err.flush();
        }

        void finish() {
            if (used) {
                err.println();
                err.flush();
            }
        }
    }
}
