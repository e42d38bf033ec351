package dev.panamax.engine.model;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.kernels.Kernels;
import dev.panamax.kernels.QuantFormat;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * Off-heap keys and values of a range of layers for {@code context} positions, one row per
 * (position, key/value head) stored in F32, F16 or Q8_0 through that type's {@link QuantFormat}.
 * The whole cache is reserved up front, so that a size the system cannot provide is reported at
 * start, not mid-generation; its pages are zeroed by the system on first use ({@link ZeroPages}),
 * so a long context costs memory and time only for the positions actually filled.
 */
public final class KvCache implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final int context;
    private final int kvHeads;
    private final int headDim;
    private final int valueDim;
    private final QuantFormat keyFormat;
    private final QuantFormat valueFormat;
    private final long keyRowBytes;
    private final long valueRowBytes;
    private final MemorySegment[] keys;
    private final MemorySegment[] values;

    public KvCache(ModelConfig c, int layers, int context, GgmlType keyType, GgmlType valueType) {
        this.context = context;
        this.kvHeads = c.kvHeads();
        this.headDim = c.headDim();
        this.valueDim = c.valueDim();
        this.keyFormat = format(keyType, headDim, "key");
        this.valueFormat = format(valueType, valueDim, "value");
        this.keyRowBytes = keyFormat.rowBytes(headDim);
        this.valueRowBytes = valueFormat.rowBytes(valueDim);
        this.keys = new MemorySegment[layers];
        this.values = new MemorySegment[layers];
        long perLayer = (long) context * kvHeads * (keyRowBytes + valueRowBytes);
        try {
            for (int l = 0; l < layers; l++) {
                keys[l] = ZeroPages.allocate(arena, (long) context * kvHeads * keyRowBytes);
                values[l] = ZeroPages.allocate(arena, (long) context * kvHeads * valueRowBytes);
            }
        } catch (OutOfMemoryError e) {
            arena.close();
            throw new PanamaxException("not enough memory for the KV cache: " + layers + " layers x " + context
                    + " positions need " + (perLayer * layers >> 20) + " MiB (" + keyType + " keys, " + valueType
                    + " values); use a smaller context (-c) or a quantized cache (-ctk/-ctv q8_0)");
        }
    }

    /** Bytes a cache of this shape needs (for planning before allocating). */
    public static long bytesFor(ModelConfig c, int layers, int context, GgmlType keyType, GgmlType valueType) {
        return (long) layers * context * c.kvHeads()
                * (keyType.bytesFor(c.headDim()) + valueType.bytesFor(c.valueDim()));
    }

    private static QuantFormat format(GgmlType type, int rowLength, String what) {
        if (type != GgmlType.F32 && type != GgmlType.F16 && type != GgmlType.Q8_0) {
            throw new PanamaxException("KV cache " + what + " type " + type + " is not supported (use f32, f16 or q8_0)");
        }
        if (rowLength % type.blockValues() != 0) {
            throw new PanamaxException("KV cache " + what + " type " + type + " needs head sizes that are a multiple of "
                    + type.blockValues() + ", this model's is " + rowLength);
        }
        return Kernels.of(type);
    }

    public int context() {
        return context;
    }

    public QuantFormat keyFormat() {
        return keyFormat;
    }

    public QuantFormat valueFormat() {
        return valueFormat;
    }

    public MemorySegment keys(int layer) {
        return keys[layer];
    }

    public MemorySegment values(int layer) {
        return values[layer];
    }

    /** Byte offset of the key row of (position, head). */
    public long keyOffset(int pos, int head) {
        return ((long) pos * kvHeads + head) * keyRowBytes;
    }

    public long valueOffset(int pos, int head) {
        return ((long) pos * kvHeads + head) * valueRowBytes;
    }

    /** Stores the keys and values of all heads of one position (k: kvHeads*headDim floats). */
    public void store(int layer, int pos, float[] k, int kOff, float[] v, int vOff) {
        for (int h = 0; h < kvHeads; h++) {
            keyFormat.quantize(k, kOff + h * headDim, keys[layer], keyOffset(pos, h), headDim);
            valueFormat.quantize(v, vOff + h * valueDim, values[layer], valueOffset(pos, h), valueDim);
        }
    }

    public long bytes() {
        long n = 0;
        for (int l = 0; l < keys.length; l++) {
            n += keys[l].byteSize() + values[l].byteSize();
        }
        return n;
    }

    @Override
    public void close() {
        arena.close();
    }
}
