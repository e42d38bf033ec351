package dev.panamax.engine.backend;

import java.util.Optional;

/** Whether a provider found a usable device, and one line saying what happened. */
public record Detection(Optional<Backend> backend, String message) {
    public static Detection none(String why) {
        return new Detection(Optional.empty(), why);
    }

    public static Detection found(Backend b, String what) {
        return new Detection(Optional.of(b), what);
    }
}
