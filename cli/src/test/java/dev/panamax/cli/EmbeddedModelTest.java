package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** run and chat without -m use the demo model embedded in the image (models/ under panamax.home). */
class EmbeddedModelTest {
    static final Path SHIPPED = Path.of("..", "models", EmbeddedModels.DEFAULT).toAbsolutePath().normalize();

    @TempDir
    Path home;

    @AfterEach
    void clearHome() {
        System.clearProperty("panamax.home");
    }

    void embed() throws Exception {
        assertTrue(Files.isRegularFile(SHIPPED), SHIPPED + " is missing");
        Files.createDirectories(home.resolve("models"));
        Files.copy(SHIPPED, home.resolve("models").resolve(EmbeddedModels.DEFAULT));
        System.setProperty("panamax.home", home.toString());
    }

    @Test
    void runWithoutModelUsesTheEmbeddedDemoModel() throws Exception {
        embed();
        CliRunner r = CliRunner.run("run", "-p", "And the LORD said unto Moses,", "-n", "8", "--temp", "0", "--raw",
                "--json", "-t", "1");
        assertEquals(0, r.exitCode(), r.err());
        Map<String, Object> j = JSON.std.mapFrom(r.out());
        assertEquals("demo-target", j.get("model"));
        assertEquals(" and the LORD shall be the LORD,", j.get("text"));
    }

    @Test
    void chatWithoutModelUsesTheEmbeddedDemoModel() throws Exception {
        embed();
        var in = System.in;
        try {
            System.setIn(new java.io.ByteArrayInputStream("Tell me a fortune.\n/exit\n".getBytes()));
            CliRunner r = CliRunner.run("chat", "-n", "4", "--temp", "0", "-t", "1");
            assertEquals(0, r.exitCode(), r.err());
            assertTrue(r.err().contains("panamax chat: demo-target (chatml template"), r.err());
            assertTrue(r.err().contains("generation: 4 tokens"), r.err());
        } finally {
            System.setIn(in);
        }
    }

    @Test
    void withoutModelOrEmbeddedModelTheErrorSaysWhatToDo() {
        System.setProperty("panamax.home", home.toString()); // an image without models/
        for (String[] args : new String[][] {{"run", "-p", "hi"}, {"chat"}}) {
            CliRunner r = CliRunner.run(args);
            assertNotEquals(0, r.exitCode());
            assertTrue(r.err().contains("no model given: pass -m MODEL.gguf"), r.err());
        }
    }
}
