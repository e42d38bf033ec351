package dev.panamax.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgmlTypeTest {

    @Test
    void tableMatchesTheGgufPythonPackage(@TempDir Path dir) throws Exception {
        String out = Python.run(dir, """
                from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType as T
                for t in T:
                    bv, bb = GGML_QUANT_SIZES[t]
                    print(t.name, t.value, bv, bb)
                """);
        Map<String, String> python = new HashMap<>();
        for (String line : out.strip().split("\n")) {
            String[] f = line.split(" ");
            python.put(f[0], f[1] + " " + f[2] + " " + f[3]);
        }
        for (GgmlType t : GgmlType.values()) {
            assertEquals(python.get(t.name()), t.id() + " " + t.blockValues() + " " + t.blockBytes(), t.name());
        }
    }

    @Test
    void lookupsAndSizes() {
        assertEquals(GgmlType.Q4_K, GgmlType.byId(12).orElseThrow());
        assertTrue(GgmlType.byId(4).isEmpty(), "id 4 (removed Q4_2) is unknown");
        assertTrue(GgmlType.byId(-1).isEmpty());
        assertTrue(GgmlType.byId(1L << 40).isEmpty());
        assertEquals(GgmlType.Q6_K, GgmlType.byName("q6_k").orElseThrow());
        assertEquals(144L * 20, GgmlType.Q4_K.bytesFor(256 * 20));
        assertEquals(4.5, GgmlType.Q4_K.bitsPerWeight());
        assertThrows(IllegalArgumentException.class, () -> GgmlType.Q8_0.bytesFor(33));
        assertThrows(ArithmeticException.class, () -> GgmlType.F32.bytesFor(Long.MAX_VALUE));
    }
}
