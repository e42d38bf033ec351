package dev.panamax.gpu;

import dev.panamax.engine.Model;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.backend.Backend;
import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.engine.backend.Backends;
import dev.panamax.engine.backend.Detection;
import dev.panamax.engine.quantize.Quantizer;
import dev.panamax.engine.quantize.Recipes;
import dev.panamax.engine.synthetic.SyntheticModels;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Stream;

/**
 * The GPU check run by gpu-plugin/device-check.sh on a machine with an NVIDIA GPU:
 * <ol>
 *   <li>checks: per-type kernel checks against the CPU kernels, kernel speeds, whole-model checks
 *       (every reference fixture with all layers, a partial -ngl split and a --vram-limit split, each
 *       KV cache type; a synthetic 1.5B model with 10 of 28 layers), detection through ServiceLoader;
 *   <li>bench: synthetic 14B Q4_K_H / Q4_K_M and Qwen3-0.6B Q8_0 files made on the machine, pp512 and
 *       tg128 fully offloaded (F16 and Q8_0 KV) and with --vram-limit 6GiB, against llama.cpp's numbers.
 * </ol>
 * Every result is a PASS/FAIL line or a table row, printed and appended to OUT/gpu-report.txt. A
 * watchdog ends the run (with a FAIL line) if one step hangs or the deadline passes.
 *
 * <p>usage: DeviceCheck [all|checks|kernels|bench] [--out DIR] [--models DIR] [--fixtures DIR] [--deadline-s N]
 *     [--bench SPEC,SPEC (only these synthetic models, all layers, F16 KV)]
 */
public final class DeviceCheck {
    /** What a run covers; {@link #device()} on a GPU, smaller for the emulator's smoke test. */
    record Plan(List<GgmlType> kernelTypes, int kernelRows, int kernelK, int[] vecTokens, int[] mmTokens, boolean speeds,
            String fixtureFilter, String syntheticCheck, int syntheticLayers, int benchPrompt, int benchGen,
            List<String> benchSpecs) {
        static Plan device() {
            return new Plan(List.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0,
                    GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K,
                    GgmlType.IQ4_NL, GgmlType.IQ4_XS), 521, 2048, new int[] {1, 2, 5, 8}, new int[] {9, 64, 130, 300}, true,
                    "", "deepseek-r1-distill-qwen-1.5b:Q4_K_M", 28, 512, 128, List.of());
        }

        /** This plan benchmarking only {@code specs} (all layers, F16 KV), or as it is when empty. */
        Plan benchOnly(List<String> specs) {
            return specs.isEmpty() ? this : new Plan(kernelTypes, kernelRows, kernelK, vecTokens, mmTokens, speeds,
                    fixtureFilter, syntheticCheck, syntheticLayers, benchPrompt, benchGen, specs);
        }
    }

    private static volatile String activity = "start";
    private static volatile long activitySince = System.nanoTime();
    private static volatile long activityLimit = 300;
    private static final long START = System.nanoTime();
    private static long deadline = 540;
    private static Report report;

    private DeviceCheck() {}

    static void step(String what, long limitSeconds) {
        activity = what;
        activitySince = System.nanoTime();
        activityLimit = limitSeconds;
    }

    static double elapsed() {
        return (System.nanoTime() - START) / 1e9;
    }

    /** Whether {@code seconds} more fit before the deadline; prints a SKIP line when not. */
    static boolean fits(String what, double seconds) {
        if (elapsed() + seconds <= deadline) {
            return true;
        }
        report.printf("SKIP %s: needs about %.0f s, %.0f s left before the deadline", what, seconds, deadline - elapsed());
        return false;
    }

    public static void main(String[] args) throws Exception {
        String mode = "all";
        Path out = Path.of(System.getenv().getOrDefault("OUT", "device-check-out"));
        Path models = Path.of("/tmp/panamax-models");
        Path fixtures = Path.of("engine/src/test/resources/fixtures");
        List<String> benchOnly = List.of();
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--models" -> models = Path.of(args[++i]);
                case "--fixtures" -> fixtures = Path.of(args[++i]);
                case "--deadline-s" -> deadline = Long.parseLong(args[++i]);
                case "--bench" -> benchOnly = List.of(args[++i].split(","));
                default -> mode = args[i];
            }
        }
        Files.createDirectories(out);
        report = new Report(System.out, out.resolve("gpu-report.txt"));
        Thread dog = new Thread(DeviceCheck::watch, "watchdog");
        dog.setDaemon(true);
        dog.start();
        int cores = Runtime.getRuntime().availableProcessors();
        report.printf("panamax device check (%s): Java %s, %d cores, deadline %d s", mode, Runtime.version(), cores, deadline);
        JcudaGpu gpu;
        try {
            step("open the device", 120);
            gpu = JcudaGpu.open(0);
        } catch (Throwable e) {
            String m = String.valueOf(e.getMessage());
            report.check(false, "open CUDA device 0", CudaBackendProvider.reason(e) + " (" + e.getClass().getSimpleName() + ": "
                    + m.lines().reduce((a, b) -> b.contains("cannot open") || b.contains("CUDA_ERROR") ? b : a).orElse(m) + ")");
            report.summary();
            System.exit(1);
            return;
        }
        report.printf("device: %s, sm_%d, %.1f GiB, %.1f GiB free, driver %s", gpu.name(), gpu.capability(),
                gpu.totalBytes() / 1073741824.0, gpu.freeBytes() / 1073741824.0, gpu.driverVersion());
        step("load the kernels", 120);
        long t0 = System.nanoTime();
        try {
            gpu.kernel("rmsnorm");
            report.check(true, "kernel module loaded", String.format(Locale.ROOT, "%.1f s (%s)",
                    (System.nanoTime() - t0) / 1e9, (gpu.capability() == 90 ? "sm_90 cubin" : "PTX, JIT-compiled")
                    + (gpu.dependentLaunches() ? "; decode kernels launched as programmatic dependents" : "")));
        } catch (RuntimeException e) {
            report.error("kernel module loaded", e);
            report.summary();
            System.exit(1);
        }
        run(gpu, mode, Plan.device().benchOnly(benchOnly), fixtures, models, cores);
        report.summary();
        System.out.flush();
        Runtime.getRuntime().halt(report.failures().isEmpty() ? 0 : 1);
    }

    /** Where results go and when the run must end (the smoke test sets these without main). */
    static void init(Report r, long deadlineSeconds) {
        report = r;
        deadline = deadlineSeconds;
    }

    /** The checks and/or benchmark on a device (the emulator in tests). */
    static void run(Gpu gpu, String mode, Plan plan, Path fixtures, Path models, int cores) {
        if (!List.of("all", "checks", "kernels", "bench").contains(mode)) {
            throw new IllegalArgumentException("mode must be all, checks, kernels or bench, got " + mode);
        }
        Backend backend = new CudaBackend(gpu, true);
        boolean kernelsOnly = mode.equals("kernels");
        boolean checks = mode.equals("all") || mode.equals("checks") || kernelsOnly;
        boolean bench = mode.equals("all") || mode.equals("bench");
        // synthetic models are written in the background while the checks run
        ExecutorService gen = Executors.newFixedThreadPool(3);
        Map<String, CompletableFuture<Path>> files = new LinkedHashMap<>();
        List<String> specs = new ArrayList<>();
        if (checks && !kernelsOnly && plan.syntheticCheck() != null) {
            specs.add(plan.syntheticCheck());  // first: the checks wait for it
        }
        if (bench) {
            specs.addAll(plan.benchSpecs().isEmpty() ? List.of("deepseek-r1-distill-qwen-14b:Q4_K_H", "qwen3-0.6b:Q8_0",
                    "deepseek-r1-distill-qwen-14b:Q4_K_M") : plan.benchSpecs());
        }
        Path dir = models;
        for (String spec : new java.util.LinkedHashSet<>(specs)) {
            files.put(spec, CompletableFuture.supplyAsync(() -> {
                long s = System.nanoTime();
                try {
                    Path p = SyntheticModels.build(spec, dir, b -> {});
                    report.printf("made %s: %.2f GB in %.0f s", p.getFileName(), Files.size(p) / 1e9, (System.nanoTime() - s) / 1e9);
                    return p;
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, gen));
        }
        // the device's read bandwidth, measured once for the kernel speeds and the bench rows (on a
        // real device: the emulator's figure would mean nothing)
        double read = Double.NaN;
        if (plan.speeds()) {
            step("read bandwidth", 30);
            try {
                read = new KernelCheck(gpu, report).readBandwidth(4L << 30, 5);
            } catch (RuntimeException e) {
                report.error("read bandwidth", e);
            }
        }
        if (checks) {
            runChecks(gpu, backend, plan, fixtures, plan.syntheticCheck() == null ? null : files.get(plan.syntheticCheck()),
                    cores, kernelsOnly, read);
        }
        if (bench) {
            runBench(backend, plan, files, cores, read);
        }
        gen.shutdownNow();
        int gf = CudaLayers.GRAPH_FAILURES.get();
        report.check(gf == 0, "decode steps recorded as graphs", gf == 0 ? "" : gf + " recordings failed, steps ran kernel"
                + " by kernel (last: " + CudaLayers.lastGraphFailure + ")");
        report.printf("done in %.0f s", elapsed());
    }

    private static void watch() {
        while (true) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            double busy = (System.nanoTime() - activitySince) / 1e9;
            String why = null;
            if (busy > activityLimit) {
                why = activity + ": no progress in " + (long) busy + " s (a hang?)";
            } else if (elapsed() > deadline + 15) {
                why = "deadline of " + deadline + " s passed during " + activity;
            }
            if (why != null) {
                report.check(false, "watchdog", why);
                for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
                    if (e.getKey().getName().equals("main")) {
                        StringBuilder sb = new StringBuilder("main thread:");
                        for (int i = 0; i < Math.min(12, e.getValue().length); i++) {
                            sb.append("\n    at ").append(e.getValue()[i]);
                        }
                        report.line(sb.toString());
                    }
                }
                report.summary();
                Runtime.getRuntime().halt(3);
            }
        }
    }

    private static void runChecks(Gpu gpu, Backend backend, Plan plan, Path fixtures, CompletableFuture<Path> synthetic,
            int cores, boolean kernelsOnly, double readGBs) {
        if (gpu instanceof JcudaGpu) {
            step("detection", 120);
            Detection d = Backends.detect(BackendOptions.auto());
            report.check(d.backend().isPresent(), "detection through ServiceLoader", d.message());
        }
        // (a) kernels of every type
        KernelCheck k = new KernelCheck(gpu, report);
        for (GgmlType t : plan.kernelTypes()) {
            if (!fits("kernels " + t, 15)) {
                break;
            }
            step("kernels " + t, 120);
            k.check(t, plan.kernelRows(), plan.kernelK(), plan.vecTokens(), plan.mmTokens());
        }
        if (report.failures().stream().anyMatch(f -> f.contains("matmul_"))) {
            CudaLayers.matmul = false;
            report.line("NOTE tensor-core matrix kernels failed: the rest of the run computes prompts with the"
                    + " matrix-vector kernels, 8 tokens at a time (as -Dpanamax.cuda.matmul=false does)");
        }
        step("element-wise kernels", 60);
        k.checkOps(5, plan.speeds() ? 5120 : 320);
        if (plan.speeds() && fits("kernel speeds", 30)) {
            report.line("kernel speed (16384 x 8192 weights; matvec: 1 token, weight bytes per second; matmul: 512 tokens)");
            for (GgmlType t : List.of(GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0, GgmlType.Q4_0,
                    GgmlType.IQ4_XS, GgmlType.Q3_K, GgmlType.Q2_K, GgmlType.F16)) {
                step("speed " + t, 60);
                try {
                    report.line("  " + k.speed(t, 16384, 8192, 512, 40));
                } catch (RuntimeException e) {
                    report.error("speed " + t, e);
                }
            }
            if (!Double.isNaN(readGBs)) {
                report.line(String.format(Locale.ROOT, "device read bandwidth %.0f GB/s (up to 4 GiB read once a pass, best of 5)",
                        readGBs));
            }
            report.line("matrix-vector GB/s at the 14B shapes (one token, launches recorded as a graph; r: rows per warp;"
                    + " copies of each matrix beyond the L2 cache, best of 5)");
            int[][] shapes = {{5120, 5120}, {1024, 5120}, {13824, 5120}, {5120, 13824}};
            for (GgmlType t : List.of(GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0, GgmlType.Q2_K,
                    GgmlType.Q4_0, GgmlType.IQ4_XS)) {
                for (int[] sh : shapes) {
                    step("matvec shapes " + t, 60);
                    try {
                        long mb = t.bytesFor((long) sh[0] * sh[1]);
                        report.line("  " + k.matvecVariants(t, sh[0], sh[1], (int) Math.max(2, (256L << 20) / mb), 5));
                    } catch (RuntimeException e) {
                        report.error("matvec shapes " + t, e);
                    }
                }
            }
        }
        if (kernelsOnly) {
            return;
        }
        // (b) whole models: fixtures
        OffloadCheck oc = new OffloadCheck(report, backend);
        List<Path> ggufs;
        try (Stream<Path> s = Files.list(fixtures)) {
            ggufs = s.filter(p -> p.toString().endsWith(".gguf") && p.getFileName().toString().contains(plan.fixtureFilter()))
                    .sorted().toList();
        } catch (IOException e) {
            report.error("fixtures in " + fixtures, e);
            ggufs = List.of();
        }
        for (Path f : ggufs) {
            String name = f.getFileName().toString().replace(".gguf", "");
            if (!fits("offload " + name, 10)) {
                break;
            }
            for (GgmlType kv : OffloadChecks.cacheTypes(f)) {
                step("offload " + name + " " + kv, 120);
                SessionOptions o = OffloadCheck.options(64, kv);
                oc.compare(f, name + " kv " + kv, o, OffloadChecks.variants(f, o), OffloadChecks.toleranceExact(f),
                        OffloadChecks.toleranceCpu(f));
            }
        }
        // decode without graphs gives the same logits as with them
        if (!ggufs.isEmpty() && fits("graphs off", 10)) {
            step("graphs off", 120);
            Path f = ggufs.stream().filter(p -> p.getFileName().toString().startsWith("qwen2-quant-q4_k")).findFirst()
                    .orElse(ggufs.get(0));
            new OffloadCheck(report, new CudaBackend(gpu, false)).compare(f, f.getFileName() + " without graphs",
                    OffloadCheck.options(64, GgmlType.F16), List.of(new OffloadCheck.Variant("all layers",
                            new BackendOptions(false, -1, 0, 0, 0), -1)), OffloadChecks.toleranceExact(f),
                    OffloadChecks.toleranceCpu(f));
        }
        // decode deep in a long context: attention split over several blocks and merged
        for (Path f : ggufs) {
            String name = f.getFileName().toString().replace(".gguf", "");
            if ((name.equals("qwen2-quant-q4_k") || name.equals("qwen3-f16")) && fits("depth " + name, 20)) {
                for (GgmlType kv : List.of(GgmlType.F16, GgmlType.Q8_0)) {
                    step("depth " + name + " " + kv, 120);
                    oc.compareAtDepth(f, name, kv, 1500, OffloadChecks.toleranceCpu(f));
                }
            }
        }
        // a real-sized model: 10 of 28 layers, and a --vram-limit split
        if (synthetic != null && fits("synthetic 1.5B offload", 90)) {
            step("make the 1.5B model", 240);
            try {
                Path f = synthetic.join();
                step("offload 1.5B", 240);
                SessionOptions o = new SessionOptions(512, 512, GgmlType.F16, GgmlType.F16, cores);
                List<OffloadCheck.Variant> v = new ArrayList<>();
                int n = plan.syntheticLayers();
                v.add(new OffloadCheck.Variant("all layers", new BackendOptions(false, -1, 0, 0, 0), n));
                v.add(new OffloadCheck.Variant("-ngl " + (n * 10 / 28), new BackendOptions(false, n * 10 / 28, 0, 0, 0),
                        n * 10 / 28));
                try (Model m = Model.open(f)) {
                    BackendOptions lim = OffloadCheck.limitFor(m, o, n / 2);
                    v.add(new OffloadCheck.Variant(String.format(Locale.ROOT, "--vram-limit %dKiB", lim.limitBytes() >> 10),
                            lim, n / 2));
                }
                oc.compare(f, "synthetic " + plan.syntheticCheck(), o, v, 0.02, 0.3, exactCopy(f, cores));
            } catch (RuntimeException e) {
                report.error("synthetic 1.5B offload", e);
            }
        }
    }

    /**
     * The model with every tensor dequantized to F32 beside it (the exact reference of the synthetic
     * checks), or null when it cannot be written (a note says why).
     */
    static Path exactCopy(Path model, int threads) {
        Path out = model.resolveSibling(model.getFileName().toString().replace(".gguf", "") + "-F32.gguf");
        if (Files.exists(out)) {
            return out;
        }
        try (GgufFile in = GgufFile.open(model)) {
            Quantizer.Options options = new Quantizer.Options(threads, true, List.of());
            Quantizer.Job job = Quantizer.prepare(in, Recipes.fromType("F32", Quantizer.layers(in)), options);
            if (Files.getFileStore(out.getParent()).getUsableSpace() < job.outputTensorBytes() + (1L << 30)) {
                report.line("note: no room for the exact F32 copy of " + model.getFileName() + " in " + out.getParent());
                return null;
            }
            Quantizer.write(in, job, out, options, new Quantizer.Listener() {});
            return out;
        } catch (IOException | RuntimeException e) {
            report.line("note: no exact F32 copy of " + model.getFileName() + ": " + e.getMessage());
            return null;
        }
    }

    /** {@code readGBs}: the device's read bandwidth, measured in this run (its own roofline beside the H100's). */
    private static void runBench(Backend backend, Plan plan, Map<String, CompletableFuture<Path>> files, int cores,
            double readGBs) {
        record Config(String spec, String label, GgmlType kv, BackendOptions o, String llama, double seconds) {}
        BackendOptions full = BackendOptions.auto();
        BackendOptions six = new BackendOptions(false, -1, 0, BackendOptions.DEFAULT_RESERVE, 6L << 30);
        List<Config> configs = List.of(
                new Config("deepseek-r1-distill-qwen-14b:Q4_K_H", "all layers, F16 KV", GgmlType.F16, full, "4600 / 129", 40),
                new Config("deepseek-r1-distill-qwen-14b:Q4_K_H", "all layers, Q8_0 KV", GgmlType.Q8_0, full, "4500 / 121", 40),
                new Config("qwen3-0.6b:Q8_0", "all layers, F16 KV", GgmlType.F16, full, "44900 / 742", 15),
                new Config("deepseek-r1-distill-qwen-14b:Q4_K_M", "all layers, F16 KV", GgmlType.F16, full, "4900 / 149", 40),
                new Config("deepseek-r1-distill-qwen-14b:Q4_K_H", "--vram-limit 6GiB, F16 KV", GgmlType.F16, six,
                        "968 / 18.8 (24/48)", 90));
        List<Config> run = plan.benchSpecs().isEmpty() ? configs : plan.benchSpecs().stream()
                .map(sp -> new Config(sp, "all layers, F16 KV", GgmlType.F16, full, "-", 30)).toList();
        List<String> rows = new ArrayList<>();
        for (Config c : run) {
            if (!fits("bench " + c.spec() + " " + c.label(), c.seconds())) {
                continue;
            }
            step("make " + c.spec(), 420);
            Path f;
            try {
                f = files.get(c.spec()).join();
            } catch (RuntimeException e) {
                report.error("make " + c.spec(), e);
                continue;
            }
            if (!fits("bench " + c.spec() + " " + c.label(), c.seconds())) {
                continue;
            }
            step("bench " + c.spec() + " " + c.label(), 300);
            try {
                // the first configuration also says where a decode step's device time goes
                Bench.Result r = Bench.run(f, c.label(), c.kv(), c.o(), backend, cores, 2, plan.benchPrompt(), plan.benchGen(),
                        rows.isEmpty());
                double gb = Files.size(f) / 1e9;
                String row = Bench.row(r) + String.format(Locale.ROOT,
                        "   llama.cpp %s; roofline %.0f t/s at the H100's 2,850 GB/s (%.0f%%)", c.llama(), 2850 / gb,
                        100 * r.tg() / (2850 / gb))
                        + (Double.isNaN(readGBs) ? "" : String.format(Locale.ROOT, ", %.0f t/s at this device's %.0f GB/s read (%.0f%%)",
                                readGBs / gb, readGBs, 100 * r.tg() / (readGBs / gb)));
                rows.add(row);
                report.line("BENCH " + row);
                report.line("      " + r.summary());
                r.profile().forEach(report::line);
            } catch (RuntimeException | IOException e) {
                report.error("bench " + c.spec() + " " + c.label(), e);
            }
        }
        report.line("");
        report.line("benchmark on " + backend.device() + " (llama.cpp's CUDA build on an H100, same files: pp512 / tg128)");
        report.line(Bench.header());
        rows.forEach(report::line);
    }
}
