package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.DemoModels;
import dev.panamax.gguf.GgufFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The tokenizers of the shipped demo models (read from the GGUFs that our converter wrote) against
 * Hugging Face {@code tokenizers} on the training checkpoints' tokenizer.json, on the held-out
 * text: the whole text and each line (fixture: tools/fixtures/make_demo_tokenizer_fixtures.py).
 */
class DemoTokenizerTest {

    /** Line 1: the whole held-out text; then one line per line of it. */
    static List<int[]> expected(String model) throws IOException {
        List<int[]> out = new ArrayList<>();
        try (InputStream in = DemoTokenizerTest.class.getResourceAsStream("/demo/tokens-" + model + ".txt.gz");
                BufferedReader r = new BufferedReader(new InputStreamReader(new GZIPInputStream(in), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                out.add(line.isEmpty() ? new int[0] : Arrays.stream(line.split(" ")).mapToInt(Integer::parseInt).toArray());
            }
        }
        return out;
    }

    @ParameterizedTest
    @CsvSource({"target, demo-target-Q4_K_M.gguf, 6005, <|im_end|>", "draft, demo-draft-Q4_K_M.gguf, 4096, </s>"})
    void matchesHuggingFaceTokenizersOnTheHeldOutText(String model, String file, int tokens, String eos) throws Exception {
        String text = DemoModels.text("held-out.txt");
        String[] lines = text.split("\n", -1);
        List<int[]> expected = expected(model);
        assertEquals(1 + lines.length, expected.size(), "fixture inputs: the whole text and each line");
        try (GgufFile g = GgufFile.open(DemoModels.file(file))) {
            Tokenizer t = Tokenizer.fromMetadata(g.metadata());
            assertTrue(t.vocabSize() >= tokens, "vocabulary " + t.vocabSize());
            assertEquals(eos, t.piece(t.eosId().orElseThrow()));
            assertEquals(false, t.addBos());

            int[] whole = t.encode(text, false, true);
            assertArrayEquals(expected.get(0), whole, model + ": the whole held-out text");
            assertTrue(whole.length > 10_000, "tokens " + whole.length);
            assertEquals(text, t.decode(whole));
            int nonEmpty = 0;
            for (int i = 0; i < lines.length; i++) {
                int[] ids = t.encode(lines[i], false, true);
                assertArrayEquals(expected.get(1 + i), ids, model + ": line " + (i + 1) + ": " + lines[i]);
                assertEquals(lines[i], t.decode(ids), model + ": decode of line " + (i + 1));
                nonEmpty += ids.length > 0 ? 1 : 0;
            }
            assertTrue(nonEmpty > 400, "non-empty lines " + nonEmpty);
        }
    }
}
