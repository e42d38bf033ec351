package dev.panamax.engine.convert;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;

/**
 * Tiny Hugging Face models made by transformers at test time (tools/convert/hf_reference.py), with
 * reference logits and perplexities; made once per test JVM. Tests that need them skip, saying
 * why, when python3, torch or transformers are missing.
 */
public final class HfReference {
    private static Path dir;
    private static Map<String, Object> reference;
    private static String unavailable;

    private HfReference() {}

    /** The folder holding qwen2/, qwen3/, llama/ and reference.json. */
    public static synchronized Path dir() {
        ensure();
        return dir;
    }

    @SuppressWarnings("unchecked")
    public static synchronized Map<String, Object> model(String name) {
        ensure();
        return (Map<String, Object>) ((Map<String, Object>) reference.get("models")).get(name);
    }

    private static void ensure() {
        if (unavailable != null) {
            Assumptions.abort(unavailable);
        }
        if (reference != null) {
            return;
        }
        Path script = script();
        try {
            Path out = Files.createTempDirectory("panamax-hf-reference");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> deleteTree(out)));
            Process p;
            try {
                p = new ProcessBuilder("python3", script.toString(), out.toString()).redirectErrorStream(true).start();
            } catch (IOException e) {
                unavailable = "python3 is not available: " + e.getMessage();
                Assumptions.abort(unavailable);
                return;
            }
            byte[] text = p.getInputStream().readAllBytes();
            if (!p.waitFor(600, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
            String s = new String(text, StandardCharsets.UTF_8);
            if (s.contains("ModuleNotFoundError") || s.contains("No module named")) {
                unavailable = "python reference packages missing (pip install torch transformers tokenizers numpy): "
                        + s.lines().filter(l -> l.contains("No module")).findFirst().orElse(s.strip());
                Assumptions.abort(unavailable);
            }
            assertEquals(0, p.exitValue(), "tools/convert/hf_reference.py failed:\n" + s);
            reference = JSON.std.mapFrom(Files.readString(out.resolve("reference.json")));
            dir = out;
        } catch (IOException | InterruptedException e) {
            throw new IllegalStateException(e);
        }
    }

    private static Path script() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path s = p.resolve("tools/convert/hf_reference.py");
            if (Files.isRegularFile(s)) {
                return s;
            }
        }
        unavailable = "tools/convert/hf_reference.py not found above " + Path.of("").toAbsolutePath();
        Assumptions.abort(unavailable);
        throw new AssertionError();
    }

    static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort
        }
    }

    public static float[][] floats2(Object rows) {
        List<?> l = (List<?>) rows;
        float[][] out = new float[l.size()][];
        for (int i = 0; i < out.length; i++) {
            List<?> r = (List<?>) l.get(i);
            out[i] = new float[r.size()];
            for (int j = 0; j < r.size(); j++) {
                out[i][j] = ((Number) r.get(j)).floatValue();
            }
        }
        return out;
    }

    public static int[] ints(Object list) {
        return ((List<?>) list).stream().mapToInt(o -> ((Number) o).intValue()).toArray();
    }
}
