package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** panamax perplexity on the engine's fixture models. */
class PerplexityCommandTest {
    @TempDir
    Path dir;

    static final String TEXT = "the cat is on the mat, and the dog is in the house. It's what they're doing; we'll see. "
            .repeat(6);

    private Path text() throws Exception {
        Path t = dir.resolve("text.txt");
        Files.writeString(t, TEXT);
        return t;
    }

    @Test
    void runningValuesAndFinalEstimate() throws Exception {
        CliRunner r = CliRunner.run("perplexity", "-m", RunCommandTest.model("qwen2-f32"), "-f", text().toString(),
                "-c", "32", "-t", "2");
        assertEquals(0, r.exitCode(), r.err());
        List<String> lines = r.out().lines().toList();
        assertTrue(lines.get(0).matches("\\[1\\] \\d+\\.\\d{4} \\+/- \\d+\\.\\d{4}"), r.out());
        assertTrue(lines.getLast().matches("Final estimate: PPL = \\d+\\.\\d{4} \\+/- \\d+\\.\\d{5}"), r.out());
        assertTrue(r.err().contains("chunks of 32") && r.err().contains("s per chunk, ETA"), r.err());
        // the same through --json, and --chunks
        CliRunner j = CliRunner.run("perplexity", "-m", RunCommandTest.model("qwen2-f32"), "-f", text().toString(),
                "-c", "32", "--json", "--chunks", "2");
        assertEquals(0, j.exitCode(), j.err());
        Map<String, Object> m = JSON.std.mapFrom(j.out());
        assertEquals(2, ((Number) m.get("chunks")).intValue());
        assertEquals(2 * 15, ((Number) m.get("scored")).intValue());
        double ppl2 = ((Number) m.get("ppl")).doubleValue();
        String second = lines.get(1); // "[2] ppl +/- err": the running value after two chunks
        assertEquals(Double.parseDouble(second.split(" ")[1]), ppl2, 1e-5 * ppl2);
    }

    @Test
    void klDivergenceOfAModelWithItself() throws Exception {
        Path base = dir.resolve("base.kld");
        String model = RunCommandTest.model("llama-f32");
        CliRunner a = CliRunner.run("perplexity", "-m", model, "-f", text().toString(), "-c", "16",
                "--kl-divergence-base", base.toString(), "--kl-top-k", "16");
        assertEquals(0, a.exitCode(), a.err());
        assertTrue(Files.size(base) > 0);
        CliRunner b = CliRunner.run("perplexity", "-m", model, "--kl-divergence", "--kl-divergence-base",
                base.toString());
        assertEquals(0, b.exitCode(), b.err());
        assertTrue(b.out().contains("Mean    KLD:   0.000000"), b.out());
        assertTrue(b.out().contains("Same top p: 100.000 +/- 0.000 %"), b.out());
        assertTrue(b.out().contains("Mean PPL(Q)-PPL(base)"), b.out());
        CliRunner c = CliRunner.run("perplexity", "-m", RunCommandTest.model("llama-f16"), "--kl-divergence",
                "--kl-divergence-base", base.toString(), "--json");
        assertEquals(0, c.exitCode(), c.err());
        Map<String, Object> m = JSON.std.mapFrom(c.out());
        double kl = ((Number) m.get("kl_divergence")).doubleValue();
        assertTrue(kl > 0 && kl < 0.05, "F16 weights move the distribution a little: " + kl);
        assertEquals(16, ((Number) m.get("n_ctx")).intValue());
    }

    @Test
    void badInputsAreOneLineErrors() throws Exception {
        Path shortText = dir.resolve("short.txt");
        Files.writeString(shortText, "too short");
        CliRunner r = CliRunner.run("perplexity", "-m", RunCommandTest.model("qwen2-f32"), "-f", shortText.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("short.txt") && r.err().contains("at least 2 x 512"), r.err());
        r = CliRunner.run("perplexity", "-m", RunCommandTest.model("qwen2-f32"), "--kl-divergence");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--kl-divergence-base"), r.err());
        r = CliRunner.run("perplexity", "-m", RunCommandTest.model("qwen2-f32"), "-f", dir.resolve("none.txt").toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("none.txt") && r.err().contains("no such file"), r.err());
        Path base = dir.resolve("b.kld");
        assertEquals(0, CliRunner.run("perplexity", "-m", RunCommandTest.model("qwen2-f32"), "-f", text().toString(),
                "-c", "16", "--kl-divergence-base", base.toString()).exitCode());
        r = CliRunner.run("perplexity", "-m", RunCommandTest.model("qwen2-f32"), "-c", "32", "--kl-divergence",
                "--kl-divergence-base", base.toString());
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("-c 32") && r.err().contains("16"), r.err());
        for (CliRunner x : List.of(r)) {
            assertFalse(x.err().contains("\tat "), "no stack trace");
        }
    }
}
