package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** panamax bench / bench kernels: options, table and JSON shape (no timing assertions). */
class BenchCommandTest {

    @Test
    void benchPrintsOneRowPerTestAndJsonWithSamples() throws Exception {
        String model = RunCommandTest.model("qwen2-f32");
        CliRunner r = CliRunner.run("bench", "-m", model, "-p", "4,8", "-n", "3", "-r", "2", "-t", "1,2", "-ctk", "f32",
                "--warmup", "0");
        assertEquals(0, r.exitCode(), r.err());
        long rows = r.out().lines().filter(l -> l.startsWith("|") && (l.contains(" pp") || l.contains(" tg"))).count();
        assertEquals(6, rows, r.out());
        assertTrue(r.out().contains("pp8"), r.out());
        CliRunner j = CliRunner.run("bench", "-m", model, "-p", "4", "-n", "2", "-r", "3", "-t", "1", "-d", "0,5",
                "-ctk", "f32", "--warmup", "0", "--json");
        assertEquals(0, j.exitCode(), j.err());
        Map<String, Object> m = JSON.std.mapFrom(j.out());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> results = (List<Map<String, Object>>) m.get("results");
        assertEquals(4, results.size());
        assertEquals(3, ((List<?>) results.get(0).get("samples_ts")).size());
        assertEquals(5, ((Number) results.get(3).get("n_depth")).intValue());
        assertEquals("tg2", results.get(3).get("test"));
    }

    @Test
    void syntheticModelIsBuiltOnceWithProgress(@TempDir Path dir) throws Exception {
        CliRunner a = CliRunner.run("bench", "--synthetic", "tiny-qwen2:Q8_0", "--cache-dir", dir.toString(), "-p", "4",
                "-n", "2", "-r", "1", "-t", "1", "--warmup", "0");
        assertEquals(0, a.exitCode(), a.err());
        assertTrue(a.err().contains("building tiny-qwen2:Q8_0") && a.err().contains("100%"), a.err());
        assertTrue(Files.isRegularFile(dir.resolve("tiny-qwen2-Q8_0.gguf")));
        CliRunner b = CliRunner.run("bench", "--synthetic", "tiny-qwen2:Q8_0", "--cache-dir", dir.toString(), "-p", "4",
                "-n", "0", "-r", "1", "-t", "1", "--warmup", "0");
        assertEquals(0, b.exitCode(), b.err());
        assertTrue(!b.err().contains("building"), "cached: " + b.err());
    }

    @Test
    void speculativeTableComparesDraftLengthsWithIdenticalOutput() throws Exception {
        String model = RunCommandTest.model("qwen2-f32");
        // the model drafting for itself: every drafted token is accepted, and the text is the same as without a draft
        CliRunner r = CliRunner.run("bench", "-m", model, "-md", model, "--draft", "2,0", "-n", "7", "-r", "1", "-t", "1",
                "--warmup", "0", "--spec-prompt", "The quick brown fox", "--json");
        assertEquals(0, r.exitCode(), r.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) JSON.std.mapFrom(r.out()).get("results");
        assertEquals(2, rows.size(), r.out());
        assertEquals(0, ((Number) rows.get(0).get("draft")).intValue(), "N=0 runs first");
        assertEquals(1.0, ((Number) rows.get(0).get("speedup")).doubleValue());
        Map<String, Object> two = rows.get(1);
        assertEquals(Boolean.TRUE, two.get("identical_to_plain"), two.toString());
        assertTrue(((Number) two.get("drafted")).intValue() > 0, two.toString());
        assertEquals(two.get("drafted"), two.get("accepted"), two.toString());
        CliRunner t = CliRunner.run("bench", "-m", model, "-md", RunCommandTest.model("qwen2-quant-q4_0"), "--draft", "0,1,3",
                "-n", "6", "-r", "1", "-t", "1", "--warmup", "0");
        assertEquals(0, t.exitCode(), t.err());
        assertEquals(3, t.out().lines().filter(l -> l.matches("\\|\\s+[013] \\|.*")).count(), t.out());
        assertTrue(!t.out().contains("| NO"), "speculation changed the greedy output: " + t.out());
    }

    @Test
    void verificationCostIsRelativeToOneTokenAtEachDepth() throws Exception {
        CliRunner r = CliRunner.run("bench", "-m", RunCommandTest.model("qwen2-f32"), "--verify", "1,3", "-d", "0,5", "-r",
                "2", "-t", "1", "--warmup", "0", "--json");
        assertEquals(0, r.exitCode(), r.err());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) JSON.std.mapFrom(r.out()).get("results");
        assertEquals(6, rows.size(), r.out());
        assertEquals(1.0, ((Number) rows.get(0).get("relative_to_one_token")).doubleValue());
        assertEquals(4, ((Number) rows.get(2).get("tokens")).intValue());
        assertEquals(5, ((Number) rows.get(5).get("n_depth")).intValue());
        CliRunner bad = CliRunner.run("bench", "-m", RunCommandTest.model("qwen2-f32"), "--verify", "0");
        assertTrue(bad.err().contains("--verify takes draft lengths of 1 or more"), bad.err());
    }

    @Test
    void badOptionsAreClearErrors() {
        CliRunner r = CliRunner.run("bench", "-p", "4");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("no model"), r.err());
        r = CliRunner.run("bench", "-m", RunCommandTest.model("qwen2-f32"), "-r", "0");
        assertTrue(r.err().contains("-r/--repetitions must be at least 1"), r.err());
        r = CliRunner.run("bench", "--synthetic", "nosuch:Q8_0", "--cache-dir", "/tmp");
        assertTrue(r.err().contains("unknown synthetic model"), r.err());
    }

    @Test
    void kernelBenchReportsBandwidthAndKernels() throws Exception {
        CliRunner r = CliRunner.run("bench", "kernels", "--types", "Q4_K,Q8_0", "--shapes", "64x512", "-t", "1",
                "--tokens", "1,4", "--seconds", "0.1", "--json");
        assertEquals(0, r.exitCode(), r.err());
        Map<String, Object> m = JSON.std.mapFrom(r.out());
        assertEquals(2, ((List<?>) m.get("memory")).size());
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> k = (List<Map<String, Object>>) m.get("kernels");
        assertEquals(4, k.size());
        assertTrue(k.get(0).get("gbps") instanceof Number && k.get(3).get("gflops_max") instanceof Number, k.toString());
        CliRunner t = CliRunner.run("bench", "kernels", "--types", "Q6_K", "--shapes", "32x256", "-t", "1", "--tokens", "1",
                "--seconds", "0.1");
        assertEquals(0, t.exitCode(), t.err());
        assertTrue(t.out().contains("| Q6_K  | 32x256"), t.out());
    }
}
