package dev.panamax.engine.backend;

/**
 * A compute backend found with {@link java.util.ServiceLoader} (META-INF/services). The CPU is
 * built in; a GPU plugin on the class path implements this. Detection must never throw: a missing
 * driver, library or device is reported in {@link Detection#message()} and Panamax runs on the CPU.
 */
public interface BackendProvider {
    String name();

    Detection detect(BackendOptions options);
}
