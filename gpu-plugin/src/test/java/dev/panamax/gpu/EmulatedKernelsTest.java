package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.panamax.gguf.GgmlType;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The kernel checks of the device script, run on the CUDA emulator (needs g++; skipped without):
 * every weight type's dequantization, matrix-vector and tensor-core matrix kernels against the CPU.
 */
class EmulatedKernelsTest {
    static EmuGpu gpu;

    @BeforeAll
    static void emulator() {
        gpu = EmuGpu.open(1L << 30);
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F32", "F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K",
        "Q3_K", "Q4_K", "Q5_K", "Q6_K", "IQ4_NL", "IQ4_XS"})
    void kernelsMatchTheCpu(GgmlType type) {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Report r = new Report(System.out, null);
        new KernelCheck(gpu, r).check(type, 137, 512, new int[] {1, 3, 8}, new int[] {9, 70});
        assertEquals(List.of(), r.failures());
        assertEquals(0, gpu.liveAllocations());
    }

    @Test
    void elementWiseKernelsMatchTheCpu() {
        assumeTrue(gpu != null, "no C++ compiler for the CUDA emulator");
        Report r = new Report(System.out, null);
        new KernelCheck(gpu, r).checkOps(3, 320);
        assertEquals(List.of(), r.failures());
    }
}
