package dev.panamax.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Files from another tool (the gguf python package) read here, and our files read there. */
class GgufPythonInteropTest {
    @TempDir
    Path dir;

    @Test
    void readsAFileWrittenByTheGgufPythonPackage() throws Exception {
        Path file = dir.resolve("py.gguf");
        Python.run(dir, """
                import sys, numpy as np, gguf
                w = gguf.GGUFWriter(sys.argv[1], "qwen2")
                w.add_block_count(3)
                w.add_context_length(4096)
                w.add_string("t.s", "h\\u00e9llo \\u4e16\\u754c")
                w.add_array("t.tokens", ["a", "\\u0120b", "<|endoftext|>"])
                w.add_array("t.ints", [1, 2, 3])
                w.add_float32("t.f", 0.5)
                w.add_bool("t.b", True)
                w.add_uint64("t.u64", 2**63 + 5)
                rng = np.random.default_rng(1)
                w.add_tensor("x.weight", rng.standard_normal((3, 8)).astype(np.float32))
                w.add_tensor("q.weight", rng.integers(0, 256, (2, 144), dtype=np.uint8), raw_dtype=gguf.GGMLQuantizationType.Q4_K)
                w.write_header_to_file(); w.write_kv_data_to_file(); w.write_tensors_to_file(); w.close()
                """, file.toString());
        try (GgufFile g = GgufFile.open(file)) {
            Metadata m = g.metadata();
            assertEquals("qwen2", m.getString("general.architecture"));
            assertEquals(3, m.getInt("qwen2.block_count"));
            assertEquals(4096, m.getInt("qwen2.context_length"));
            assertEquals("h\u00e9llo \u4e16\u754c", m.getString("t.s"));
            assertEquals(List.of("a", "\u0120b", "<|endoftext|>"), m.getStringArray("t.tokens"));
            assertArrayEquals(new int[] {1, 2, 3}, m.getIntArray("t.ints"));
            assertEquals(0.5f, m.getFloat("t.f"));
            assertEquals(true, m.getBool("t.b"));
            assertEquals("9223372036854775813", m.get("t.u64").orElseThrow().display(1));
            TensorInfo x = g.tensor("x.weight").info();
            assertArrayEquals(new long[] {8, 3}, x.ne(), "numpy shape (3, 8) is ne = [8, 3]");
            TensorInfo q = g.tensor("q.weight").info();
            assertEquals(GgmlType.Q4_K, q.type());
            assertArrayEquals(new long[] {256, 2}, q.ne());
            assertEquals(288, q.byteSize());
        }
    }

    @Test
    void ourFilesReadInTheGgufPythonPackage() throws Exception {
        Path file = GgufFixtures.write(dir.resolve("ours.gguf"));
        String out = Python.run(dir, """
                import sys, gguf
                r = gguf.GGUFReader(sys.argv[1])
                f = r.fields
                print(f["general.architecture"].contents())
                print(f["t.strings"].contents())
                print(f["t.i64"].contents(), f["t.u32"].contents(), f["t.f64"].contents())
                for t in r.tensors:
                    print(t.name, t.tensor_type.name, list(map(int, t.shape)), bytes(t.data.tobytes()).hex())
                """, file.toString());
        String[] lines = out.strip().split("\n");
        assertEquals("qwen2", lines[0]);
        assertEquals("['a', '', '\u0120hello', '<|im_end|>']", lines[1]);
        assertEquals("-9223372036854775808 4294967295 3.141592653589793", lines[2]);
        HexFormat hex = HexFormat.of();
        assertEquals("a.weight F32 [8, 3] " + hex.formatHex(GgufFixtures.pattern(96, 1).array()), lines[3]);
        assertEquals("b.weight F16 [5] " + hex.formatHex(GgufFixtures.pattern(10, 2).array()), lines[4]);
        assertEquals("c.weight Q8_0 [64, 2] " + hex.formatHex(GgufFixtures.pattern(136, 3).array()), lines[5]);
        try (GgufFile g = GgufFile.open(file)) {
            assertArrayEquals(GgufFixtures.pattern(136, 3).array(), g.tensor("c.weight").data().toArray(ValueLayout.JAVA_BYTE));
        }
    }
}
