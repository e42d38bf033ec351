package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.gguf.PanamaxException;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** -ngl, --no-gpu, --main-gpu, --vram-reserve, --vram-limit, and the one-line report of run. */
class GpuOptionsTest {
    @Command(name = "t")
    static final class T {
        @Mixin
        GpuOptions gpu;
    }

    static BackendOptions parse(String... args) {
        T t = new T();
        new CommandLine(t).parseArgs(args);
        return t.gpu.backendOptions();
    }

    @Test
    void defaultsAreAutoOnDeviceZero() {
        assertEquals(new BackendOptions(false, -1, 0, 512L << 20, 0), parse());
    }

    @Test
    void optionsMapToBackendOptions() {
        assertEquals(new BackendOptions(true, 20, 1, 1L << 30, 6L << 30),
                parse("--no-gpu", "-ngl", "20", "--main-gpu", "1", "--vram-reserve", "1024", "--vram-limit", "6GiB"));
        assertEquals(6144L << 20, parse("--vram-limit", "6144").limitBytes());
        assertEquals(-1, parse("--gpu-layers", "auto").layers());
        assertEquals(0, parse("-ngl", "0").layers());
    }

    @Test
    void badValuesAreOneLineErrors() {
        PanamaxException e = assertThrows(PanamaxException.class, () -> parse("-ngl", "many"));
        assertEquals("-ngl: expected a layer count or 'auto', got 'many'", e.getMessage());
        assertThrows(PanamaxException.class, () -> parse("-ngl", "-2"));
        assertThrows(PanamaxException.class, () -> parse("--vram-limit", "lots"));
        assertThrows(PanamaxException.class, () -> parse("--main-gpu", "-1"));
    }

    @Test
    void runPrintsWhereTheLayersRun() {
        CliRunner r = CliRunner.run("run", "-m", RunCommandTest.model("qwen2-f32"), "-p", "Hi", "-n", "2", "--raw", "--no-gpu",
                "-t", "1");
        assertEquals(0, r.exitCode(), r.err());
        assertTrue(r.err().lines().anyMatch(l -> l.equals("GPU: disabled (--no-gpu); running on the CPU")), r.err());
        CliRunner auto = CliRunner.run("run", "-m", RunCommandTest.model("qwen2-f32"), "-p", "Hi", "-n", "2", "--raw", "-t", "1");
        assertEquals(0, auto.exitCode(), auto.err());
        assertTrue(auto.err().lines().anyMatch(l -> l.startsWith("GPU: ")), auto.err());
    }
}
