package dev.panamax.gguf;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * A bounds-checked little-endian reader over a memory segment. Every read that would pass the
 * end, and every length that could not fit in the bytes left, fails with a
 * {@link GgufFormatException} naming the file and offset, before anything is allocated.
 */
final class ByteCursor {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfFloat F32 = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfDouble F64 = ValueLayout.JAVA_DOUBLE_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Largest array or tensor count accepted: far above any real vocabulary or model. */
    static final int MAX_ITEMS = 1 << 24;

    private final MemorySegment segment;
    private final String file;
    private final long size;
    private final CharsetDecoder utf8 = StandardCharsets.UTF_8.newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT);
    private long position;

    ByteCursor(MemorySegment segment, String file) {
        this.segment = segment;
        this.file = file;
        this.size = segment.byteSize();
    }

    long position() {
        return position;
    }

    void position(long p) {
        position = p;
    }

    long remaining() {
        return size - position;
    }

    long size() {
        return size;
    }

    GgufFormatException error(String problem) {
        return new GgufFormatException(file, position, problem);
    }

    GgufFormatException error(long at, String problem) {
        return new GgufFormatException(file, at, problem);
    }

    private void need(long n, String what) {
        if (n > remaining()) {
            throw error("file ends inside " + what + " (needs " + n + " bytes, " + remaining() + " left)");
        }
    }

    int u8(String what) {
        need(1, what);
        return segment.get(ValueLayout.JAVA_BYTE, position++) & 0xFF;
    }

    int u16(String what) {
        need(2, what);
        int v = segment.get(U16, position) & 0xFFFF;
        position += 2;
        return v;
    }

    /** An unsigned 32-bit value, as a long. */
    long u32(String what) {
        need(4, what);
        long v = segment.get(U32, position) & 0xFFFF_FFFFL;
        position += 4;
        return v;
    }

    long u64(String what) {
        need(8, what);
        long v = segment.get(U64, position);
        position += 8;
        return v;
    }

    float f32(String what) {
        need(4, what);
        float v = segment.get(F32, position);
        position += 4;
        return v;
    }

    double f64(String what) {
        need(8, what);
        double v = segment.get(F64, position);
        position += 8;
        return v;
    }

    /**
     * A count of items that each take at least {@code minItemBytes}: bounded by the bytes left and
     * by {@link #MAX_ITEMS}, so no count can make the parser allocate more than a small multiple of
     * the file's own size.
     */
    int count(String what, long minItemBytes) {
        long at = position;
        long n = u64(what + " count");
        if (n < 0 || (minItemBytes > 0 && n > remaining() / minItemBytes)) {
            throw error(at, what + " count " + Long.toUnsignedString(n) + " cannot fit in the "
                    + remaining() + " bytes left");
        }
        if (n > MAX_ITEMS) {
            throw error(at, what + " count " + n + " is larger than the supported " + MAX_ITEMS);
        }
        return (int) n;
    }

    /** A GGUF string: u64 byte length, then strict UTF-8. */
    String string(String what) {
        long at = position;
        long len = u64(what + " length");
        if (len < 0 || len > remaining()) {
            throw error(at, what + " length " + Long.toUnsignedString(len) + " is larger than the "
                    + remaining() + " bytes left");
        }
        if (len > Integer.MAX_VALUE - 16) {
            throw error(at, what + " length " + len + " is too large");
        }
        byte[] bytes = segment.asSlice(position, len).toArray(ValueLayout.JAVA_BYTE);
        boolean ascii = true;
        for (byte b : bytes) {
            if (b < 0) {
                ascii = false;
                break;
            }
        }
        String s;
        if (ascii) {
            s = new String(bytes, StandardCharsets.ISO_8859_1);
        } else {
            try {
                s = utf8.reset().decode(ByteBuffer.wrap(bytes)).toString();
            } catch (CharacterCodingException e) {
                throw error(position, what + " is not valid UTF-8");
            }
        }
        position += len;
        return s;
    }
}
