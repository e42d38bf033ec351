package dev.panamax.llamacompare;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgmlType;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** The comparison on the demo target model (qwen2; the bundled llama.cpp predates qwen3) (llama.cpp loads the file Panamax's quantizer wrote). */
class LlamaCompareTest {
    private static final Path DEMO = Path.of("../models/demo-target-Q4_K_M.gguf").toAbsolutePath().normalize();

    private record Run(int code, String out, String err) { }

    private static Run run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = LlamaCompare.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Run(code, out.toString(), err.toString());
    }

    @Test
    void bothEnginesRunEachTestAndTheRatioIsTheirs() {
        Run r = run("-m", DEMO.toString(), "-p", "16", "-n", "4", "-d", "0,8", "-t", "1", "-r", "2", "--warmup", "0",
                "--json");
        assertEquals(0, r.code(), r.err());
        Matcher m = Pattern.compile("\\{\"test\": \"(\\w+)\", \"threads\": 1, \"cache_type\": \"f16\", \"depth\": (\\d+),"
                + " \"panamax_tps\": ([0-9.]+), \"panamax_sd\": [0-9.]+, \"llama_cpp_tps\": ([0-9.]+),"
                + " \"llama_cpp_sd\": [0-9.]+, \"ratio\": ([0-9.]+)\\}").matcher(r.out());
        List<String> tests = new ArrayList<>();
        while (m.find()) {
            tests.add(m.group(1) + "@" + m.group(2));
            double ours = Double.parseDouble(m.group(3));
            double theirs = Double.parseDouble(m.group(4));
            assertTrue(ours > 0 && theirs > 0, m.group());
            assertEquals(ours / theirs, Double.parseDouble(m.group(5)), 1e-3 * ours / theirs + 1e-4, m.group());
        }
        assertEquals(List.of("pp16@0", "tg4@0", "pp16@8", "tg4@8"), tests, r.out());
    }

    @Test
    void promptsHaveExactlyTheAskedTokenCountAndDistinctStarts() {
        try (LlamaCpp llama = new LlamaCpp(DEMO, 1, 256, GgmlType.F16)) {
            for (int n : new int[] {1, 7, 64, 200}) {
                assertEquals(n, llama.tokenCount(llama.text(n, n, 'a')), "tokens of a " + n + "-token text");
            }
            String a = llama.text(5, 1, 'a');
            String b = llama.text(5, 1, 'b');
            assertNotEquals(a.charAt(0), b.charAt(0));
            // a depth prefix ends with a newline, which no body's first word merges with
            assertEquals(llama.tokenCount(a + "\n") + 5, llama.tokenCount(a + "\n" + b), a + "|" + b);
        }
    }

    @Test
    void badInputNamesTheFileOrOption() {
        Run missing = run("-m", "/nonexistent/model.gguf");
        assertEquals(1, missing.code());
        assertTrue(missing.err().contains("/nonexistent/model.gguf: no such file (-m)"), missing.err());
        Run cache = run("-m", DEMO.toString(), "-ctk", "q4_0", "-p", "4", "-n", "0", "-r", "1");
        assertEquals(1, cache.code());
        assertTrue(cache.err().contains("-ctk: f16 or q8_0, got q4_0"), cache.err());
        Run reps = run("-m", DEMO.toString(), "-r", "0");
        assertEquals(1, reps.code());
        assertTrue(reps.err().contains("-r/--repetitions must be at least 1"), reps.err());
    }
}
