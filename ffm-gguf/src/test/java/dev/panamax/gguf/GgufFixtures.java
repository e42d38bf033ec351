package dev.panamax.gguf;

import dev.panamax.gguf.MetadataValue.BoolArray;
import dev.panamax.gguf.MetadataValue.FloatArray;
import dev.panamax.gguf.MetadataValue.FloatValue;
import dev.panamax.gguf.MetadataValue.IntArray;
import dev.panamax.gguf.MetadataValue.IntValue;
import dev.panamax.gguf.MetadataValue.NestedArray;
import dev.panamax.gguf.MetadataValue.StringArray;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

/** A small valid GGUF with every metadata value type and a few tensors of different types. */
final class GgufFixtures {
    private GgufFixtures() {}

    /** Metadata with a value of every GGUF type, nested arrays and non-ASCII text, in order. */
    static Map<String, MetadataValue> everyValueType() {
        Map<String, MetadataValue> w = new LinkedHashMap<>();
        w.put("general.architecture", MetadataValue.of("qwen2"));
        w.put("general.name", MetadataValue.of("fixture \u00e9\u4e2d\ud83d\ude00"));
        w.put("t.u8", new IntValue(GgufValueType.UINT8, 255));
        w.put("t.i8", new IntValue(GgufValueType.INT8, -128));
        w.put("t.u16", new IntValue(GgufValueType.UINT16, 65535));
        w.put("t.i16", new IntValue(GgufValueType.INT16, -32768));
        w.put("t.u32", new IntValue(GgufValueType.UINT32, 0xFFFF_FFFFL));
        w.put("t.i32", new IntValue(GgufValueType.INT32, Integer.MIN_VALUE));
        w.put("t.u64", new IntValue(GgufValueType.UINT64, -1L));
        w.put("t.i64", new IntValue(GgufValueType.INT64, Long.MIN_VALUE));
        w.put("t.f32", new FloatValue(GgufValueType.FLOAT32, 1.5f));
        w.put("t.f64", new FloatValue(GgufValueType.FLOAT64, Math.PI));
        w.put("t.bool", MetadataValue.of(true));
        w.put("t.strings", new StringArray(List.of("a", "", "\u0120hello", "<|im_end|>")));
        w.put("t.ints", new IntArray(GgufValueType.INT32, new long[] {1, -2, 3}));
        w.put("t.u8s", new IntArray(GgufValueType.UINT8, new long[] {0, 7, 255}));
        w.put("t.floats", new FloatArray(GgufValueType.FLOAT32, new double[] {0.25, -1}));
        w.put("t.bools", new BoolArray(new boolean[] {true, false}));
        w.put("t.nested", new NestedArray(List.of(
                new StringArray(List.of("x", "y")),
                new IntArray(GgufValueType.INT64, new long[] {9}),
                new NestedArray(List.of(new BoolArray(new boolean[] {true}))))));
        w.put("qwen2.block_count", new IntValue(GgufValueType.UINT32, 2));
        return w;
    }

    /** Writes the fixture: metadata of every type, an F32, an F16 and a Q8_0 tensor of known bytes. */
    static Path write(Path file) throws IOException {
        try (GgufWriter w = GgufWriter.create(file)) {
            everyValueType().forEach(w::put);
            w.addTensor("a.weight", GgmlType.F32, new long[] {8, 3}, sink -> sink.write(pattern(96, 1)));
            w.addTensor("b.weight", GgmlType.F16, new long[] {5}, sink -> sink.write(pattern(10, 2)));
            w.addTensor("c.weight", GgmlType.Q8_0, new long[] {64, 2}, sink -> sink.write(pattern(136, 3)));
            w.finish();
        }
        return file;
    }

    static byte[] bytes(Path dir) throws IOException {
        return Files.readAllBytes(write(dir.resolve("fixture.gguf")));
    }

    static ByteBuffer pattern(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return ByteBuffer.wrap(b);
    }
}
