package dev.panamax.engine.backend;

import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.Weights;
import dev.panamax.gguf.GgmlType;
import java.util.Locale;

/**
 * How a session splits a model between the CPU and an accelerator: the last
 * {@link OffloadPlan#layersOnDevice()} layers and the output head go to the device (see
 * {@link OffloadPlan} for why the last ones), sized by the device's free memory under
 * {@link BackendOptions}; {@link #summary()} is the one line a front end prints at start.
 *
 * @param backend the device, or null when everything runs on the CPU
 */
public record Offload(Backend backend, OffloadPlan plan, String summary) {

    public int layersOnDevice() {
        return backend == null ? 0 : plan.layersOnDevice();
    }

    public boolean headOnDevice() {
        return backend != null && plan.headOnDevice();
    }

    /**
     * Plans the split for a session.
     *
     * @param explicit a backend to use instead of detecting one (tests, tools), or null
     */
    public static Offload decide(ModelConfig c, Weights w, BackendOptions o, int context, int maxTokens,
            GgmlType keyType, GgmlType valueType, Backend explicit) {
        OffloadPlan none = new OffloadPlan(c.layers(), 0, false, 0, 0, 0, 0, 0);
        Backend b = explicit;
        if (b == null) {
            Detection d = Backends.detect(o);
            if (d.backend().isEmpty()) {
                return new Offload(null, none, d.message());
            }
            b = d.backend().get();
        } else if (o.disabled()) {
            return new Offload(null, none, "GPU: disabled (--no-gpu); running on the CPU");
        }
        long free = b.freeBytes();
        long usable = o.limitBytes() > 0 ? Math.min(free, o.limitBytes()) : free;
        OffloadPlan.ModelSizes sizes = OffloadPlan.ModelSizes.of(c, w, keyType, valueType);
        OffloadPlan p = OffloadPlan.plan(sizes, context, maxTokens, usable, o.reserveBytes(), o.layers(), 0);
        String where = b.device() + String.format(Locale.ROOT, ", %.1f GiB free%s", free / 1073741824.0,
                o.limitBytes() > 0 ? String.format(Locale.ROOT, ", limited to %.1f GiB", usable / 1073741824.0) : "");
        if (p.layersOnDevice() == 0 && !p.headOnDevice()) {
            String why = o.layers() == 0 ? "-ngl 0" : "nothing fits";
            return new Offload(null, none, "GPU: " + where + ": " + why + "; running on the CPU");
        }
        return new Offload(b, p, "GPU: " + where + ": " + p.describe());
    }

    /** The same split with the device gone (its load failed): everything on the CPU. */
    public Offload failed(String why) {
        return new Offload(null, new OffloadPlan(plan.layers(), 0, false, 0, 0, 0, 0, 0),
                "GPU: offload failed (" + why + "); running on the CPU");
    }
}
