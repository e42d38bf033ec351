package dev.panamax.llamacompare;

import static dev.panamax.engine.Throughput.mean;
import static dev.panamax.engine.Throughput.stddev;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.Throughput;
import dev.panamax.engine.synthetic.SyntheticModels;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * Panamax and llama.cpp on the same GGUF file in one process, test by test, their repetitions
 * interleaved (Panamax, llama.cpp, Panamax, ...) so that both see the same machine; prints each
 * one's tokens/s and Panamax's as a ratio of llama.cpp's. CPU only: the bundled llama.cpp is a CPU
 * build and the GPU plugin is not on this class path.
 */
@Command(name = "llama-compare", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Panamax against llama.cpp (de.kherud:llama's bundled CPU build) on the same GGUF file,"
                + " interleaved in one run.")
public final class LlamaCompare implements Callable<Integer> {

    static final class Source {
        @Option(names = {"-m", "--model"}, paramLabel = "MODEL", required = true, description = "GGUF file.")
        Path model;

        @Option(names = "--synthetic", paramLabel = "NAME:TYPE", required = true,
                description = "A random-weight file with a known model's shapes and mix, built once (see panamax bench).")
        String synthetic;
    }

    @ArgGroup(exclusive = true, multiplicity = "1")
    Source source;

    @Option(names = "--cache-dir", paramLabel = "DIR", description = "Where --synthetic files are kept.")
    Path cacheDir;

    @Option(names = {"-p", "--n-prompt"}, paramLabel = "N", split = ",", defaultValue = "64",
            description = "Prompt sizes (default: ${DEFAULT-VALUE}; 0 for none).")
    List<Integer> prompt;

    @Option(names = {"-n", "--n-gen"}, paramLabel = "N", split = ",", defaultValue = "16",
            description = "Generation lengths (default: ${DEFAULT-VALUE}; 0 for none).")
    List<Integer> gen;

    @Option(names = {"-d", "--depth"}, paramLabel = "N", split = ",", defaultValue = "0",
            description = "Tokens already in the cache (default: ${DEFAULT-VALUE}).")
    List<Integer> depth;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", split = ",",
            description = "Thread counts (default: the available processors).")
    List<Integer> threads;

    @Option(names = {"-r", "--repetitions"}, paramLabel = "N", defaultValue = "3",
            description = "Timed repetitions of each test for each engine (default: ${DEFAULT-VALUE}).")
    int reps;

    @Option(names = {"-ctk", "--cache-type-k"}, paramLabel = "TYPE", split = ",", defaultValue = "f16",
            description = "KV cache types, f16 or q8_0, K and V alike (default: ${DEFAULT-VALUE}).")
    List<String> cacheTypes;

    @Option(names = "--warmup", paramLabel = "SECONDS", defaultValue = "3",
            description = "Panamax's untimed warm-up per test (llama.cpp gets one untimed repetition).")
    double warmup;

    @Option(names = "--json", description = "Print the results as JSON instead of a table.")
    boolean json;

    @Spec
    CommandSpec spec;

    /** One test's figures, tokens/s per repetition. */
    record Row(String test, int threads, String cacheType, int depth, double[] panamax, double[] llamaCpp) {
        double ratio() {
            return mean(panamax) / mean(llamaCpp);
        }
    }

    public static void main(String[] args) {
        int code = execute(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true));
        // llama.cpp leaves a native thread behind that keeps the JVM from ending by itself
        System.exit(code);
    }

    static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = new CommandLine(new LlamaCompare());
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            Throwable cause = e instanceof UncheckedIOException u ? u.getCause() : e;
            commandLine.getErr().println("llama-compare: error: " + (cause instanceof PanamaxException
                    ? cause.getMessage() : cause.getClass().getSimpleName() + ": " + cause.getMessage()));
            commandLine.getErr().flush();
            return 1;
        });
        return cl.execute(args);
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (reps < 1) {
            throw new PanamaxException("-r/--repetitions must be at least 1, got " + reps);
        }
        List<Integer> threadList = threads == null || threads.isEmpty()
                ? List.of(Runtime.getRuntime().availableProcessors()) : threads;
        for (List<Integer> l : List.of(prompt, gen, depth, threadList)) {
            for (int v : l) {
                if (v < 0 || (l == threadList && v < 1)) {
                    throw new PanamaxException("-p, -n and -d take counts of 0 or more and -t of 1 or more, got " + v);
                }
            }
        }
        Path file = modelFile(err);
        int maxTest = Math.max(prompt.stream().mapToInt(i -> i).max().orElse(0), gen.stream().mapToInt(i -> i).max().orElse(0));
        int context = depth.stream().mapToInt(i -> i).max().orElse(0) + maxTest + 2;
        List<Row> rows = new ArrayList<>();
        try (Model model = Model.open(file)) {
            String name = model.displayName();
            if (!json) {
                out.printf(Locale.ROOT, "%s (%s), Panamax and llama.cpp (de.kherud:llama 4.2.0, CPU build) interleaved,"
                        + " %d repetition(s) each%n%n", name, file, reps);
                out.printf(Locale.ROOT, "| %7s | %5s | %13s | %18s | %18s | %6s |%n", "threads", "ctk", "test",
                        "panamax t/s", "llama.cpp t/s", "ratio");
                out.printf(Locale.ROOT, "| %7s | %5s | %13s | %18s | %18s | %6s |%n", "-".repeat(6) + ":", "-".repeat(5),
                        "-".repeat(12) + ":", "-".repeat(17) + ":", "-".repeat(17) + ":", "-".repeat(5) + ":");
                out.flush();
            }
            for (String ctk : cacheTypes) {
                String ct = ctk.toLowerCase(Locale.ROOT);
                GgmlType kv = switch (ct) {
                    case "f16" -> GgmlType.F16;
                    case "q8_0" -> GgmlType.Q8_0;
                    default -> throw new PanamaxException("-ctk: f16 or q8_0, got " + ctk);
                };
                for (int t : threadList) {
                    try (Session session = model.newSession(new SessionOptions(context, 512, kv, kv, t));
                            LlamaCpp llama = new LlamaCpp(file, t, context, kv)) {
                        for (int d : depth) {
                            for (int p : prompt) {
                                if (p > 0) {
                                    rows.add(row(out, "pp" + p, t, ct, d, new Throughput(session, d, p, 0), llama.test(d, p, 0)));
                                }
                            }
                            for (int n : gen) {
                                if (n > 0) {
                                    rows.add(row(out, "tg" + n, t, ct, d, new Throughput(session, d, 0, n), llama.test(d, 0, n)));
                                }
                            }
                        }
                    }
                }
            }
            if (json) {
                out.println(toJson(name, file, rows));
            }
            out.flush();
        }
        return 0;
    }

    private Row row(PrintWriter out, String test, int threads, String cacheType, int depth, Throughput panamax,
            LlamaCpp.Test llama) {
        panamax.warmUp(warmup);
        llama.warmUp();
        double[] ours = new double[reps];
        double[] theirs = new double[reps];
        for (int r = 0; r < reps; r++) {
            ours[r] = panamax.tokensPerSecond();
            theirs[r] = llama.tokensPerSecond();
        }
        Row row = new Row(test, threads, cacheType, depth, ours, theirs);
        if (!json) {
            out.printf(Locale.ROOT, "| %7d | %5s | %13s | %18s | %18s | %6.2f |%n", threads, cacheType,
                    test + (depth > 0 ? " @ d" + depth : ""), meanSd(ours), meanSd(theirs), row.ratio());
            out.flush();
        }
        return row;
    }

    private Path modelFile(PrintWriter err) throws IOException {
        if (source.model != null) {
            if (!Files.isRegularFile(source.model)) {
                throw new PanamaxException(source.model + ": no such file (-m)");
            }
            return source.model;
        }
        Path dir = cacheDir != null ? cacheDir : SyntheticModels.defaultCacheDir();
        long[] total = {1};
        int[] shown = {-1};
        Path f = SyntheticModels.build(source.synthetic, dir, t -> total[0] = Math.max(1, t), done -> {
            int pct = (int) (100 * done / total[0]);
            if (pct / 10 != shown[0] / 10) {
                shown[0] = pct;
                err.println("building " + source.synthetic + ": " + pct + "%");
                err.flush();
            }
        });
        return f;
    }


    private static String meanSd(double[] v) {
        return String.format(Locale.ROOT, "%.2f ± %.2f", mean(v), stddev(v));
    }

    private static String toJson(String name, Path file, List<Row> rows) {
        StringBuilder j = new StringBuilder();
        j.append("{\n  \"model\": ").append(quote(name)).append(",\n  \"file\": ").append(quote(file.toString()))
                .append(",\n  \"reference\": \"llama.cpp via de.kherud:llama 4.2.0 (bundled CPU build)\",\n  \"results\": [");
        for (int i = 0; i < rows.size(); i++) {
            Row r = rows.get(i);
            j.append(i == 0 ? "\n" : ",\n").append(String.format(Locale.ROOT,
                    "    {\"test\": %s, \"threads\": %d, \"cache_type\": %s, \"depth\": %d, \"panamax_tps\": %.3f,"
                            + " \"panamax_sd\": %.3f, \"llama_cpp_tps\": %.3f, \"llama_cpp_sd\": %.3f, \"ratio\": %.4f}",
                    quote(r.test()), r.threads(), quote(r.cacheType()), r.depth(), mean(r.panamax()), stddev(r.panamax()),
                    mean(r.llamaCpp()), stddev(r.llamaCpp()), r.ratio()));
        }
        return j.append("\n  ]\n}").toString();
    }

    private static String quote(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        return b.append('"').toString();
    }
}
