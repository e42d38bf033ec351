package dev.panamax.engine.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

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
    void aSizeTheSystemCannotProvideFailsUpFront() {
        try (Arena arena = Arena.ofShared()) {
            assertThrows(OutOfMemoryError.class, () -> ZeroPages.allocate(arena, 1L << 52));
        }
    }
}
