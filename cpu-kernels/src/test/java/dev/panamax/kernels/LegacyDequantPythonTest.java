package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both dequantizers against the {@code gguf} python package's numpy dequantizers on random and
 * adversarial blocks (random bytes, extreme finite fp16 scales, zero blocks, all-ones blocks).
 * Every formula here is a product of exactly representable values or, for Q4_1/Q5_1, d*q + m with
 * the same two float32 roundings numpy does, and IQ4_XS's (d*(ls-32))*v likewise: so equality is
 * exact, bit for bit. The one exception: F16 NaN inputs only have to come out NaN (hardware
 * half-to-float conversion may quiet a signalling NaN's payload).
 */
@Tag("vector")
class LegacyDequantPythonTest {
    private static final String SCRIPT = """
            import sys, numpy as np
            from gguf import GGMLQuantizationType as T
            from gguf.quants import dequantize
            d = sys.argv[1]
            for name in sys.argv[2:]:
                data = np.fromfile(f"{d}/{name}.bin", dtype=np.uint8)
                dequantize(data, T[name]).astype(np.float32).tofile(f"{d}/{name}.f32")
            print("ok")
            """;

    @Test
    void bothDequantizersEqualGgufPython(@TempDir Path dir) throws Exception {
        int values = 8 * 256 * 9; // 2304 blocks of 32, 72 super-blocks of 256
        String[] names = new String[LegacyBlocks.TYPES.length];
        byte[][] data = new byte[names.length][];
        for (int k = 0; k < names.length; k++) {
            GgmlType t = LegacyBlocks.TYPES[k];
            names[k] = t.name();
            data[k] = LegacyBlocks.adversarial(t, values / t.blockValues(), 1000 + k);
            Files.write(dir.resolve(t.name() + ".bin"), data[k]);
        }
        String[] args = new String[names.length + 1];
        args[0] = dir.toString();
        System.arraycopy(names, 0, args, 1, names.length);
        assertEquals("ok", Python.run(dir, SCRIPT, args).strip());

        for (int k = 0; k < names.length; k++) {
            GgmlType t = LegacyBlocks.TYPES[k];
            QuantFormat f = Kernels.of(t);
            float[] want = Golden.floats(dir.resolve(t.name() + ".f32"));
            assertEquals(values, want.length);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment seg = arena.allocate(data[k].length + 1).asSlice(1); // odd address
                MemorySegment.copy(data[k], 0, seg, ValueLayout.JAVA_BYTE, 0, data[k].length);
                float[] ref = new float[values];
                float[] vec = new float[values + 5];
                f.dequantizeReference(seg, 0, ref, 0, values);
                f.dequantize(seg, 0, vec, 5, values);
                for (int i = 0; i < values; i++) {
                    check(t, "reference", i, want[i], ref[i]);
                    check(t, "vector", i, want[i], vec[5 + i]);
                }
            }
        }
    }

    private static void check(GgmlType t, String which, int i, float want, float got) {
        if (Float.floatToRawIntBits(want) == Float.floatToRawIntBits(got)) {
            return;
        }
        if (t == GgmlType.F16 && Float.isNaN(want) && Float.isNaN(got)) {
            return;
        }
        fail(t + " " + which + " value " + i + " (block " + i / t.blockValues() + "): gguf " + want + " ("
                + Integer.toHexString(Float.floatToRawIntBits(want)) + "), ours " + got + " ("
                + Integer.toHexString(Float.floatToRawIntBits(got)) + ")");
    }
}
