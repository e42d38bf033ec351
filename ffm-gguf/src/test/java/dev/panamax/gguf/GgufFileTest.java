package dev.panamax.gguf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.MetadataValue.IntValue;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GgufFileTest {
    @TempDir
    Path dir;

    @Test
    void roundTripKeepsEveryValueTypeAndTensorByte() throws IOException {
        Path file = GgufFixtures.write(dir.resolve("m.gguf"));
        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(3, g.version());
            Metadata m = g.metadata();
            assertEquals("qwen2", m.getString("general.architecture"));
            assertEquals("fixture \u00e9\u4e2d\ud83d\ude00", m.getString("general.name"));
            assertEquals(255, m.getInt("t.u8"));
            assertEquals(-128, m.getInt("t.i8"));
            assertEquals(65535, m.getInt("t.u16"));
            assertEquals(-32768, m.getInt("t.i16"));
            assertEquals(0xFFFF_FFFFL, m.getLong("t.u32"));
            assertEquals(Integer.MIN_VALUE, m.getInt("t.i32"));
            assertEquals(new IntValue(GgufValueType.UINT64, -1L), m.get("t.u64").orElseThrow());
            assertEquals(Long.MIN_VALUE, m.getLong("t.i64"));
            assertEquals(1.5f, m.getFloat("t.f32"));
            assertEquals(Math.PI, m.getDouble("t.f64"));
            assertTrue(m.getBool("t.bool"));
            assertEquals(List.of("a", "", "\u0120hello", "<|im_end|>"), m.getStringArray("t.strings"));
            assertArrayEquals(new int[] {1, -2, 3}, m.getIntArray("t.ints"));
            assertArrayEquals(new int[] {0, 7, 255}, m.getIntArray("t.u8s"));
            assertArrayEquals(new float[] {0.25f, -1f}, m.getFloatArray("t.floats"));
            assertEquals(2, m.getInt("qwen2.block_count"));
            assertTrue(m.optInt("absent").isEmpty());
            assertEquals("[[\"x\", \"y\"], [9], [[true]]]", m.get("t.nested").orElseThrow().display(10));

            // every value written is read back with the same type and value, in order
            assertEquals(List.copyOf(GgufFixtures.everyValueType().entrySet()), List.copyOf(m.asMap().entrySet()));

            assertEquals(List.of("a.weight", "b.weight", "c.weight"),
                    g.tensors().stream().map(GgufTensor::name).toList());
            GgufTensor a = g.tensor("a.weight");
            assertEquals(GgmlType.F32, a.type());
            assertArrayEquals(new long[] {8, 3}, a.info().ne());
            assertEquals(96, a.data().byteSize());
            assertArrayEquals(GgufFixtures.pattern(96, 1).array(), a.data().toArray(ValueLayout.JAVA_BYTE));
            assertArrayEquals(GgufFixtures.pattern(10, 2).array(), g.tensor("b.weight").data().toArray(ValueLayout.JAVA_BYTE));
            GgufTensor c = g.tensor("c.weight");
            assertEquals(GgmlType.Q8_0, c.type());
            assertEquals(2, c.info().rowCount());
            assertArrayEquals(GgufFixtures.pattern(136, 3).array(), c.data().toArray(ValueLayout.JAVA_BYTE));
            assertEquals(0, c.info().offset() % 32);
            assertEquals(8 * 3 + 5 + 128, g.parameterCount());
            assertTrue(a.data().isReadOnly(), "tensors are read-only views of the mapping");
            PanamaxException missing = assertThrows(PanamaxException.class, () -> g.tensor("nope"));
            assertTrue(missing.getMessage().contains("'nope'"));
        }
    }

    @Test
    void metadataAccessorsNameTheKeyAndExpectation() throws IOException {
        try (GgufFile g = GgufFile.open(GgufFixtures.write(dir.resolve("m.gguf")))) {
            Metadata m = g.metadata();
            MetadataException e1 = assertThrows(MetadataException.class, () -> m.getInt("qwen2.context_length"));
            assertTrue(e1.getMessage().contains("'qwen2.context_length' is missing"), e1.getMessage());
            MetadataException e2 = assertThrows(MetadataException.class, () -> m.getInt("general.name"));
            assertTrue(e2.getMessage().contains("should be an integer"), e2.getMessage());
            MetadataException e3 = assertThrows(MetadataException.class, () -> m.getInt("t.u32"));
            assertTrue(e3.getMessage().contains("fits 32 bits"), e3.getMessage());
            assertThrows(MetadataException.class, () -> m.getLong("t.u64"));
            assertThrows(MetadataException.class, () -> m.getStringArray("t.ints"));
        }
    }

    @Test
    void customAlignmentIsWrittenAndHonoured() throws IOException {
        Path file = dir.resolve("a64.gguf");
        try (GgufWriter w = GgufWriter.create(file).alignment(64)) {
            w.put("general.architecture", "llama");
            w.addTensor("x", GgmlType.F32, new long[] {3}, s -> s.write(GgufFixtures.pattern(12, 5)));
            w.addTensor("y", GgmlType.F32, new long[] {5}, s -> s.write(GgufFixtures.pattern(20, 6)));
            w.finish();
        }
        try (GgufFile g = GgufFile.open(file)) {
            assertEquals(64, g.alignment());
            assertEquals(64, g.metadata().getInt(GgufHeader.ALIGNMENT_KEY));
            assertEquals(0, g.header().dataOffset() % 64);
            assertEquals(64, g.tensor("y").info().offset());
            assertArrayEquals(GgufFixtures.pattern(20, 6).array(), g.tensor("y").data().toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void callerOwnedArenaKeepsMappingUntilItCloses() throws IOException {
        Path file = GgufFixtures.write(dir.resolve("m.gguf"));
        MemorySegment data;
        try (Arena arena = Arena.ofConfined()) {
            GgufFile g = GgufFile.open(file, arena);
            g.close(); // does not unmap: the caller's arena owns the mapping
            data = g.tensor("a.weight").data();
            assertEquals(GgufFixtures.pattern(96, 1).array()[0], data.get(ValueLayout.JAVA_BYTE, 0));
        }
        assertFalse(data.scope().isAlive(), "closing the arena unmaps the file");
    }

    @Test
    void splitModelOpensAllParts() throws IOException {
        int parts = 3;
        for (int i = 0; i < parts; i++) {
            Path p = dir.resolve(String.format("model-%05d-of-%05d.gguf", i + 1, parts));
            try (GgufWriter w = GgufWriter.create(p)) {
                if (i == 0) {
                    w.put("general.architecture", "qwen2");
                    w.put(GgufFile.SPLIT_TENSORS_KEY, new IntValue(GgufValueType.INT32, 6));
                }
                w.put(GgufFile.SPLIT_NO_KEY, new IntValue(GgufValueType.UINT16, i));
                w.put(GgufFile.SPLIT_COUNT_KEY, new IntValue(GgufValueType.UINT16, parts));
                for (int t = 0; t < 2; t++) {
                    int id = i * 2 + t;
                    w.addTensor("t" + id, GgmlType.F32, new long[] {4}, s -> s.write(GgufFixtures.pattern(16, id)));
                }
                w.finish();
            }
        }
        try (GgufFile g = GgufFile.open(dir.resolve("model-00001-of-00003.gguf"))) {
            assertEquals(3, g.paths().size());
            assertEquals(6, g.tensors().size());
            assertEquals("qwen2", g.metadata().getString("general.architecture"));
            for (int id = 0; id < 6; id++) {
                assertArrayEquals(GgufFixtures.pattern(16, id).array(),
                        g.tensor("t" + id).data().toArray(ValueLayout.JAVA_BYTE));
            }
        }
        PanamaxException notFirst = assertThrows(PanamaxException.class,
                () -> GgufFile.open(dir.resolve("model-00002-of-00003.gguf")));
        assertTrue(notFirst.getMessage().contains("open the first part"), notFirst.getMessage());
        Files.delete(dir.resolve("model-00003-of-00003.gguf"));
        PanamaxException missing = assertThrows(PanamaxException.class,
                () -> GgufFile.open(dir.resolve("model-00001-of-00003.gguf")));
        assertTrue(missing.getMessage().contains("model-00003-of-00003.gguf: no such file"), missing.getMessage());
    }

    /**
     * A 9 GiB file (sparse: it takes almost no disk) with one tensor over 2 GiB and data past
     * 4 GiB: opening maps it without reading or copying the data.
     */
    @Test
    void largeFileWithTensorsOverTwoGiB() throws IOException {
        Path file = dir.resolve("big.gguf");
        long big = 3L << 30; // 3 GiB of F16 in one tensor
        try (GgufWriter w = GgufWriter.create(file)) {
            w.put("general.architecture", "qwen2");
            w.addTensor("huge", GgmlType.F16, new long[] {1L << 15, big / 2 >> 15}, TensorSource.zeros(big));
            long[] ne2 = {1L << 16, 3L << 15};
            w.addTensor("huge2", GgmlType.Q8_0, ne2, TensorSource.zeros(GgmlType.Q8_0.bytesFor(ne2[0] * ne2[1])));
            w.addTensor("tail", GgmlType.F32, new long[] {4}, s -> s.write(GgufFixtures.pattern(16, 9)));
            w.finish();
        }
        assertTrue(Files.size(file) > 9L << 30, "file is over 9 GiB");
        try (GgufFile g = GgufFile.open(file)) {
            GgufTensor huge = g.tensor("huge");
            assertEquals(big, huge.data().byteSize());
            assertEquals(0, huge.data().get(ValueLayout.JAVA_BYTE, big - 1));
            GgufTensor tail = g.tensor("tail");
            assertTrue(g.header().dataOffset() + tail.info().offset() > 4L << 30);
            assertArrayEquals(GgufFixtures.pattern(16, 9).array(), tail.data().toArray(ValueLayout.JAVA_BYTE));
        }
    }

    @Test
    void openingMissingOrOddPathsIsAClearError() throws IOException {
        PanamaxException e = assertThrows(PanamaxException.class, () -> GgufFile.open(dir.resolve("none.gguf")));
        assertTrue(e.getMessage().endsWith("none.gguf: no such file"), e.getMessage());
        e = assertThrows(PanamaxException.class, () -> GgufFile.open(dir));
        assertTrue(e.getMessage().contains("is a directory"), e.getMessage());
        Path empty = Files.createFile(dir.resolve("empty.gguf"));
        e = assertThrows(GgufFormatException.class, () -> GgufFile.open(empty));
        assertTrue(e.getMessage().contains("file is empty"), e.getMessage());
    }

    @Test
    void writerLeavesNoFileWhenATensorFailsOrIsAbandoned() throws IOException {
        Path target = dir.resolve("out.gguf");
        GgufWriter w = GgufWriter.create(target);
        w.addTensor("x", GgmlType.F32, new long[] {4}, s -> {
            s.write(GgufFixtures.pattern(8, 1));
            throw new IOException("disk on fire");
        });
        IOException e = assertThrows(IOException.class, w::finish);
        assertEquals("disk on fire", e.getMessage());
        w.close();
        try (var files = Files.list(dir)) {
            assertEquals(List.of(), files.toList(), "neither target nor temporary file remains");
        }
        try (GgufWriter abandoned = GgufWriter.create(target)) {
            abandoned.addTensor("x", GgmlType.F32, new long[] {4}, TensorSource.zeros(16));
        }
        assertFalse(Files.exists(target));

        // a source that writes the wrong number of bytes is caught, and an existing file is kept
        Files.writeString(target, "old");
        try (GgufWriter bad = GgufWriter.create(target)) {
            bad.addTensor("x", GgmlType.F32, new long[] {4}, s -> s.write(GgufFixtures.pattern(8, 1)));
            IllegalStateException ise = assertThrows(IllegalStateException.class, bad::finish);
            assertTrue(ise.getMessage().contains("wrote 8 bytes, expected 16"));
        }
        assertEquals("old", Files.readString(target));
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count());
        }
    }

    @Test
    void writerRejectsDuplicates() throws IOException {
        try (GgufWriter w = GgufWriter.create(dir.resolve("d.gguf"))) {
            w.put("k", "v");
            assertThrows(IllegalArgumentException.class, () -> w.put("k", "v2"));
            w.addTensor("t", GgmlType.F32, new long[] {1}, TensorSource.zeros(4));
            assertThrows(IllegalArgumentException.class,
                    () -> w.addTensor("t", GgmlType.F32, new long[] {1}, TensorSource.zeros(4)));
            assertThrows(IllegalArgumentException.class,
                    () -> w.addTensor("q", GgmlType.Q4_K, new long[] {100}, TensorSource.zeros(4)));
        }
    }

    @Test
    void parseInMemoryMatchesMappedOpen() throws IOException {
        byte[] bytes = GgufFixtures.bytes(dir);
        GgufFile mem = GgufFile.parse(MemorySegment.ofArray(bytes), "mem");
        try (GgufFile mapped = GgufFile.open(dir.resolve("fixture.gguf"))) {
            Map<String, MetadataValue> a = mem.metadata().asMap();
            assertEquals(mapped.metadata().asMap(), a);
            assertEquals(mapped.header().tensors(), mem.header().tensors());
        }
    }

    @Test
    void version2FilesAreRead() {
        byte[] v2 = new RawGguf().header(2, 1, 1).kvU32("general.alignment", 32)
                .tensorInfo("w", GgmlType.F32, 0, 2).pad(32).zeros(8).toBytes();
        GgufFile g = GgufFile.parse(MemorySegment.ofArray(v2), "v2.gguf");
        assertEquals(2, g.version());
        assertEquals(8, g.tensor("w").data().byteSize());
    }

    @Test
    void fileWithoutTensorsNeedsNoDataSection() {
        byte[] b = new RawGguf().header(3, 0, 1).kvU32("a", 1).toBytes();
        assertEquals(0, GgufFile.parse(MemorySegment.ofArray(b), "meta-only").tensors().size());
    }
}
