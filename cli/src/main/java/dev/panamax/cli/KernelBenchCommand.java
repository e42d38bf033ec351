package dev.panamax.cli;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.kernels.KernelBench;
import dev.panamax.kernels.Kernels;
import dev.panamax.kernels.VectorShapes;
import dev.panamax.kernels.WorkerPool;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panamax bench kernels}: weight-streaming speed of the matrix kernels at a 14B model's
 * shapes, next to the memory bandwidth measured in the same run.
 */
@Command(name = "kernels", sortOptions = false,
        description = {"Measure the matrix kernels: GB/s of weights and GFLOP/s for matvec (1 token) and matmul",
            "(several tokens) at DeepSeek-R1-Distill-Qwen-14B's shapes, with this machine's memory read and copy",
            "bandwidth from the same run."})
final class KernelBenchCommand implements Callable<Integer> {
    @Option(names = "--types", paramLabel = "TYPE", split = ",", defaultValue = "Q3_K,Q4_K,Q5_K,Q6_K,Q8_0",
            description = "Weight types (default: ${DEFAULT-VALUE}).")
    List<String> types;

    @Option(names = "--shapes", paramLabel = "ROWSxCOLS[,...]", split = ",",
            defaultValue = "5120x5120,13824x5120,5120x13824,1024x5120,152064x5120",
            description = "Matrix shapes, output rows x input columns (default: the 14B model's q/o, gate/up, down,"
                    + " k/v and output head: ${DEFAULT-VALUE}).")
    List<String> shapes;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", split = ",",
            description = "Thread counts (default: 1 and the physical cores).")
    List<Integer> threads;

    @Option(names = "--tokens", paramLabel = "N", split = ",", defaultValue = "1,32",
            description = "Tokens per product: 1 is matvec (generation), more is matmul (prompts) (default: ${DEFAULT-VALUE}).")
    List<Integer> tokens;

    @Option(names = "--seconds", paramLabel = "S", defaultValue = "1",
            description = "Timed seconds per measurement (default: ${DEFAULT-VALUE}).")
    double seconds;

    @Option(names = "--json", description = "Print the results as JSON.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        List<GgmlType> typeList = new ArrayList<>();
        for (String t : types) {
            GgmlType g = GgmlType.byName(t).orElseThrow(() -> new PanamaxException("--types: unknown type '" + t + "'"));
            Kernels.of(g);
            typeList.add(g);
        }
        List<int[]> shapeList = new ArrayList<>();
        for (String s : shapes) {
            String[] rc = s.toLowerCase(Locale.ROOT).split("x");
            try {
                shapeList.add(new int[] {Integer.parseInt(rc[0].strip()), Integer.parseInt(rc[1].strip())});
            } catch (RuntimeException e) {
                throw new PanamaxException("--shapes: expected ROWSxCOLS, got '" + s + "'");
            }
        }
        TreeSet<Integer> threadSet = new TreeSet<>(threads == null || threads.isEmpty()
                ? List.of(1, Cpus.physicalCores()) : threads);
        for (int t : threadSet) {
            if (t < 1) {
                throw new PanamaxException("-t/--threads must be at least 1, got " + t);
            }
        }
        for (int t : tokens) {
            if (t < 1) {
                throw new PanamaxException("--tokens must be at least 1, got " + t);
            }
        }
        Map<String, Object> j = new LinkedHashMap<>();
        j.put("vector", VectorShapes.describe());
        j.put("cpus", Runtime.getRuntime().availableProcessors());
        List<Map<String, Object>> memory = new ArrayList<>();
        List<Map<String, Object>> kernels = new ArrayList<>();
        if (!json) {
            out.println("panamax " + Panamax.versionString() + ", " + VectorShapes.describe() + ", "
                    + Runtime.getRuntime().availableProcessors() + " CPUs");
            out.println();
            out.printf(Locale.ROOT, "| %-22s | %7s | %24s |%n", "memory (512 MiB)", "threads", "GB/s median [min-max]");
            out.printf(Locale.ROOT, "| %-22s | %7s | %24s |%n", "-".repeat(22), "-".repeat(6) + ":", "-".repeat(23) + ":");
        }
        Map<Integer, Double> readBw = new LinkedHashMap<>();
        for (int t : threadSet) {
            try (WorkerPool pool = new WorkerPool(t)) {
                KernelBench.Stat read = KernelBench.readBandwidth(512L << 20, pool, seconds);
                KernelBench.Stat copy = KernelBench.copyBandwidth(512L << 20, pool, seconds);
                readBw.put(t, read.median());
                for (var e : List.of(Map.entry("read", read), Map.entry("copy (read+write)", copy))) {
                    if (json) {
                        Map<String, Object> m = new LinkedHashMap<>();
                        m.put("test", e.getKey().startsWith("copy") ? "copy" : "read");
                        m.put("threads", t);
                        put(m, "gbps", e.getValue());
                        memory.add(m);
                    } else {
                        out.printf(Locale.ROOT, "| %-22s | %7d | %24s |%n", e.getKey(), t, fmt(e.getValue()));
                        out.flush();
                    }
                }
            }
        }
        if (!json) {
            out.println();
            out.printf(Locale.ROOT, "| %-5s | %-13s | %8s | %7s | %6s | %24s | %8s | %24s |%n", "type", "rows x cols", "MB",
                    "threads", "tokens", "GB/s median [min-max]", "of read", "GFLOP/s median [min-max]");
            out.printf(Locale.ROOT, "| %-5s | %-13s | %8s | %7s | %6s | %24s | %8s | %24s |%n", "-".repeat(5), "-".repeat(13),
                    "-".repeat(7) + ":", "-".repeat(6) + ":", "-".repeat(5) + ":", "-".repeat(23) + ":", "-".repeat(7) + ":",
                    "-".repeat(23) + ":");
        }
        for (GgmlType type : typeList) {
            for (int[] shape : shapeList) {
                for (int tok : tokens) {
                    try (KernelBench.Case c = new KernelBench.Case(type, shape[0], shape[1], tok)) {
                        for (int t : threadSet) {
                            try (WorkerPool pool = new WorkerPool(t)) {
                                KernelBench.Result r = KernelBench.measure(c, pool, seconds);
                                double ofRead = r.gbps().median() / readBw.get(t);
                                if (json) {
                                    Map<String, Object> m = new LinkedHashMap<>();
                                    m.put("type", type.name());
                                    m.put("rows", shape[0]);
                                    m.put("cols", shape[1]);
                                    m.put("bytes", r.bytes());
                                    m.put("threads", t);
                                    m.put("tokens", tok);
                                    put(m, "gbps", r.gbps());
                                    put(m, "gflops", r.gflops());
                                    m.put("fraction_of_read_bandwidth", BenchCommand.round(ofRead));
                                    kernels.add(m);
                                } else {
                                    out.printf(Locale.ROOT, "| %-5s | %-13s | %8.1f | %7d | %6d | %24s | %7.0f%% | %24s |%n",
                                            type, shape[0] + "x" + shape[1], r.bytes() / 1e6, t, tok, fmt(r.gbps()),
                                            100 * ofRead, fmt(r.gflops()));
                                    out.flush();
                                }
                            }
                        }
                    }
                }
            }
        }
        if (json) {
            j.put("memory", memory);
            j.put("kernels", kernels);
            out.println(Json.pretty(j));
        }
        out.flush();
        return 0;
    }

    private static void put(Map<String, Object> m, String key, KernelBench.Stat s) {
        m.put(key, BenchCommand.round(s.median()));
        m.put(key + "_min", BenchCommand.round(s.min()));
        m.put(key + "_max", BenchCommand.round(s.max()));
    }

    private static String fmt(KernelBench.Stat s) {
        return String.format(Locale.ROOT, "%.2f [%.2f-%.2f]", s.median(), s.min(), s.max());
    }
}
