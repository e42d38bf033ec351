package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.model.RopeOverrides;
import dev.panamax.engine.model.RopeScaling;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.kernels.WorkerPool;
import java.nio.file.Files;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/** Options shared by every command that loads a model (llama.cpp's names). */
final class ModelOptions {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL.gguf",
            description = "GGUF model (default: the embedded demo model).")
    Path model;

    @Option(names = {"-c", "--ctx-size"}, paramLabel = "N", defaultValue = "4096",
            description = "Context size in tokens (default: ${DEFAULT-VALUE}).")
    int context;

    @Option(names = {"-b", "--batch-size"}, paramLabel = "N", defaultValue = "512",
            description = "Prompt tokens per batch, at most 256 on the CPU and 512 on a GPU (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = {"-t", "--threads"}, paramLabel = "N", description = "Compute threads (default: physical cores).")
    Integer threads;

    @Option(names = {"-ctk", "--cache-type-k"}, paramLabel = "TYPE", defaultValue = "f16",
            description = "KV cache key type: f32, f16 or q8_0 (default: ${DEFAULT-VALUE}).")
    String cacheTypeK;

    @Option(names = {"-ctv", "--cache-type-v"}, paramLabel = "TYPE", defaultValue = "f16",
            description = "KV cache value type: f32, f16 or q8_0 (default: ${DEFAULT-VALUE}).")
    String cacheTypeV;

    @Option(names = "--rope-freq-base", paramLabel = "F", description = "Rope base frequency (default: from the model).")
    Float ropeFreqBase;

    @Option(names = "--rope-scaling", paramLabel = "none|linear|yarn", description = "Rope frequency scaling (default: from the model).")
    String ropeScaling;

    @Option(names = "--rope-scale", paramLabel = "F", description = "Rope context scale factor (default: from the model, else 1).")
    Float ropeScale;

    @Option(names = "--yarn-orig-ctx", paramLabel = "N", description = "YaRN: original training context (default: from the model).")
    Integer yarnOrigCtx;

    @Option(names = "--yarn-ext-factor", paramLabel = "F", description = "YaRN extrapolation mix factor (default: 1 with yarn).")
    Float yarnExtFactor;

    @Option(names = "--yarn-attn-factor", paramLabel = "F", description = "YaRN magnitude factor (default: 1).")
    Float yarnAttnFactor;

    @Option(names = "--yarn-beta-fast", paramLabel = "F", description = "YaRN low correction dimension (default: 32).")
    Float yarnBetaFast;

    @Option(names = "--yarn-beta-slow", paramLabel = "F", description = "YaRN high correction dimension (default: 1).")
    Float yarnBetaSlow;

    /** The model file to open: -m, else the embedded demo model. */
    Path modelPath() {
        if (model != null) {
            return model;
        }
        return EmbeddedModels.defaultModel().orElseThrow(() -> new PanamaxException(
                "no model given: pass -m MODEL.gguf (this build has no embedded default model)"));
    }

    Model open() {
        Path p = modelPath();
        if (!Files.exists(p)) {
            throw new PanamaxException(p + ": no such file (-m)");
        }
        return Model.open(p, rope());
    }

    RopeOverrides rope() {
        return new RopeOverrides(ropeFreqBase, ropeScaling == null ? null : RopeScaling.parse("--rope-scaling", ropeScaling),
                ropeScale, yarnOrigCtx, yarnExtFactor, yarnAttnFactor, yarnBetaFast, yarnBetaSlow);
    }

    int threads() {
        int t = threads != null ? threads : Cpus.physicalCores();
        if (t < 1) {
            throw new PanamaxException("-t/--threads must be at least 1, got " + t);
        }
        return t;
    }

    SessionOptions sessionOptions() {
        if (context < 1) {
            throw new PanamaxException("-c/--ctx-size must be at least 1, got " + context);
        }
        if (batch < 1) {
            throw new PanamaxException("-b/--batch-size must be at least 1, got " + batch);
        }
        return new SessionOptions(context, batch, cacheType("-ctk", cacheTypeK), cacheType("-ctv", cacheTypeV), threads());
    }

    static GgmlType cacheType(String option, String name) {
        GgmlType t = GgmlType.byName(name).orElse(null);
        if (t != GgmlType.F32 && t != GgmlType.F16 && t != GgmlType.Q8_0) {
            throw new PanamaxException(option + ": cache type '" + name + "' is not one of f32, f16, q8_0");
        }
        return t;
    }

    static int defaultThreads() {
        return WorkerPool.defaultThreads();
    }
}
