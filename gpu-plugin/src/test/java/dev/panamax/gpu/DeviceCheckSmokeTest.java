package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panamax.gguf.GgmlType;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The device script's Java side end to end on the CUDA emulator, with small sizes: no step may fail. */
class DeviceCheckSmokeTest {

    @Test
    void checksAndBenchRunOnTheEmulator(@TempDir Path tmp) throws Exception {
        EmuGpu gpu = EmuGpu.open(1L << 30);
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        Report r = new Report(new PrintStream(buf, true, StandardCharsets.UTF_8), tmp.resolve("gpu-report.txt"));
        DeviceCheck.init(r, 3600);
        DeviceCheck.Plan smoke = new DeviceCheck.Plan(List.of(GgmlType.Q4_K, GgmlType.F16), 136, 512, new int[] {1, 5},
                new int[] {9}, false, "qwen2-quant-q5_k", "tiny-qwen2:Q8_0", 4, 24, 3, List.of("tiny-qwen2:Q8_0"));
        DeviceCheck.run(gpu, "all", smoke, Path.of("../engine/src/test/resources/fixtures"), tmp.resolve("models"), 2);
        String log = buf.toString(StandardCharsets.UTF_8);
        System.out.print(log);
        assertEquals(List.of(), r.failures());
        assertTrue(log.contains("BENCH "), log);
        assertTrue(log.contains("synthetic tiny-qwen2:Q8_0 -ngl 1"), log);
        assertTrue(Files.readString(tmp.resolve("gpu-report.txt")).contains("PASS dequant q4_k"));
        assertEquals(0, gpu.liveAllocations(), "device memory leaked");
    }
}
