package dev.panamax.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ZeroPagesTest {

    @Test
    void blocksAreZeroWritableAndFreedWithTheirArena() {
        MemorySegment kept;
        try (Arena arena = Arena.ofShared()) {
            for (long bytes : new long[] {1000, 3L << 20, 64L << 20}) {
                MemorySegment s = ZeroPages.allocate(arena, bytes);
                assertEquals(bytes, s.byteSize());
                assertEquals(0, s.address() % 64);
                for (long o = 0; o < bytes; o += Math.max(1, bytes / 97)) {
                    assertEquals(0, s.get(ValueLayout.JAVA_BYTE, o), "byte " + o + " of " + bytes);
                }
                s.set(ValueLayout.JAVA_LONG, bytes - 8, 0x1234_5678_9abcL);
                assertEquals(0x1234_5678_9abcL, s.get(ValueLayout.JAVA_LONG, bytes - 8));
            }
            kept = ZeroPages.allocate(arena, 4L << 20);
        }
        assertFalse(kept.scope().isAlive());
        assertThrows(IllegalStateException.class, () -> kept.get(ValueLayout.JAVA_BYTE, 0));
    }

    @Test
    void prefaultingAMappedFileLeavesItsBytesAndToleratesItsArenaClosing(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("w.bin");
        byte[] bytes = new byte[5 << 20];
        new Random(1).nextBytes(bytes);
        Files.write(file, bytes);
        try (Arena arena = Arena.ofShared(); FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, bytes.length, arena);
            ZeroPages.populateAsync(List.of(m.asSlice(4097, 1 << 20), m.asSlice(0, 100), m.asSlice(3 << 20)));
            assertEquals(Arrays.hashCode(bytes), Arrays.hashCode(m.toArray(ValueLayout.JAVA_BYTE)));
        }
        // the arena closed with the background thread possibly still running: nothing may fail
        ZeroPages.populateAsync(List.of());
    }

    @Test
    void aSizeTheSystemCannotProvideFailsUpFront() {
        try (Arena arena = Arena.ofShared()) {
            assertThrows(OutOfMemoryError.class, () -> ZeroPages.allocate(arena, 1L << 52));
        }
    }
}
