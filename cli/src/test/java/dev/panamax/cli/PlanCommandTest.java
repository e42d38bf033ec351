package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.util.Map;
import org.junit.jupiter.api.Test;

class PlanCommandTest {
    @Test
    void plansAFixtureModelAndReportsTheLargestContext() throws Exception {
        String m = RunCommandTest.model("qwen2-quant-q4_k");
        CliRunner r = CliRunner.run("plan", "-m", m, "--vram", "600MiB", "--vram-reserve", "64", "--json", "-c", "128");
        assertEquals(0, r.exitCode(), r.err());
        Map<String, Object> j = JSON.std.mapFrom(r.out());
        assertEquals(1, ((Number) j.get("layers")).intValue());
        assertEquals(1, ((Number) j.get("layers_on_gpu")).intValue());
        assertEquals(true, j.get("output_head_on_gpu"));
        assertTrue(((Number) j.get("largest_full_context")).intValue() >= 128);
        CliRunner tiny = CliRunner.run("plan", "-m", m, "--vram", "1MiB", "--vram-reserve", "0");
        assertTrue(tiny.out().contains("nothing fits on the device: running on the CPU"), tiny.out());
    }

    @Test
    void sizesAreParsedWithUnits() {
        assertEquals(12L << 30, PlanCommand.parseSize("--vram", "12GiB"));
        assertEquals(8000L << 20, PlanCommand.parseSize("--vram", "8000 MiB"));
        CliRunner r = CliRunner.run("plan", "-m", RunCommandTest.model("qwen2-f32"), "--vram", "lots");
        assertEquals(1, r.exitCode());
        assertEquals("panamax: error: --vram: 'lots' is not a size (e.g. 12GiB, 8000MiB)", r.err().strip());
    }
}
