package dev.panamax.gguf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each kind of malformed file gets one clear GgufFormatException naming file, offset and problem. */
class GgufFormatErrorsTest {

    private static GgufFormatException fails(byte[] bytes, String expectedText) {
        GgufFormatException e = assertThrows(GgufFormatException.class,
                () -> GgufFile.parse(MemorySegment.ofArray(bytes), "bad.gguf"));
        assertTrue(e.getMessage().startsWith("bad.gguf at byte ") || e.getMessage().startsWith("bad.gguf: "),
                e.getMessage());
        assertTrue(e.getMessage().contains(expectedText), "message '" + e.getMessage() + "' lacks '" + expectedText + "'");
        return e;
    }

    /** One valid tensor after the given key/values. */
    private static RawGguf oneTensor(GgmlType type, long offset, long... ne) {
        return new RawGguf().header(3, 1, 0).tensorInfo("w", type, offset, ne).pad(32);
    }

    @Test
    void truncatedAtEveryPoint(@TempDir Path dir) throws Exception {
        byte[] good = GgufFixtures.bytes(dir);
        int headerEnd = (int) GgufFile.parse(MemorySegment.ofArray(good), "x").header().dataOffset();
        for (int cut = 0; cut < good.length; cut++) {
            byte[] t = Arrays.copyOf(good, cut);
            GgufFormatException e = assertThrows(GgufFormatException.class,
                    () -> GgufFile.parse(MemorySegment.ofArray(t), "bad.gguf"), "cut at " + cut);
            if (cut < headerEnd - 32) {
                String m = e.getMessage();
                assertTrue(m.contains("file ends inside") || m.contains("cannot fit") || m.contains("bytes left"),
                        cut + ": " + m);
            }
        }
    }

    @Test
    void wrongMagic() {
        GgufFormatException e = fails("GGML".getBytes(), "not a GGUF file");
        assertEquals(0, e.offset());
        fails(new RawGguf().u32(0x12345678).u32(3).toBytes(), "magic is 0x12345678");
    }

    @Test
    void unsupportedVersions() {
        assertEquals(4, fails(new RawGguf().u32(GgufHeader.MAGIC).u32(1).u64(0).u64(0).toBytes(),
                "unsupported GGUF version 1").offset());
        fails(new RawGguf().u32(GgufHeader.MAGIC).u32(4).u64(0).u64(0).toBytes(), "unsupported GGUF version 4");
        fails(new RawGguf().u32(GgufHeader.MAGIC).u32(3L << 24).u64(0).u64(0).toBytes(), "big-endian");
    }

    @Test
    void absurdCountsAndLengths() {
        fails(new RawGguf().header(3, 1L << 60, 0).toBytes(), "tensor count 1152921504606846976 cannot fit");
        fails(new RawGguf().header(3, 0, -1L).toBytes(), "key/value count 18446744073709551615 cannot fit");
        fails(new RawGguf().header(3, 0, 1).u64(1L << 40).zeros(16).toBytes(), "metadata key length 1099511627776 is larger");
        fails(new RawGguf().header(3, 0, 1).string("k").u32(GgufValueType.STRING.id()).u64(-2).toBytes(),
                "length 18446744073709551614 is larger");
        fails(new RawGguf().header(3, 0, 1).string("k").u32(GgufValueType.ARRAY.id())
                .u32(GgufValueType.UINT8.id()).u64(1L << 60).toBytes(), "array 'k' count 1152921504606846976 cannot fit");
        fails(new RawGguf().header(3, 0, 1).string("k").u32(GgufValueType.ARRAY.id())
                .u32(GgufValueType.STRING.id()).u64(1L << 31).toBytes(), "cannot fit");
    }

    @Test
    void deeplyNestedArrays() {
        RawGguf r = new RawGguf().header(3, 0, 1).string("k").u32(GgufValueType.ARRAY.id());
        for (int i = 0; i < 20; i++) {
            r.u32(GgufValueType.ARRAY.id()).u64(1);
        }
        fails(r.toBytes(), "nested deeper than");
    }

    @Test
    void unknownValueTypeAndBadBool() {
        fails(new RawGguf().header(3, 0, 1).string("k").u32(13).toBytes(), "unknown value type 13 for metadata key 'k'");
        fails(new RawGguf().header(3, 0, 1).string("k").u32(GgufValueType.BOOL.id()).u8(2).toBytes(),
                "is not a boolean");
    }

    @Test
    void dataPastTheEndOfTheFile() {
        byte[] b = oneTensor(GgmlType.F32, 0, 16).zeros(60).toBytes();
        fails(b, "data of tensor 'w' (64 bytes at data offset 0) runs past the end of the file (60 data bytes)");
        fails(oneTensor(GgmlType.F32, 1L << 40, 4).zeros(16).toBytes(), "runs past the end");
        fails(oneTensor(GgmlType.F32, 0, 4).toBytes(), "runs past the end");
    }

    @Test
    void misalignedData() {
        fails(oneTensor(GgmlType.F32, 8, 4).zeros(64).toBytes(), "data offset 8 is not a multiple of the alignment 32");
        byte[] b = new RawGguf().header(3, 0, 1).kvU32("general.alignment", 24).toBytes();
        fails(b, "must be a power of two");
        fails(new RawGguf().header(3, 0, 1).kvU32("general.alignment", 0).toBytes(), "must be a power of two");
        fails(new RawGguf().header(3, 0, 1).string("general.alignment").u32(GgufValueType.STRING.id()).string("32")
                .toBytes(), "must be an integer");
    }

    @Test
    void overlappingData() {
        byte[] b = new RawGguf().header(3, 2, 0)
                .tensorInfo("a", GgmlType.F32, 0, 16)
                .tensorInfo("b", GgmlType.F32, 32, 16)
                .pad(32).zeros(128).toBytes();
        fails(b, "data of tensor 'b' overlaps tensor 'a'");
    }

    @Test
    void unknownTypeId() {
        fails(rawWithType(5), "tensor 'w' has unknown ggml type id 5");
        fails(rawWithType(1000), "unknown ggml type id 1000");
    }

    private static byte[] rawWithType(long id) {
        return new RawGguf().header(3, 1, 0).string("w").u32(1).u64(32).u32(id).u64(0).pad(32).zeros(64).toBytes();
    }

    @Test
    void badShapes() {
        fails(oneTensor(GgmlType.Q4_K, 0, 100).zeros(1000).toBytes(), "rows of 100 values are not a whole number of Q4_K blocks of 256");
        fails(oneTensor(GgmlType.F32, 0, 1L << 62, 1L << 62).toBytes(), "overflows a 64-bit byte size");
        fails(oneTensor(GgmlType.F32, 0, 4, 0).toBytes(), "dimension 1 = 0");
        fails(new RawGguf().header(3, 1, 0).string("w").u32(5).zeros(40).toBytes(), "has 5 dimensions (expected 1 to 4)");
        fails(new RawGguf().header(3, 1, 0).string("w").u32(0).zeros(40).toBytes(), "has 0 dimensions");
    }

    @Test
    void duplicates() {
        fails(new RawGguf().header(3, 0, 2).kvU32("a", 1).kvU32("a", 2).toBytes(), "duplicate metadata key 'a'");
        fails(new RawGguf().header(3, 2, 0).tensorInfo("w", GgmlType.F32, 0, 8).tensorInfo("w", GgmlType.F32, 32, 8)
                .pad(32).zeros(64).toBytes(), "duplicate tensor name 'w'");
    }

    @Test
    void invalidUtf8() {
        byte[] bad = {(byte) 0xC3, (byte) 0x28};
        fails(new RawGguf().header(3, 0, 1).u64(2).bytes(bad).u32(4).u32(1).toBytes(), "metadata key is not valid UTF-8");
        fails(new RawGguf().header(3, 0, 1).string("k").u32(GgufValueType.STRING.id()).u64(2).bytes(bad).toBytes(),
                "value of 'k' is not valid UTF-8");
        fails(new RawGguf().header(3, 1, 0).u64(3).bytes(new byte[] {'a', (byte) 0xFF, 'b'}).zeros(40).toBytes(),
                "tensor name is not valid UTF-8");
    }
}
