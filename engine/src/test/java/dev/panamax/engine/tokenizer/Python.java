package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;

/**
 * Runs tools/tokenizer/hf_reference.py (Hugging Face tokenizers / gguf as independent references).
 * Skips the test (visibly, with the reason) when python3, the packages or the script are missing.
 */
final class Python {
    private Python() {}

    static Path referenceScript() {
        Path dir = Path.of("").toAbsolutePath();
        for (Path p = dir; p != null; p = p.getParent()) {
            Path script = p.resolve("tools/tokenizer/hf_reference.py");
            if (Files.isRegularFile(script)) {
                return script;
            }
        }
        Assumptions.abort("tools/tokenizer/hf_reference.py not found above " + dir);
        throw new AssertionError();
    }

    static String run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("python3", referenceScript().toString()));
        cmd.addAll(List.of(args));
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            Assumptions.abort("python3 is not available: " + e.getMessage());
            throw e;
        }
        byte[] out = p.getInputStream().readAllBytes();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
        }
        String text = new String(out, StandardCharsets.UTF_8);
        if (text.contains("ModuleNotFoundError")) {
            Assumptions.abort("python reference package missing (pip install tokenizers gguf numpy): " + text.strip());
        }
        assertEquals(0, p.exitValue(), "python failed:\n" + text);
        return text;
    }
}
