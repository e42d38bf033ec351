package dev.panamax.gpu;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.backend.Backend;
import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.engine.backend.OffloadPlan;
import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.Ops;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Whole-model checks: a session with layers on the device against the same model on the CPU.
 * The device session is fed the CPU's tokens (teacher forcing) so every step compares logits of
 * the same inputs: a prompt (tensor-core path), a 5-token batch with logits at every position
 * (the speculative-verification path), then single-token decode steps (graphs); greedy choices
 * must agree except where the CPU's top two logits are within the tolerance.
 */
final class OffloadCheck {
    private final Report report;
    private final Backend backend;

    OffloadCheck(Report report, Backend backend) {
        this.report = report;
        this.backend = backend;
    }

    /** A device split to compare: options and the number of layers it must put on the device (-1: any). */
    record Variant(String label, BackendOptions options, int expectLayers) {}

    /** Logits of every step of a run, and the tokens that were fed. */
    record Run(List<float[]> logits, List<Integer> greedy, int[] fed, String summary, int onDevice) {}

    static int[] prompt(int vocab, int n, long seed) {
        int[] p = new int[n];
        java.util.SplittableRandom r = new java.util.SplittableRandom(seed);
        for (int i = 0; i < n; i++) {
            p[i] = r.nextInt(Math.min(vocab, 250));
        }
        return p;
    }

    /**
     * Runs prompt + batch + decode steps; the tokens fed after the prompt are {@code forced} when
     * given (device runs), else the session's own greedy choices (the CPU reference).
     */
    static Run run(Session s, int[] prompt, int batch, int steps, int[] forced) {
        List<float[]> logits = new ArrayList<>();
        List<Integer> greedy = new ArrayList<>();
        int vocab = s.vocab();
        int[] fed = new int[prompt.length + batch + steps];
        System.arraycopy(prompt, 0, fed, 0, prompt.length);
        Session.LogitsConsumer keep = (i, l, o) -> {
            float[] row = java.util.Arrays.copyOfRange(l, o, o + vocab);
            logits.add(row);
            greedy.add(Ops.argmax(row, 0, vocab));
        };
        s.forward(prompt, 0, prompt.length, 0, keep);
        int n = prompt.length;
        // a batch of `batch` tokens, logits at every position
        for (int i = 0; i < batch; i++) {
            fed[n + i] = forced != null ? forced[n + i] : (greedy.get(greedy.size() - 1) + 7 * i) % Math.min(vocab, 250);
        }
        if (batch > 0) {
            s.forward(fed, n, batch, 0, keep);
            n += batch;
        }
        for (int i = 0; i < steps; i++) {
            fed[n] = forced != null ? forced[n] : greedy.get(greedy.size() - 1);
            s.forward(fed, n, 1, 0, keep);
            n++;
        }
        return new Run(logits, greedy, fed, s.backendSummary(), s.layersOnDevice());
    }

    static double rms(float[] v) {
        double s = 0;
        for (float f : v) {
            s += (double) f * f;
        }
        return Math.sqrt(s / v.length);
    }

    /** Exact logits from the fixture's JSON beside a model (transformers on the dequantized weights). */
    record Reference(int[] prompt, float[][] logits, int[] greedy, float[] margins) {
        static Reference of(Path gguf) {
            Path json = gguf.resolveSibling(gguf.getFileName().toString().replace(".gguf", ".json"));
            if (!java.nio.file.Files.exists(json)) {
                return null;
            }
            try {
                java.util.Map<String, Object> m = com.fasterxml.jackson.jr.ob.JSON.std.mapFrom(
                        java.nio.file.Files.readString(json));
                if (!m.containsKey("logits") || !m.containsKey("greedy")) {
                    return null;
                }
                List<?> rows = (List<?>) m.get("logits");
                float[][] logits = new float[rows.size()][];
                for (int i = 0; i < logits.length; i++) {
                    logits[i] = floats((List<?>) rows.get(i));
                }
                @SuppressWarnings("unchecked")
                java.util.Map<String, Object> g = (java.util.Map<String, Object>) m.get("greedy");
                float[] t = floats((List<?>) g.get("tokens"));
                int[] tokens = new int[t.length];
                for (int i = 0; i < t.length; i++) {
                    tokens[i] = (int) t[i];
                }
                float[] p = floats((List<?>) m.get("prompt"));
                int[] prompt = new int[p.length];
                for (int i = 0; i < p.length; i++) {
                    prompt[i] = (int) p[i];
                }
                return new Reference(prompt, logits, tokens, floats((List<?>) g.get("margin")));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }

        private static float[] floats(List<?> l) {
            float[] f = new float[l.size()];
            for (int i = 0; i < f.length; i++) {
                f[i] = ((Number) l.get(i)).floatValue();
            }
            return f;
        }
    }

    static final int PROMPT = 12;
    static final int BATCH = 5;
    static final int STEPS = 8;

    /** Where the largest error of rows [0, n) is: "prompt row i", "batch row i" or "decode step i". */
    static String worstRow(List<float[]> a, float[][] b) {
        int worst = 0;
        double we = -1;
        for (int i = 0; i < b.length; i++) {
            double e = rowError(a, b, i, i + 1);
            if (!(e <= we)) {
                we = e;
                worst = i;
            }
        }
        return worst < PROMPT ? "prompt row " + worst
                : worst < PROMPT + BATCH ? "batch row " + (worst - PROMPT) : "decode step " + (worst - PROMPT - BATCH);
    }

    /** max |a - b| / rms(b) over rows [from, to). */
    static double rowError(List<float[]> a, float[][] b, int from, int to) {
        double worst = 0;
        for (int i = from; i < to; i++) {
            double d = 0;
            for (int j = 0; j < b[i].length; j++) {
                d = Math.max(d, Math.abs(a.get(i)[j] - b[i][j]));
            }
            double e = d / Math.max(rms(b[i]), 1e-6);
            worst = Double.isNaN(e) ? Double.POSITIVE_INFINITY : Math.max(worst, e);
        }
        return worst;
    }

    /**
     * Compares the variants of one model with its CPU run. With a fixture reference beside the model,
     * the prompt's logits must be within {@code tolExact} of the exact ones and the greedy tokens must
     * be the reference's wherever its margin is clear; always, every step's logits must be within
     * {@code tolCpu} of the CPU's (max |diff| / rms; both quantize activations, differently) and the
     * greedy choices must agree except at near-ties.
     */
    void compare(Path file, String label, SessionOptions base, List<Variant> variants, double tolExact, double tolCpu) {
        compare(file, label, base, variants, tolExact, tolCpu, null);
    }

    /**
     * As above; with {@code exactCopy} (the same model with every tensor dequantized to F32, for a file
     * without a fixture reference), a variant farther than {@code tolCpu} from the CPU also passes when
     * it is at least as close to the exact copy's logits as the CPU is (within 25 %): the CPU's K-quant
     * dots quantize activations per 256 values, so on some models it is the less exact side.
     */
    void compare(Path file, String label, SessionOptions base, List<Variant> variants, double tolExact, double tolCpu,
            Path exactCopy) {
        tolCpu = cacheTolerance(tolCpu, base.keyType(), base.valueType());
        Reference ref = Reference.of(file);
        Run cpu;
        try (Model m = Model.open(file); Session s = m.newSession(base.withBackend(BackendOptions.cpuOnly()))) {
            int[] p;
            int[] forced = null;
            if (ref != null) {
                p = ref.prompt();
                forced = new int[PROMPT + BATCH + STEPS];
                System.arraycopy(p, 0, forced, 0, PROMPT);
                System.arraycopy(ref.greedy(), 0, forced, PROMPT, BATCH + STEPS);
            } else {
                p = prompt(m.config().vocab(), PROMPT, file.getFileName().toString().hashCode());
            }
            cpu = run(s, p, BATCH, STEPS, forced);
        } catch (RuntimeException e) {
            report.error(label + ": CPU reference", e);
            return;
        }
        double cpuExact = ref == null ? Double.NaN : rowError(cpu.logits(), ref.logits(), 0, PROMPT);
        float[][] exactRows = null;
        if (ref == null && exactCopy != null) {
            try (Model m = Model.open(exactCopy); Session s = m.newSession(base.withBackend(BackendOptions.cpuOnly()))) {
                exactRows = run(s, java.util.Arrays.copyOf(cpu.fed(), PROMPT), BATCH, STEPS, cpu.fed()).logits()
                        .toArray(new float[0][]);
            } catch (RuntimeException e) {
                report.error(label + ": exact F32 copy", e);
                return;
            }
        }
        double cpuVsCopy = exactRows == null ? Double.NaN : rowError(cpu.logits(), exactRows, 0, exactRows.length);
        for (Variant v : variants) {
            String what = label + " " + v.label();
            try (Model m = Model.open(file); Session s = m.newSession(base.withBackend(v.options()), backend)) {
                if (v.expectLayers() >= 0 && s.layersOnDevice() != v.expectLayers()) {
                    report.check(false, what, "expected " + v.expectLayers() + " layers on the device, got "
                            + s.layersOnDevice() + " (" + s.backendSummary() + ")");
                    continue;
                }
                int[] p = java.util.Arrays.copyOf(cpu.fed(), PROMPT);
                Run dev = run(s, p, BATCH, STEPS, cpu.fed());
                float[][] cpuRows = cpu.logits().toArray(new float[0][]);
                double vsCpu = rowError(dev.logits(), cpuRows, 0, cpuRows.length);
                double exact = ref == null ? Double.NaN : rowError(dev.logits(), ref.logits(), 0, PROMPT);
                // layers left on the CPU (and a Q8_0 cache) carry the CPU's own error into the device's logits
                double exactTol = ref == null ? Double.NaN : Math.max(tolExact, 1.25 * cpuExact);
                int mismatches = 0;
                int nearTies = 0;
                for (int i = PROMPT - 1; i < cpuRows.length; i++) {
                    float[] a = cpuRows[i];
                    double scale = Math.max(rms(a), 1e-6);
                    int want;
                    boolean clear;
                    if (ref != null) {
                        want = ref.greedy()[i - (PROMPT - 1)];
                        clear = ref.margins()[i - (PROMPT - 1)] > 2 * Math.max(exactTol, 0.05) * scale;
                    } else {
                        want = cpu.greedy().get(i);
                        int got = dev.greedy().get(i);
                        clear = clearlyApart(a, want, got, tolCpu);
                    }
                    if (dev.greedy().get(i) != want) {
                        if (clear) {
                            mismatches++;
                        } else {
                            nearTies++;
                        }
                    }
                }
                double devVsCopy = exactRows == null ? Double.NaN : rowError(dev.logits(), exactRows, 0, exactRows.length);
                boolean closeEnough = vsCpu <= tolCpu || devVsCopy <= 1.25 * cpuVsCopy;
                boolean ok = closeEnough && mismatches == 0 && (ref == null || exact <= exactTol);
                report.check(ok, what, String.format(Locale.ROOT,
                        "%d layers on the device, %d steps; logits vs CPU %.1e of rms (tol %.0e, worst: %s)%s; greedy %s: "
                                + "%d differ, %d near-ties",
                        s.layersOnDevice(), cpuRows.length, vsCpu, tolCpu, worstRow(dev.logits(), cpuRows),
                        exactRows != null ? String.format(Locale.ROOT, ", vs the exact F32 copy %.1e (CPU %.1e)", devVsCopy,
                                cpuVsCopy) : ref == null ? "" : String.format(Locale.ROOT,
                                ", prompt vs exact %.1e (tol %.1e; CPU %.1e)", exact, exactTol, cpuExact),
                        ref == null ? "vs CPU" : "vs reference", mismatches, nearTies));
            } catch (RuntimeException e) {
                report.error(what, e);
            }
        }
    }

    /**
     * Decode deep in a long context, where attention splits the keys into several ranges and merges
     * them: a {@code depth}-token prompt and {@link #STEPS} decode steps with all layers on the device
     * (the CPU's tokens fed), every step's logits within {@code tolCpu} of the CPU's and the same greedy
     * choices except at near-ties.
     */
    void compareAtDepth(Path file, String label, GgmlType kv, int depth, double tolCpu) {
        tolCpu = cacheTolerance(tolCpu, kv, kv);
        SessionOptions o = options(Math.max(1024, Integer.highestOneBit(depth + STEPS) * 2), kv);
        String what = label + " kv " + kv + " decode at depth " + depth + " (context " + o.context() + ")";
        Run cpu;
        try (Model m = Model.open(file); Session s = m.newSession(o.withBackend(BackendOptions.cpuOnly()))) {
            cpu = run(s, prompt(m.config().vocab(), depth, depth), 0, STEPS, null);
        } catch (RuntimeException e) {
            report.error(what + ": CPU reference", e);
            return;
        }
        try (Model m = Model.open(file); Session s = m.newSession(o.withBackend(BackendOptions.auto()), backend)) {
            Run dev = run(s, java.util.Arrays.copyOf(cpu.fed(), depth), 0, STEPS, cpu.fed());
            // the decode steps' rows: the prompt gives one (its last position)
            float[][] cpuRows = cpu.logits().toArray(new float[0][]);
            int first = cpuRows.length - STEPS;
            double err = rowError(dev.logits(), cpuRows, first, cpuRows.length);
            int mismatches = 0;
            for (int i = first; i < cpuRows.length; i++) {
                int want = cpu.greedy().get(i), got = dev.greedy().get(i);
                if (want != got && clearlyApart(cpuRows[i], want, got, tolCpu)) {
                    mismatches++;
                }
            }
            report.check(err <= tolCpu && mismatches == 0 && s.layersOnDevice() == m.config().layers(), what,
                    String.format(Locale.ROOT, "%d/%d layers on the device; decode logits vs CPU %.1e of rms (tol %.0e); "
                            + "%d clear greedy differences", s.layersOnDevice(), m.config().layers(), err, tolCpu, mismatches));
        } catch (RuntimeException e) {
            report.error(what, e);
        }
    }

    /**
     * The CPU tolerance for a cache of these types: Q8_0 rows are rounded from slightly different
     * floats on each side.
     */
    static double cacheTolerance(double tolCpu, GgmlType keys, GgmlType values) {
        return keys == GgmlType.Q8_0 || values == GgmlType.Q8_0 ? Math.max(tolCpu, 0.1) : tolCpu;
    }

    /** Whether tokens {@code a} and {@code b} of a CPU logits row differ by more than a near-tie. */
    static boolean clearlyApart(float[] row, int a, int b, double tolCpu) {
        return Math.abs(row[a] - row[b]) > 2 * tolCpu * Math.max(rms(row), 1e-6);
    }

    /** Options that leave room for exactly {@code layers} layers (and the head) in the device budget. */
    static BackendOptions limitFor(Model m, SessionOptions o, int layers) {
        OffloadPlan.ModelSizes sizes = OffloadPlan.ModelSizes.of(m.config(), m.weights(), o.keyType(), o.valueType());
        int micro = Session.deviceMicroBatch(o.batch());
        long scratch = OffloadPlan.scratchBytes(m.config(), o.context(), micro);
        long kv = sizes.kvBytesPerToken() * o.context() / m.config().layers();
        long need = scratch + sizes.headBytes();
        int n = m.config().layers();
        for (int i = 0; i < layers; i++) {
            need += sizes.layerBytes()[n - 1 - i] + kv;
        }
        if (layers < n) {
            need += OffloadPlan.streamBytes(sizes, o.context(), micro);
        }
        long slack = (sizes.layerBytes()[0] + kv) / 2;
        return new BackendOptions(false, -1, 0, 0, need + slack);
    }

    /** Layers the planner puts on the device under {@code limit} for a session with options {@code o}. */
    static int plannedLayers(Model m, SessionOptions o, BackendOptions limit) {
        OffloadPlan.ModelSizes sizes = OffloadPlan.ModelSizes.of(m.config(), m.weights(), o.keyType(), o.valueType());
        return OffloadPlan.plan(sizes, o.context(), Session.deviceMicroBatch(o.batch()), limit.limitBytes(),
                limit.reserveBytes(), -1, 0).layersOnDevice();
    }

    static SessionOptions options(int context, GgmlType kv) {
        return new SessionOptions(context, 512, kv, kv, 2);
    }
}
