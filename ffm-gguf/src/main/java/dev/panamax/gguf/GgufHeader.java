package dev.panamax.gguf;

import dev.panamax.gguf.MetadataValue.ArrayValue;
import dev.panamax.gguf.MetadataValue.BoolArray;
import dev.panamax.gguf.MetadataValue.BoolValue;
import dev.panamax.gguf.MetadataValue.FloatArray;
import dev.panamax.gguf.MetadataValue.FloatValue;
import dev.panamax.gguf.MetadataValue.IntArray;
import dev.panamax.gguf.MetadataValue.IntValue;
import dev.panamax.gguf.MetadataValue.NestedArray;
import dev.panamax.gguf.MetadataValue.StringArray;
import dev.panamax.gguf.MetadataValue.StringValue;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The parsed, validated header of one GGUF file (or one part of a split model): version,
 * metadata, tensor infos, alignment and where the data section starts. Parsing is strict: any
 * inconsistency is a {@link GgufFormatException} naming the file and byte offset.
 *
 * @param dataOffset absolute byte offset of the data section in the file
 */
public record GgufHeader(int version, Metadata metadata, List<TensorInfo> tensors, int alignment, long dataOffset) {

    /** "GGUF" read as a little-endian u32. */
    public static final int MAGIC = 0x46554747;
    public static final int DEFAULT_ALIGNMENT = 32;
    public static final String ALIGNMENT_KEY = "general.alignment";
    /** ggml supports at most 4 dimensions. */
    public static final int MAX_DIMS = 4;
    private static final int MAX_ARRAY_NESTING = 8;
    /** Fewest bytes a key/value pair or a tensor info can occupy: bounds counts before allocating. */
    private static final long MIN_KV_BYTES = 8 + 4 + 1;
    private static final long MIN_TENSOR_INFO_BYTES = 8 + 4 + 8 + 4 + 8;

    public GgufHeader {
        tensors = List.copyOf(tensors);
    }

    /** Parses and validates the header of a whole file held in {@code file}. */
    public static GgufHeader parse(MemorySegment file, String name) {
        ByteCursor in = new ByteCursor(file, name);
        long magic = in.u32("magic");
        if (magic != (MAGIC & 0xFFFF_FFFFL)) {
            throw in.error(0, "not a GGUF file (magic is 0x" + Long.toHexString(magic) + ", expected 'GGUF')");
        }
        long version = in.u32("version");
        if (version != 2 && version != 3) {
            if (Long.reverseBytes(version) >>> 32 == 2 || Long.reverseBytes(version) >>> 32 == 3) {
                throw in.error(4, "big-endian GGUF files are not supported");
            }
            throw in.error(4, "unsupported GGUF version " + version + " (expected 2 or 3)");
        }
        int tensorCount = in.count("tensor", MIN_TENSOR_INFO_BYTES);
        int kvCount = in.count("metadata key/value", MIN_KV_BYTES);

        Map<String, MetadataValue> kv = new LinkedHashMap<>();
        for (int i = 0; i < kvCount; i++) {
            long keyAt = in.position();
            String key = in.string("metadata key");
            if (key.isEmpty()) {
                throw in.error(keyAt, "empty metadata key");
            }
            if (kv.containsKey(key)) {
                throw in.error(keyAt, "duplicate metadata key '" + key + "'");
            }
            kv.put(key, readValue(in, key, valueType(in, key), 0));
        }
        Metadata metadata = new Metadata(name, kv);
        int alignment = alignment(in, kv);

        List<TensorInfo> infos = new ArrayList<>(tensorCount);
        Set<String> names = new HashSet<>();
        for (int i = 0; i < tensorCount; i++) {
            infos.add(readTensorInfo(in, names, alignment));
        }
        long dataOffset = align(in.position(), alignment);
        long dataBytes = in.size() - dataOffset;
        if (!infos.isEmpty() && dataBytes < 0) {
            throw in.error(in.size(), "file ends before the data section at byte " + dataOffset);
        }
        checkPlacement(in, infos, dataOffset, Math.max(0, dataBytes));
        return new GgufHeader((int) version, metadata, infos, alignment, dataOffset);
    }

    private static GgufValueType valueType(ByteCursor in, String key) {
        long at = in.position();
        long id = in.u32("value type of '" + key + "'");
        return GgufValueType.byId(id).orElseThrow(
                () -> in.error(at, "unknown value type " + id + " for metadata key '" + key + "'"));
    }

    private static MetadataValue readValue(ByteCursor in, String key, GgufValueType type, int depth) {
        String what = "value of '" + key + "'";
        return switch (type) {
            case UINT8 -> new IntValue(type, in.u8(what));
            case INT8 -> new IntValue(type, (byte) in.u8(what));
            case UINT16 -> new IntValue(type, in.u16(what));
            case INT16 -> new IntValue(type, (short) in.u16(what));
            case UINT32 -> new IntValue(type, in.u32(what));
            case INT32 -> new IntValue(type, (int) in.u32(what));
            case UINT64, INT64 -> new IntValue(type, in.u64(what));
            case FLOAT32 -> new FloatValue(type, in.f32(what));
            case FLOAT64 -> new FloatValue(type, in.f64(what));
            case BOOL -> new BoolValue(readBool(in, what));
            case STRING -> new StringValue(in.string(what));
            case ARRAY -> readArray(in, key, depth);
        };
    }

    private static boolean readBool(ByteCursor in, String what) {
        long at = in.position();
        int b = in.u8(what);
        if (b > 1) {
            throw in.error(at, what + " is not a boolean (byte " + b + ", expected 0 or 1)");
        }
        return b == 1;
    }

    private static ArrayValue readArray(ByteCursor in, String key, int depth) {
        if (depth >= MAX_ARRAY_NESTING) {
            throw in.error("arrays of '" + key + "' are nested deeper than " + MAX_ARRAY_NESTING + " levels");
        }
        GgufValueType element = valueType(in, key);
        int n = in.count("array '" + key + "'", element.minBytes());
        String what = "element of '" + key + "'";
        switch (element) {
            case STRING -> {
                String[] s = new String[n];
                for (int i = 0; i < n; i++) {
                    s[i] = in.string(what);
                }
                return new StringArray(Arrays.asList(s));
            }
            case FLOAT32, FLOAT64 -> {
                double[] d = new double[n];
                for (int i = 0; i < n; i++) {
                    d[i] = element == GgufValueType.FLOAT32 ? in.f32(what) : in.f64(what);
                }
                return new FloatArray(element, d);
            }
            case BOOL -> {
                boolean[] b = new boolean[n];
                for (int i = 0; i < n; i++) {
                    b[i] = readBool(in, what);
                }
                return new BoolArray(b);
            }
            case ARRAY -> {
                List<ArrayValue> nested = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    nested.add(readArray(in, key, depth + 1));
                }
                return new NestedArray(nested);
            }
            default -> {
                long[] l = new long[n];
                for (int i = 0; i < n; i++) {
                    l[i] = ((IntValue) readValue(in, key, element, depth)).value();
                }
                return new IntArray(element, l);
            }
        }
    }

    private static int alignment(ByteCursor in, Map<String, MetadataValue> kv) {
        MetadataValue v = kv.get(ALIGNMENT_KEY);
        if (v == null) {
            return DEFAULT_ALIGNMENT;
        }
        if (!(v instanceof IntValue iv)) {
            throw in.error("'" + ALIGNMENT_KEY + "' must be an integer, found " + v.type());
        }
        long a = iv.value();
        if (a <= 0 || a > (1 << 30) || Long.bitCount(a) != 1) {
            throw in.error("'" + ALIGNMENT_KEY + "' must be a power of two, found " + iv.display(1));
        }
        return (int) a;
    }

    private static TensorInfo readTensorInfo(ByteCursor in, Set<String> names, int alignment) {
        long at = in.position();
        String name = in.string("tensor name");
        if (name.isEmpty()) {
            throw in.error(at, "empty tensor name");
        }
        if (!names.add(name)) {
            throw in.error(at, "duplicate tensor name '" + name + "'");
        }
        long dimsAt = in.position();
        long dims = in.u32("dimension count of '" + name + "'");
        if (dims < 1 || dims > MAX_DIMS) {
            throw in.error(dimsAt, "tensor '" + name + "' has " + dims + " dimensions (expected 1 to " + MAX_DIMS + ")");
        }
        long[] ne = new long[(int) dims];
        for (int d = 0; d < dims; d++) {
            long neAt = in.position();
            ne[d] = in.u64("shape of '" + name + "'");
            if (ne[d] < 1) {
                throw in.error(neAt, "tensor '" + name + "' has dimension " + d + " = "
                        + Long.toUnsignedString(ne[d]) + " (expected a positive size)");
            }
        }
        long typeAt = in.position();
        long typeId = in.u32("type of '" + name + "'");
        GgmlType type = GgmlType.byId(typeId).orElseThrow(
                () -> in.error(typeAt, "tensor '" + name + "' has unknown ggml type id " + typeId));
        long offsetAt = in.position();
        long offset = in.u64("data offset of '" + name + "'");
        if (ne[0] % type.blockValues() != 0) {
            throw in.error(dimsAt, "tensor '" + name + "' rows of " + ne[0] + " values are not a whole number of "
                    + type + " blocks of " + type.blockValues());
        }
        long bytes;
        try {
            bytes = type.bytesFor(TensorInfo.elements(ne));
        } catch (ArithmeticException e) {
            throw in.error(dimsAt, "tensor '" + name + "' shape " + Arrays.toString(ne) + " overflows a 64-bit byte size");
        }
        if (offset < 0 || offset % alignment != 0) {
            throw in.error(offsetAt, "tensor '" + name + "' data offset " + Long.toUnsignedString(offset)
                    + " is not a multiple of the alignment " + alignment);
        }
        return new TensorInfo(name, type, ne, offset, bytes);
    }

    private static void checkPlacement(ByteCursor in, List<TensorInfo> infos, long dataOffset, long dataBytes) {
        List<TensorInfo> byOffset = new ArrayList<>(infos);
        byOffset.sort(Comparator.comparingLong(TensorInfo::offset));
        long end = 0;
        TensorInfo previous = null;
        for (TensorInfo t : byOffset) {
            if (t.offset() > dataBytes || t.byteSize() > dataBytes - t.offset()) {
                throw in.error(dataOffset + t.offset(), "data of tensor '" + t.name() + "' (" + t.byteSize()
                        + " bytes at data offset " + t.offset() + ") runs past the end of the file ("
                        + dataBytes + " data bytes)");
            }
            if (previous != null && t.offset() < end) {
                throw in.error(dataOffset + t.offset(), "data of tensor '" + t.name() + "' overlaps tensor '"
                        + previous.name() + "'");
            }
            end = t.offset() + t.byteSize();
            previous = t;
        }
    }

    static long align(long position, long alignment) {
        long rem = position % alignment;
        return rem == 0 ? position : position + alignment - rem;
    }
}
