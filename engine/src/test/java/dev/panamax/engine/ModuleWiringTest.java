package dev.panamax.engine;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.Kernels;
import org.junit.jupiter.api.Test;

/** The engine sees the kernels and the GGUF layer through their public seams only. */
class ModuleWiringTest {
    @Test
    void kernelsResolveThroughTheRegistry() {
        assertEquals(GgmlType.F32, Kernels.of(GgmlType.F32).type());
    }
}
