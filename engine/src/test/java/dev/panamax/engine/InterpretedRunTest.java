package dev.panamax.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * A process's first generation equals its later ones: the logits of a JVM limited to the C1
 * compiler (which runs the Vector API's Java fallbacks, as every run does before C2 compiles its
 * kernels) are bit for bit those of this JVM once its kernels are compiled. Float lane sums and
 * exp once differed between the two, so the same prompt could get a different first answer.
 */
class InterpretedRunTest {
    private static final Path FIXTURES = Path.of("src/test/resources/fixtures");
    private static final String[] MODELS = {"qwen2-quant-q4_k", "qwen2-quant-q3_k", "qwen2-quant-q6_k",
        "qwen2-quant-q8_0", "qwen2-quant-q5_k", "qwen2-quant-q2_k", "qwen2-quant-iq4_xs", "qwen2-quant-q4_0",
        "qwen2-quant-bf16"};

    @Test
    void interpretedLogitsAreBitIdenticalToCompiledOnes() throws Exception {
        List<String> files = new ArrayList<>();
        for (String m : MODELS) {
            files.add(FIXTURES.resolve(m + ".gguf").toString());
        }
        List<String> interpreted = interpret(files);
        List<String> compiled = new ArrayList<>();
        for (int warm = 0; warm < 40; warm++) {  // enough runs that the kernels are compiled
            compiled.clear();
            for (String f : files) {
                for (float[] row : InterpretedRun.logits(Path.of(f))) {
                    StringBuilder b = new StringBuilder(f);
                    for (float v : row) {
                        b.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(v)));
                    }
                    compiled.add(b.toString());
                }
            }
        }
        assertEquals(compiled.size(), interpreted.size(), "rows of logits");
        for (int i = 0; i < compiled.size(); i++) {
            assertEquals(compiled.get(i), interpreted.get(i), "logits row " + i + " (C1 fallbacks vs C2 intrinsics)");
        }
    }

    private static List<String> interpret(List<String> files) throws IOException, InterruptedException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:TieredStopAtLevel=1", "--add-modules=jdk.incubator.vector",
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"),
                InterpretedRun.class.getName()));
        cmd.addAll(files);
        Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
        List<String> lines;
        try (var out = p.getInputStream()) {
            lines = new String(out.readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        }
        if (!p.waitFor(5, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new AssertionError("the C1-only run did not finish in 5 minutes");
        }
        assertEquals(0, p.exitValue(), "exit status of the C1-only run");
        return lines;
    }
}
