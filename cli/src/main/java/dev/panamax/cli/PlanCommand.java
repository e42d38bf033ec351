package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.engine.backend.OffloadPlan;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panamax plan}: a dry run of GPU offload for a given amount of device memory. */
@Command(name = "plan", description = "Show how a model would be split over a GPU with the given memory, and the "
        + "largest context that fits entirely on it (no GPU needed).")
final class PlanCommand implements Callable<Integer> {
    private static final Pattern SIZE = Pattern.compile("(?i)\\s*([0-9]+(?:\\.[0-9]+)?)\\s*(b|kib|kb|mib|mb|gib|gb|k|m|g)?\\s*");

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    DraftOptions draftOptions;

    @Option(names = "--vram", paramLabel = "SIZE", required = true, description = "Free device memory, e.g. 12GiB or 8000MiB.")
    String vram;

    @Option(names = "--vram-reserve", paramLabel = "MiB", defaultValue = "512",
            description = "Memory left for the driver and other programs (default: ${DEFAULT-VALUE}).")
    long reserveMiB;

    @Option(names = {"-ngl", "--gpu-layers"}, paramLabel = "N|auto", defaultValue = "auto", description = "Layers to offload (default: ${DEFAULT-VALUE}).")
    String gpuLayers;

    @Option(names = "--json", description = "Machine-readable output.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        long free = parseSize("--vram", vram);
        int ngl = GpuOptions.parseLayers(gpuLayers);
        PrintWriter out = spec.commandLine().getOut();
        int context = modelOptions.context;
        GgmlType k = ModelOptions.cacheType("-ctk", modelOptions.cacheTypeK);
        GgmlType v = ModelOptions.cacheType("-ctv", modelOptions.cacheTypeV);
        try (Model model = modelOptions.open()) {
            OffloadPlan.ModelSizes sizes = OffloadPlan.ModelSizes.of(model.config(), model.weights(), k, v);
            long draftWeights = 0;
            long draftPerToken = 0;
            String draftName = null;
            if (draftOptions.draft != null) {
                if (!Files.exists(draftOptions.draft)) {
                    throw new PanamaxException(draftOptions.draft + ": no such file (-md)");
                }
                try (Model d = Model.open(draftOptions.draft)) {
                    OffloadPlan.ModelSizes ds = OffloadPlan.ModelSizes.of(d.config(), d.weights(),
                            ModelOptions.cacheType("-ctkd", draftOptions.draftCacheK),
                            ModelOptions.cacheType("-ctvd", draftOptions.draftCacheV));
                    draftWeights = ds.totalLayerBytes() + ds.headBytes();
                    draftPerToken = ds.kvBytesPerToken();
                    draftName = d.displayName();
                }
            }
            long reserve = reserveMiB << 20;
            long draftBytes = draftWeights == 0 ? 0 : draftWeights + draftPerToken * context;
            int batch = Session.deviceMicroBatch(modelOptions.batch);  // what a session gives the device
            OffloadPlan plan = OffloadPlan.plan(sizes, context, batch, free, reserve, ngl, draftBytes);
            int largest = OffloadPlan.largestFullContext(sizes, batch, free, reserve, draftPerToken,
                    draftWeights, Math.max(model.config().trainedContext(), context));
            if (json) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("model", model.displayName());
                j.put("vram_bytes", free);
                j.put("reserve_bytes", reserve);
                j.put("context", context);
                j.put("cache_types", k.name() + "/" + v.name());
                j.put("draft", draftName);
                j.put("layers", plan.layers());
                j.put("layers_on_gpu", plan.layersOnDevice());
                j.put("output_head_on_gpu", plan.headOnDevice());
                j.put("weight_bytes", plan.weightBytes());
                j.put("kv_bytes", plan.kvBytes());
                j.put("scratch_bytes", plan.scratchBytes());
                j.put("draft_bytes", plan.draftBytes());
                j.put("free_left_bytes", plan.budget() - plan.usedBytes());
                j.put("largest_full_context", largest);
                out.println(Json.pretty(j));
            } else {
                out.printf(Locale.ROOT, "model     %s (%d layers), KV %s/%s, context %d%s%n", model.displayName(),
                        plan.layers(), k, v, context, draftName == null ? "" : ", draft " + draftName);
                out.printf(Locale.ROOT, "device    %.2f GiB free, %d MiB reserved%n", free / 1073741824.0, reserveMiB);
                out.println("plan      " + plan.describe());
                out.println("largest context with everything on the GPU: "
                        + (largest == 0 ? "none (the model does not fit)" : largest + " tokens"));
            }
        }
        out.flush();
        return 0;
    }

    static long parseSize(String option, String s) {
        Matcher m = SIZE.matcher(s);
        if (!m.matches()) {
            throw new PanamaxException(option + ": '" + s + "' is not a size (e.g. 12GiB, 8000MiB)");
        }
        double v = Double.parseDouble(m.group(1));
        String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
        long mult = switch (unit) {
            case "k", "kib", "kb" -> 1L << 10;
            case "m", "mib", "mb" -> 1L << 20;
            case "g", "gib", "gb" -> 1L << 30;
            default -> 1;
        };
        return (long) (v * mult);
    }

    static BackendOptions options() {
        return BackendOptions.auto();
    }
}
