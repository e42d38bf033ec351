package dev.panamax.gpu;

import dev.panamax.engine.Model;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.gguf.GgmlType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Which splits, cache types and tolerances the whole-model checks use for a model file. */
final class OffloadChecks {
    private OffloadChecks() {}

    /** KV cache types a model can use (Q8_0 needs head sizes that are multiples of 32). */
    static List<GgmlType> cacheTypes(Path file) {
        try (Model m = Model.open(file)) {
            List<GgmlType> t = new ArrayList<>(List.of(GgmlType.F16, GgmlType.F32));
            if (m.config().headDim() % 32 == 0) {
                t.add(GgmlType.Q8_0);
            }
            return t;
        }
    }

    /** Everything on the device, one layer fewer (-ngl), and a --vram-limit that fits about half. */
    static List<OffloadCheck.Variant> variants(Path file, SessionOptions o) {
        try (Model m = Model.open(file)) {
            int n = m.config().layers();
            List<OffloadCheck.Variant> v = new ArrayList<>();
            v.add(new OffloadCheck.Variant("all layers", new BackendOptions(false, -1, 0, 0, 0), n));
            if (n > 1) {
                v.add(new OffloadCheck.Variant("-ngl " + (n - 1), new BackendOptions(false, n - 1, 0, 0, 0), n - 1));
            }
            int half = n / 2;
            BackendOptions lim = OffloadCheck.limitFor(m, o, half);
            // the planner's own count: with n-1 layers fitting, it keeps room to run the CPU's layer on the
            // device for prompts, which costs one more layer (see OffloadPlan.plan); the session must follow it
            int planned = OffloadCheck.plannedLayers(m, o, lim);
            v.add(new OffloadCheck.Variant("--vram-limit " + lim.limitBytes() / 1024 + "KiB (" + planned + " layers"
                    + (planned == 0 ? ", head only" : "") + ")", lim, planned));
            return v;
        }
    }

    /** Tolerance against exact logits (max |diff| / rms): the device's f16 prompt path. */
    static double toleranceExact(Path file) {
        return 0.02;
    }

    /** Tolerance against the CPU's logits (max |diff| / rms): float weights are close, int8 activations not. */
    static double toleranceCpu(Path file) {
        try (Model m = Model.open(file)) {
            boolean floats = true;
            for (var l : m.weights().layers()) {
                floats &= DeviceTypes.isFloat(l.wq().format().type()) && DeviceTypes.isFloat(l.down().format().type());
            }
            return floats ? 0.02 : 0.3;
        }
    }
}
