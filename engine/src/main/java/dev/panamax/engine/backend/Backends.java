package dev.panamax.engine.backend;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;

/**
 * Finds accelerator backends with {@link ServiceLoader}. Detection runs once per process and device
 * choice (it loads native libraries and initializes drivers); the backend found is shared by every
 * session and stays open for the life of the process. Never throws: without a usable device the
 * result says why, in one line, and sessions run on the CPU.
 */
public final class Backends {
    private static final Map<Integer, Detection> DETECTED = new HashMap<>();

    private Backends() {}

    /** The accelerator to use under these options, or why there is none. */
    public static synchronized Detection detect(BackendOptions options) {
        if (options.disabled()) {
            return Detection.none("GPU: disabled (--no-gpu); running on the CPU");
        }
        return DETECTED.computeIfAbsent(options.mainDevice(), d -> detectNow(options));
    }

    private static Detection detectNow(BackendOptions options) {
        List<String> why = new ArrayList<>();
        try {
            for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) {
                Detection d;
                try {
                    d = p.detect(options);
                } catch (RuntimeException | LinkageError e) {  // a provider must not throw; be safe anyway
                    d = Detection.none(p.name() + ": " + e);
                }
                if (d.backend().isPresent()) {
                    return d;
                }
                why.add(d.message());
            }
        } catch (ServiceConfigurationError e) {
            why.add("GPU plugin could not be loaded: " + e.getMessage());
        }
        if (why.isEmpty()) {
            return Detection.none("GPU: no GPU plugin in this build; running on the CPU");
        }
        return Detection.none(String.join("; ", why));
    }
}
