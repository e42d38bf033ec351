package dev.panamax.engine.tokenizer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.GgufWriter;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizers stored in GGUF files: ours (GgufWriter) and the gguf python package's. */
class BpeGgufTest {
    @TempDir
    Path dir;

    @Test
    void metadataFromTokenizerJsonRoundTripsThroughGguf() throws Exception {
        Path file = dir.resolve("tok.gguf");
        try (GgufWriter w = GgufWriter.create(file)) {
            w.put("general.architecture", "qwen3");
            Qwen.metadata().forEach(w::put);
            w.finish();
        }
        Tokenizer direct = Qwen.tokenizer();
        try (GgufFile g = GgufFile.open(file)) {
            long start = System.nanoTime();
            Tokenizer t = Tokenizer.fromMetadata(g.metadata());
            System.out.printf("tokenizer from GGUF metadata: %.0f ms%n", (System.nanoTime() - start) / 1e6);
            assertEquals(direct.vocabSize(), t.vocabSize());
            for (Fixture.Case c : Fixture.cases()) {
                assertArrayEquals(c.ids(), t.encode(c.text(), false, true));
                assertArrayEquals(c.idsNoSpecial(), t.encode(c.text(), false, false));
                assertEquals(c.decoded(), t.decode(c.ids()));
            }
            assertEquals(direct.eosId(), t.eosId());
            assertEquals(direct.padId(), t.padId());
            assertEquals(direct.chatTemplate(), t.chatTemplate());
            assertTrue(t.normalizesNfc());
            for (int id = 0; id < t.vocabSize(); id += 997) {
                assertEquals(direct.piece(id), t.piece(id));
                assertEquals(direct.tokenType(id), t.tokenType(id));
            }
        }
    }

    @Test
    void loadsAFileWrittenByTheGgufPythonPackage() throws Exception {
        Path file = dir.resolve("py.gguf");
        Python.run("gguf", Qwen.dir().toAbsolutePath().toString(), file.toString(), "151936");
        try (GgufFile g = GgufFile.open(file)) {
            Tokenizer t = Tokenizer.fromMetadata(g.metadata());
            assertEquals(151936, t.vocabSize());
            assertEquals(TokenType.UNUSED, t.tokenType(151935));
            assertEquals("[PAD151935]", t.piece(151935));
            assertEquals(OptionalInt.of(151643), t.bosId());
            assertEquals(OptionalInt.of(151645), t.eosId());
            assertEquals(Optional.of("qwen2"), t.preTokenizerName());
            assertTrue(t.normalizesNfc(), "qwen2 implies NFC without Panamax's key");
            assertTrue(t.chatTemplate().orElseThrow().contains("<|im_start|>"));
            // llama.cpp's converter marks <|fim_prefix|> (special=false in HF) CONTROL: it looks special
            assertTrue(t.isControl(t.tokenId("<|fim_prefix|>").orElseThrow()));
            assertEquals(TokenType.USER_DEFINED, t.tokenType(t.tokenId("<think>").orElseThrow()));
            for (Fixture.Case c : Fixture.cases()) {
                assertArrayEquals(c.ids(), t.encode(c.text(), false, true));
                assertEquals(c.decoded(), t.decode(c.ids()));
            }
            assertTrue(t.isEndOfGeneration(151645) && t.isEndOfGeneration(151643));
        }
    }
}
