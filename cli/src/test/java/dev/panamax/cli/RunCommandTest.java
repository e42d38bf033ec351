package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** run / tokenize on the engine's reference fixture models (tiny random weights, real tokenizer metadata). */
class RunCommandTest {
    static final Path FIXTURES = Path.of("../engine/src/test/resources/fixtures").toAbsolutePath().normalize();

    static String model(String name) {
        return FIXTURES.resolve(name + ".gguf").toString();
    }

    @Test
    void greedyRunIsDeterministicAndReportsSpeed() throws Exception {
        String[] args = {"run", "-m", model("qwen2-f32"), "-p", "Hello", "-n", "12", "--temp", "0", "--raw", "--json",
            "-ctk", "f32", "-ctv", "f32", "-t", "1"};
        CliRunner a = CliRunner.run(args);
        CliRunner b = CliRunner.run(args);
        assertEquals(0, a.exitCode(), a.err());
        Map<String, Object> ja = JSON.std.mapFrom(a.out());
        Map<String, Object> jb = JSON.std.mapFrom(b.out());
        assertEquals(ja.get("text"), jb.get("text"), "greedy decoding is deterministic");
        assertEquals(12, ((Number) ja.get("generated_tokens")).intValue());
        assertEquals("length", ja.get("stop_reason"));
        assertTrue(a.err().contains("generation: 12 tokens"), a.err());
    }

    @Test
    void specSpeedupComparesWithTheRunWithoutADraft() throws Exception {
        CliRunner r = CliRunner.run("run", "-m", model("qwen2-f32"), "-md", model("qwen2-quant-q8_0"), "--draft", "3",
                "--spec-speedup", "-p", "Hello", "-n", "10", "--temp", "0", "--raw", "--json", "-t", "1");
        assertEquals(0, r.exitCode(), r.err());
        Map<String, Object> j = JSON.std.mapFrom(r.out());
        @SuppressWarnings("unchecked")
        Map<String, Object> spec = (Map<String, Object>) j.get("speculation");
        assertEquals(Boolean.TRUE, spec.get("identical_to_plain"), spec.toString());
        // the speedup is this run's speed over the run without the draft (both rounded to 0.01)
        double ratio = ((Number) j.get("tokens_per_second")).doubleValue()
                / ((Number) spec.get("tokens_per_second_without_draft")).doubleValue();
        assertEquals(ratio, ((Number) spec.get("speedup")).doubleValue(), 0.011, spec.toString());
        assertTrue(((Number) spec.get("drafted")).intValue() > 0, spec.toString());
        assertTrue(r.err().contains("without the draft: 10 tokens") && r.err().contains("output identical"), r.err());
    }

    @Test
    void seededSamplingRepeatsAndStopStringsAreNotPrinted() throws Exception {
        String[] args = {"run", "-m", model("qwen2-f32"), "-p", "Hi", "-n", "24", "--temp", "1.2", "--seed", "7", "--raw",
            "--json", "-ctk", "f32", "-ctv", "f32"};
        Map<String, Object> a = JSON.std.mapFrom(CliRunner.run(args).out());
        Map<String, Object> b = JSON.std.mapFrom(CliRunner.run(args).out());
        assertEquals(a.get("text"), b.get("text"), "same seed, same text");
        String text = (String) a.get("text");
        String stop = text.substring(3, 5);
        String[] withStop = {"run", "-m", model("qwen2-f32"), "-p", "Hi", "-n", "24", "--temp", "1.2", "--seed", "7",
            "--raw", "--json", "-ctk", "f32", "-ctv", "f32", "--stop", stop};
        Map<String, Object> c = JSON.std.mapFrom(CliRunner.run(withStop).out());
        assertEquals("stop_string", c.get("stop_reason"));
        assertEquals(text.substring(0, text.indexOf(stop)), c.get("text"));
    }

    @Test
    void badOptionsAreClearErrors() {
        CliRunner r = CliRunner.run("run", "-m", model("qwen2-f32"), "-p", "x", "-ctk", "q4_0");
        assertEquals(1, r.exitCode());
        assertEquals("panamax: error: -ctk: cache type 'q4_0' is not one of f32, f16, q8_0", r.err().strip());
        r = CliRunner.run("run", "-m", "/nonexistent.gguf", "-p", "x");
        assertEquals("panamax: error: /nonexistent.gguf: no such file (-m)", r.err().strip());
        r = CliRunner.run("run", "-m", model("qwen2-f32"), "-p", "x", "-c", "4", "-ctk", "f32", "-ctv", "f32");
        assertTrue(r.err().contains("does not fit the context of 4 tokens"), r.err());
        r = CliRunner.run("run", "-m", model("qwen2-f32"), "-p", "x", "--think", "maybe");
        assertTrue(r.err().contains("--think must be on or off"), r.err());
    }

    @Test
    void tokenizePrintsIdsAndPieces() {
        CliRunner r = CliRunner.run("tokenize", "-m", model("qwen2-f32"), "-p", "Hi<|im_end|>", "--ids");
        assertEquals(0, r.exitCode(), r.err());
        assertEquals("[39, 72, 292]", r.out().strip());
        r = CliRunner.run("tokenize", "-m", model("qwen2-f32"), "-p", "Hi<|im_end|>", "--show-count");
        assertTrue(r.out().contains("     292 -> '<|im_end|>'"), r.out());
        assertTrue(r.out().contains("Total number of tokens: 3"), r.out());
    }
}
