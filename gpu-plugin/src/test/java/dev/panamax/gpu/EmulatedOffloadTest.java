package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panamax.engine.Model;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.gguf.GgmlType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The whole-model checks of the device script on the CUDA emulator: the reference fixtures with all
 * layers on the device, with a partial split (-ngl, --vram-limit), and with each KV cache type,
 * against the CPU.
 */
class EmulatedOffloadTest {
    static EmuGpu gpu;
    static final Path FIXTURES = Path.of("../engine/src/test/resources/fixtures");

    @BeforeAll
    static void emulator() {
        gpu = EmuGpu.open(1L << 30);
    }

    @ParameterizedTest
    @ValueSource(strings = {"qwen2-f32", "qwen3-f16", "llama-f16", "qwen2-quant-q4_k", "qwen2-quant-q8_0",
        "qwen2-quant-q6_k", "qwen2-quant-iq4_xs", "qwen2-quant-q3_k", "qwen2-quant-bf16"})
    void deviceSessionsMatchTheCpu(String name) {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Path file = FIXTURES.resolve(name + ".gguf");
        assumeTrue(Files.exists(file), "fixture " + file + " missing");
        Report r = new Report(System.out, null);
        OffloadCheck check = new OffloadCheck(r, new CudaBackend(gpu, true));
        // every cache type on two models, F16 elsewhere (the device script runs them all)
        boolean allCaches = name.equals("qwen3-f16") || name.equals("qwen2-quant-q4_k");
        for (GgmlType kv : allCaches ? OffloadChecks.cacheTypes(file) : List.of(GgmlType.F16)) {
            SessionOptions o = OffloadCheck.options(64, kv);
            check.compare(file, name + " kv " + kv, o, OffloadChecks.variants(file, o), OffloadChecks.toleranceExact(file),
                    OffloadChecks.toleranceCpu(file));
        }
        assertEquals(List.of(), r.failures());
        assertEquals(0, gpu.liveAllocations(), "device memory leaked");
    }

    /**
     * A per-layer hybrid recipe (the demo Q4_K_H target: query and key of one type, the value of
     * another in most layers) matches the CPU, its value products forked onto the second stream.
     */
    @org.junit.jupiter.api.Test
    void mixedTypeProductsForkAndMatchTheCpu() {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Path file = Path.of("../models/demo-target-Q4_K_H.gguf");
        assumeTrue(Files.exists(file), "demo model " + file + " missing");
        Report r = new Report(System.out, null);
        int before = gpu.waits();
        SessionOptions o = OffloadCheck.options(64, GgmlType.F16);
        new OffloadCheck(r, new CudaBackend(gpu, true)).compare(file, "demo Q4_K_H", o, OffloadChecks.variants(file, o),
                OffloadChecks.toleranceExact(file), OffloadChecks.toleranceCpu(file));
        assertEquals(List.of(), r.failures());
        org.junit.jupiter.api.Assertions.assertTrue(gpu.waits() > before, "no product forked onto the second stream");
        assertEquals(0, gpu.liveAllocations(), "device memory leaked");
    }

    /** Decode steps 300 keys deep: several attention blocks per kv head, merged by the last one. */
    @ParameterizedTest
    @ValueSource(strings = {"F16", "Q8_0"})
    void decodeDeepInTheContextMatchesTheCpu(String kv) {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Path file = FIXTURES.resolve("qwen2-quant-q4_k.gguf");
        Report r = new Report(System.out, null);
        new OffloadCheck(r, new CudaBackend(gpu, true)).compareAtDepth(file, "qwen2-quant-q4_k", GgmlType.valueOf(kv), 300,
                OffloadChecks.toleranceCpu(file));
        assertEquals(List.of(), r.failures());
        assertEquals(1, r.passed());
    }

    /** Prompts through the matrix-vector kernels, 8 tokens at a time (-Dpanamax.cuda.matmul=false). */
    @org.junit.jupiter.api.Test
    void promptsWithoutTensorCoreKernels() {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Path file = FIXTURES.resolve("qwen2-quant-q6_k.gguf");
        Report r = new Report(System.out, null);
        CudaLayers.matmul = false;
        try {
            SessionOptions o = OffloadCheck.options(64, GgmlType.F16);
            new OffloadCheck(r, new CudaBackend(gpu, true)).compare(file, "q6_k without matmul", o,
                    OffloadChecks.variants(file, o), OffloadChecks.toleranceExact(file), OffloadChecks.toleranceCpu(file));
        } finally {
            CudaLayers.matmul = true;
        }
        assertEquals(List.of(), r.failures());
    }

    /** Prompts attending with the shared-memory tile kernel (what head sizes above 128 use). */
    @org.junit.jupiter.api.Test
    void promptsWithTheSharedMemoryAttention() {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Report r = new Report(System.out, null);
        CudaLayers.attentionTensorCores = false;
        try {
            for (String name : List.of("qwen3-f16", "qwen2-quant-q4_k")) {
                Path file = FIXTURES.resolve(name + ".gguf");
                for (GgmlType kv : List.of(GgmlType.F16, GgmlType.Q8_0)) {
                    SessionOptions o = OffloadCheck.options(64, kv);
                    new OffloadCheck(r, new CudaBackend(gpu, true)).compare(file, name + " kv " + kv + " attention_tiles", o,
                            OffloadChecks.variants(file, o), OffloadChecks.toleranceExact(file),
                            OffloadChecks.toleranceCpu(file));
                }
            }
        } finally {
            CudaLayers.attentionTensorCores = true;
        }
        assertEquals(List.of(), r.failures());
    }

    /**
     * The decode profile re-runs one step kernel by kernel: every per-layer kernel once per layer,
     * the norms twice per layer plus the head's, and the recorded step timed as a whole.
     */
    @org.junit.jupiter.api.Test
    void decodeProfileTimesEveryKernelOfAStep() {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Path file = FIXTURES.resolve("qwen2-quant-q4_k.gguf");
        Bench.Keeping keeping = new Bench.Keeping(new CudaBackend(gpu, true), new java.util.ArrayList<>());
        try (Model m = Model.open(file);
                dev.panamax.engine.Session s = m.newSession(new SessionOptions(256, 64, GgmlType.F16, GgmlType.F16, 2)
                        .withBackend(BackendOptions.auto()), keeping)) {
            dev.panamax.engine.Session.LogitsConsumer ignore = (i, l, off) -> {};
            s.forward(new int[] {1, 2, 3}, 0, 3, 2, ignore);
            s.forward(new int[] {4}, 0, 1, 0, ignore);
            s.forward(new int[] {5}, 0, 1, 0, ignore);  // the second step replays the recorded graph
            int layers = m.config().layers();
            assertEquals(1, keeping.runners().size());
            CudaLayers runner = (CudaLayers) keeping.runners().get(0);
            for (int rows : new int[] {0, 1, 2, 4}) {
                CudaLayers.Profile p = runner.profileDecode(rows, 2);
                assertEquals(2 * layers + 1, launches(p, "rmsnorm_split"), "rows/warp " + rows);
                // grouped decode attention merges its splits itself: no attention_combine
                for (String k : List.of("qkv_post", "attention_gqa", "swiglu")) {
                    assertEquals(layers, launches(p, k), k + ", rows/warp " + rows);
                }
                assertEquals(0, launches(p, "attention_combine"), "rows/warp " + rows);
                org.junit.jupiter.api.Assertions.assertTrue(p.graphMs() > 0 && p.kernelsMs() > 0, p.toString());
                if (rows > 0) {
                    org.junit.jupiter.api.Assertions.assertTrue(p.byKernel().keySet().stream()
                            .anyMatch(k -> k.startsWith("matvec_q4_k_1" + (rows == 2 ? " " : "_r" + rows + " "))),
                            p.byKernel().keySet().toString());
                }
            }
            // each group left out of the recorded step once, then the whole step again: same next logits
            java.util.Map<String, java.util.function.Predicate<String>> groups = new java.util.LinkedHashMap<>();
            groups.put("rmsnorm", k -> k.startsWith("rmsnorm"));
            groups.put("matvec", k -> k.startsWith("matvec"));
            java.util.Map<String, Double> ablation = runner.profileAblation(groups, 2);
            assertEquals(List.of("all", "rmsnorm", "matvec"), List.copyOf(ablation.keySet()));
            ablation.values().forEach(v -> org.junit.jupiter.api.Assertions.assertTrue(v > 0, ablation.toString()));
            // a batch re-run kernel by kernel: the norms twice per layer (no head), the rest once per layer
            s.forward(new int[] {6, 7, 8}, 0, 3, 2, ignore);
            CudaLayers.Profile batch = runner.profileLastForward();
            assertEquals(2.0 * layers, batch.byKernel().get("rmsnorm_split")[1], batch.byKernel().keySet().toString());
            for (String k : List.of("qkv_post", "attention", "swiglu")) {
                assertEquals(layers, batch.byKernel().get(k)[1], k);
            }
            org.junit.jupiter.api.Assertions.assertTrue(batch.graphMs() > 0 && batch.kernelsMs() > 0, batch.toString());
        }
    }

    /**
     * Batches of 32+ tokens on a model whose first layer stays on the CPU (the device holds the second):
     * the CPU's layers run on the device, streamed layer by layer with their cached rows (the second
     * batch reads the first one's keys and values back from the CPU's cache, and its tensor-core
     * attention splits the keys), and the logits are the exact ones within the device's f16
     * tolerance and the CPU's within its own.
     */
    @ParameterizedTest
    @ValueSource(strings = {"qwen2-f32", "qwen3-f16", "llama-f16"})
    void bigBatchesOfCpuLayersRunOnTheDevice(String name) {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Path file = FIXTURES.resolve(name + ".gguf");
        OffloadCheck.Reference ref = OffloadCheck.Reference.of(file);
        int n = 40;
        int more = 233;  // the second batch sees 273 keys: its attention splits them over two warps
        int[] prompt = new int[n + more];
        System.arraycopy(ref.prompt(), 0, prompt, 0, ref.prompt().length);
        for (int i = ref.prompt().length; i < n + more; i++) {
            prompt[i] = (i * 37) % 250;
        }
        SessionOptions o = OffloadCheck.options(512, GgmlType.F16);
        List<float[]> cpu = new java.util.ArrayList<>();
        List<float[]> dev = new java.util.ArrayList<>();
        Bench.Keeping keeping = new Bench.Keeping(new CudaBackend(gpu, true), new java.util.ArrayList<>());
        try (Model m = Model.open(file)) {
            int vocab = m.config().vocab();
            try (dev.panamax.engine.Session s = m.newSession(o)) {
                s.forward(prompt, 0, n, 0, (i, l, off) -> cpu.add(java.util.Arrays.copyOfRange(l, off, off + vocab)));
                s.forward(prompt, n, more, 0, (i, l, off) -> cpu.add(java.util.Arrays.copyOfRange(l, off, off + vocab)));
                cpu.add(s.decode(prompt[n - 1]).clone());
            }
            BackendOptions ngl1 = new BackendOptions(false, 1, 0, 0, 0);
            try (dev.panamax.engine.Session s = m.newSession(o.withBackend(ngl1), keeping)) {
                assertEquals(1, s.layersOnDevice(), s.backendSummary());
                s.forward(prompt, 0, n, 0, (i, l, off) -> dev.add(java.util.Arrays.copyOfRange(l, off, off + vocab)));
                s.forward(prompt, n, more, 0, (i, l, off) -> dev.add(java.util.Arrays.copyOfRange(l, off, off + vocab)));
                dev.add(s.decode(prompt[n - 1]).clone());
                CudaLayers runner = (CudaLayers) keeping.runners().get(0);
                // each layer once per batch (the decode step stays on the CPU)
                assertEquals(2L * (m.config().layers() - 1), runner.streamedLayers, "CPU layers computed on the device");
            }
        }
        float[][] exact = ref.logits();
        double devExact = OffloadCheck.rowError(dev, exact, 0, exact.length);
        double cpuExact = OffloadCheck.rowError(cpu, exact, 0, exact.length);
        double vsCpu = OffloadCheck.rowError(dev, cpu.toArray(new float[0][]), 0, cpu.size());
        System.out.printf("%s CPU layers on the device: vs exact %.2e (CPU %.2e), vs CPU %.2e%n", name, devExact, cpuExact, vsCpu);
        org.junit.jupiter.api.Assertions.assertTrue(devExact <= Math.max(OffloadChecks.toleranceExact(file), 1.25 * cpuExact),
                "prompt vs exact logits: " + devExact + " (CPU " + cpuExact + ")");
        org.junit.jupiter.api.Assertions.assertTrue(vsCpu <= OffloadChecks.toleranceCpu(file), "vs CPU: " + vsCpu);
    }

    private static int launches(CudaLayers.Profile p, String kernel) {
        return (int) p.byKernel().entrySet().stream().filter(e -> e.getKey().startsWith(kernel + " "))
                .mapToDouble(e -> e.getValue()[1]).sum();
    }
}
