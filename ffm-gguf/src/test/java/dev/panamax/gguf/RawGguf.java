package dev.panamax.gguf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/** Writes GGUF bytes field by field, including invalid ones the real writer refuses to make. */
final class RawGguf {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    RawGguf u8(int v) {
        out.write(v);
        return this;
    }

    RawGguf u32(long v) {
        return bytes(ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt((int) v).array());
    }

    RawGguf u64(long v) {
        return bytes(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array());
    }

    RawGguf string(String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        return u64(b.length).bytes(b);
    }

    RawGguf bytes(byte[] b) {
        out.write(b, 0, b.length);
        return this;
    }

    /** Header: magic, version, counts. */
    RawGguf header(int version, long tensors, long kvs) {
        return u32(GgufHeader.MAGIC).u32(version).u64(tensors).u64(kvs);
    }

    /** A u32 key/value. */
    RawGguf kvU32(String key, long v) {
        return string(key).u32(GgufValueType.UINT32.id()).u32(v);
    }

    RawGguf tensorInfo(String name, GgmlType type, long offset, long... ne) {
        string(name).u32(ne.length);
        for (long d : ne) {
            u64(d);
        }
        return u32(type.id()).u64(offset);
    }

    /** Zero padding up to the next multiple of {@code alignment}. */
    RawGguf pad(int alignment) {
        while (out.size() % alignment != 0) {
            out.write(0);
        }
        return this;
    }

    RawGguf zeros(int n) {
        return bytes(new byte[n]);
    }

    int size() {
        return out.size();
    }

    byte[] toBytes() {
        return out.toByteArray();
    }
}
