package dev.panamax.gpu;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.backend.Backend;
import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.Ops;
import dev.panamax.engine.backend.LayerRunner;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.Weights;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * llama-bench's two numbers through a real session: pp512 (one 512-token prompt, logits of the
 * last token) and tg128 (128 single-token steps from an empty cache, greedy on the host from the
 * logits that come back), each the best of {@code reps} runs after a warm-up.
 */
final class Bench {
    record Result(String model, String config, int layersOnDevice, int layers, double pp, double tg, String summary,
            List<String> profile) {}

    /** Passes loads on to a backend and keeps the runners, so a profile can reach them. */
    record Keeping(Backend inner, List<LayerRunner> runners) implements Backend {
        @Override
        public String name() {
            return inner.name();
        }

        @Override
        public String device() {
            return inner.device();
        }

        @Override
        public long freeBytes() {
            return inner.freeBytes();
        }

        @Override
        public LayerRunner load(ModelConfig config, Weights weights, int first, int end, boolean withHead, int context,
                GgmlType keyType, GgmlType valueType, int maxTokens) {
            LayerRunner r = inner.load(config, weights, first, end, withHead, context, keyType, valueType, maxTokens);
            runners.add(r);
            return r;
        }

        @Override
        public void close() {
            // the caller's backend: closed by the caller
        }
    }

    /**
     * pp and tg as above; with {@code profile}, then where one decode step's device time goes
     * ({@link CudaLayers#profileDecode}) with each rows-per-warp choice of the matrix-vector kernels.
     */
    static Result run(Path file, String config, GgmlType kv, BackendOptions o, Backend backend, int threads, int reps,
            int promptTokens, int genTokens, boolean profile) {
        Keeping keeping = new Keeping(backend, new ArrayList<>());
        try (Model m = Model.open(file)) {
            SessionOptions so = new SessionOptions(4096, 512, kv, kv, threads).withBackend(o);
            try (Session s = m.newSession(so, keeping)) {
                int vocab = m.config().vocab();
                SplittableRandom r = new SplittableRandom(7);
                int[] prompt = new int[promptTokens];
                for (int i = 0; i < prompt.length; i++) {
                    prompt[i] = 256 + r.nextInt(Math.max(1, Math.min(vocab - 256, 100000)));
                }
                int[] tok = {0};
                Session.LogitsConsumer greedy = (i, l, off) -> tok[0] = Ops.argmax(l, off, vocab);
                // warm-up: both paths (matrix and graph) once
                s.forward(prompt, 0, Math.min(64, promptTokens), Math.min(64, promptTokens) - 1, greedy);
                for (int i = 0; i < 4; i++) {
                    s.forward(new int[] {tok[0]}, 0, 1, 0, greedy);
                }
                double pp = 0;
                double tg = 0;
                CudaLayers device = keeping.runners().stream().filter(CudaLayers.class::isInstance)
                        .map(CudaLayers.class::cast).findFirst().orElse(null);
                long[] streamed = device == null ? null : device.streamStats.clone();
                double ppSeconds = 0;
                for (int rep = 0; rep < reps; rep++) {
                    s.truncate(0);
                    long t0 = System.nanoTime();
                    s.forward(prompt, 0, prompt.length, prompt.length - 1, greedy);
                    ppSeconds += (System.nanoTime() - t0) / 1e9;
                    pp = Math.max(pp, prompt.length / ((System.nanoTime() - t0) / 1e9));
                    s.truncate(0);
                    int[] one = {prompt[0]};
                    t0 = System.nanoTime();
                    for (int i = 0; i < genTokens; i++) {
                        s.forward(one, 0, 1, 0, greedy);
                        one[0] = tok[0];
                    }
                    tg = Math.max(tg, genTokens / ((System.nanoTime() - t0) / 1e9));
                }
                List<String> lines = new ArrayList<>();
                if (device != null && device.streamStats[0] > streamed[0]) {
                    // only the prompts stream (decode steps stay on the CPU)
                    lines.add(String.format(Locale.ROOT, "pp%d %.3f s a pass; %s", promptTokens, ppSeconds / reps,
                            device.streamSummary(streamed, reps)));
                }
                if (profile && device != null) {  // a session has one device runner
                    s.truncate(0);
                    s.forward(prompt, 0, prompt.length, prompt.length - 1, greedy);
                    CudaLayers.Profile p = device.profileLastForward();
                    lines.add(String.format(Locale.ROOT, "prompt profile (last micro-batch of pp%d, %d tokens): %.3f ms "
                            + "(without the head), kernel by kernel %.3f ms:", promptTokens, s.microBatch(), p.graphMs(),
                            p.kernelsMs()));
                    lines.addAll(kernelLines(p, 14));
                    for (int rows : new int[] {0, 1, 2}) {
                        lines.addAll(describe(device.profileDecode(rows, 20), rows, 1000 / tg));
                    }
                    lines.addAll(ablation(device));
                }
                return new Result(m.displayName(), config, s.layersOnDevice(), m.config().layers(), pp, tg,
                        s.backendSummary(), lines);
            }
        }
    }

    private static List<String> describe(CudaLayers.Profile p, int rows, double tokenMs) {
        List<String> out = new ArrayList<>();
        out.add(String.format(Locale.ROOT,
                "profile (matvec rows/warp %s): token %.3f ms in tg, recorded step %.3f ms (one launched on an idle "
                        + "device: %.3f ms to completion, the launch call %.3f), kernel by kernel %.3f ms:",
                rows == 0 ? "per type" : String.valueOf(rows), tokenMs, p.graphMs(), p.singleMs(), p.launchMs(),
                p.kernelsMs()));
        out.addAll(kernelLines(p, Integer.MAX_VALUE));
        return out;
    }

    /** A decode step's kernel groups, each by what the recorded step saves without it. */
    private static List<String> ablation(CudaLayers device) {
        Map<String, java.util.function.Predicate<String>> groups = new LinkedHashMap<>();
        groups.put("rmsnorm", k -> k.startsWith("rmsnorm"));
        groups.put("qkv_post", k -> k.equals("qkv_post"));
        groups.put("attention", k -> k.startsWith("attention") && !k.startsWith("attention_combine"));
        groups.put("attention_combine", k -> k.startsWith("attention_combine"));
        groups.put("swiglu", k -> k.equals("swiglu"));
        groups.put("all small kernels", k -> !k.startsWith("matvec"));
        groups.put("matvec", k -> k.startsWith("matvec"));
        Map<String, Double> ms = device.profileAblation(groups, 20);
        double all = ms.get("all");
        List<String> out = new ArrayList<>();
        out.add(String.format(Locale.ROOT, "decode step without each group (recorded step %.3f ms):", all));
        ms.forEach((k, v) -> {
            if (!k.equals("all")) {
                out.add(String.format(Locale.ROOT, "  %8.3f ms without %-20s -> it costs %.3f ms", v, k, all - v));
            }
        });
        return out;
    }

    /** The profile's kernels, slowest first, at most {@code limit} lines: "ms launches kernel". */
    private static List<String> kernelLines(CudaLayers.Profile p, int limit) {
        return p.byKernel().entrySet().stream().sorted((a, b) -> Double.compare(b.getValue()[0], a.getValue()[0]))
                .limit(limit).map(e -> String.format(Locale.ROOT, "  %8.3f ms %4.0f launches  %s", e.getValue()[0],
                        e.getValue()[1], e.getKey())).toList();
    }

    static String header() {
        return String.format(Locale.ROOT, "%-44s %-34s %9s %10s %10s", "model", "config", "layers", "pp512 t/s",
                "tg128 t/s");
    }

    static String row(Result r) {
        return String.format(Locale.ROOT, "%-44s %-34s %4d/%-4d %10.1f %10.1f", r.model(), r.config(), r.layersOnDevice(),
                r.layers(), r.pp(), r.tg());
    }
}
