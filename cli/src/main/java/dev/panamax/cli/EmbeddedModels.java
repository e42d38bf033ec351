package dev.panamax.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** The demo model shipped with the image ({@code models/} next to {@code bin/}), if any. */
final class EmbeddedModels {
    static final String DEFAULT = "demo-target-Q4_K_M.gguf";

    private EmbeddedModels() {}

    static Optional<Path> defaultModel() {
        String home = System.getProperty("panamax.home");
        if (home == null) {
            return Optional.empty();
        }
        Path p = Path.of(home, "models", DEFAULT);
        return Files.isRegularFile(p) ? Optional.of(p) : Optional.empty();
    }
}
