package dev.panamax.engine;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** The trained demo models shipped in the repository's {@code models/} folder (issue 6). */
public final class DemoModels {
    private DemoModels() {}

    /** {@code models/} at the repository root (tests run in the module folder). */
    public static Path dir() {
        return Path.of("..", "models").toAbsolutePath().normalize();
    }

    /** A shipped model file; fails (not skips) when it is missing. */
    public static Path file(String name) {
        Path p = dir().resolve(name);
        assertTrue(Files.isRegularFile(p), p + " is missing (the demo models are committed in models/)");
        return p;
    }

    public static Path target() {
        return file("demo-target-Q4_K_M.gguf");
    }

    public static Path draft() {
        return file("demo-draft-Q4_K_M.gguf");
    }

    /** A text from src/test/resources/demo/ (the held-out split, never trained on). */
    public static String text(String name) throws IOException {
        try (var in = DemoModels.class.getResourceAsStream("/demo/" + name)) {
            assertTrue(in != null, "/demo/" + name + " is not on the test class path");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
