package dev.panamax.gguf;

import java.util.Arrays;

/**
 * A tensor's description from the GGUF header.
 *
 * @param name tensor name, e.g. {@code blk.0.attn_q.weight}
 * @param type ggml storage type
 * @param ne shape with ne[0] (the row length, contiguous) first; at least one dimension
 * @param offset byte offset of the data relative to the start of the data section
 * @param byteSize bytes of data
 */
public record TensorInfo(String name, GgmlType type, long[] ne, long offset, long byteSize) {

    public TensorInfo {
        ne = ne.clone();
    }

    /** Builds an info whose byte size follows from the type and shape. */
    public static TensorInfo of(String name, GgmlType type, long[] ne, long offset) {
        return new TensorInfo(name, type, ne, offset, type.bytesFor(elements(ne)));
    }

    @Override
    public long[] ne() {
        return ne.clone();
    }

    public long ne(int dim) {
        return dim < ne.length ? ne[dim] : 1;
    }

    public int dims() {
        return ne.length;
    }

    public long elementCount() {
        return elements(ne);
    }

    /** Values per row (ne[0]). */
    public long rowLength() {
        return ne[0];
    }

    /** Number of rows: product of all dimensions but the first. */
    public long rowCount() {
        return elementCount() / Math.max(1, ne[0]);
    }

    /** Bytes of one row in this type. */
    public long rowBytes() {
        return type.bytesFor(ne[0]);
    }

    public String shapeString() {
        return Arrays.toString(ne);
    }

    static long elements(long[] ne) {
        long n = 1;
        for (long d : ne) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TensorInfo t && t.name.equals(name) && t.type == type && Arrays.equals(t.ne, ne)
                && t.offset == offset && t.byteSize == byteSize;
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + Arrays.hashCode(ne);
    }

    @Override
    public String toString() {
        return name + " " + type + " " + shapeString() + " @" + offset + " (" + byteSize + " bytes)";
    }
}
