package dev.panamax.kernels;

import java.lang.foreign.MemorySegment;

/**
 * A weight matrix of {@code rows} rows of {@code cols} values in one storage format, over a
 * segment (usually a slice of a mapped GGUF file). Row r starts at byte {@code r * rowBytes()}.
 */
public record QuantMatrix(QuantFormat format, MemorySegment data, int rows, int cols) {
    public QuantMatrix {
        long need = Math.multiplyExact(format.rowBytes(cols), (long) rows);
        if (data.byteSize() < need) {
            throw new IllegalArgumentException(format.type() + " matrix " + rows + "x" + cols + " needs " + need
                    + " bytes, segment has " + data.byteSize());
        }
    }

    public long rowBytes() {
        return format.rowBytes(cols);
    }

    public long rowOffset(int row) {
        return row * rowBytes();
    }

    /** Dequantizes one row into {@code dst[dstOffset ..]} (e.g. an embedding lookup). */
    public void dequantizeRow(int row, float[] dst, int dstOffset) {
        format.dequantize(data, rowOffset(row), dst, dstOffset, cols);
    }
}
