package dev.panamax.gguf;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * One GGUF metadata value, keeping its exact wire type so that a file can be written back
 * unchanged. Integers of every width are held in a long (UINT64 as its raw bits), floats in a
 * double; arrays keep primitive storage so a 150k-entry vocabulary costs no boxing.
 */
public sealed interface MetadataValue {

    GgufValueType type();

    /** A short human-readable rendering; arrays longer than {@code maxElements} are shortened. */
    String display(int maxElements);

    record IntValue(GgufValueType type, long value) implements MetadataValue {
        public IntValue {
            if (!type.isInteger()) {
                throw new IllegalArgumentException("not an integer type: " + type);
            }
        }

        @Override
        public String display(int maxElements) {
            return type == GgufValueType.UINT64 ? Long.toUnsignedString(value) : Long.toString(value);
        }
    }

    record FloatValue(GgufValueType type, double value) implements MetadataValue {
        public FloatValue {
            if (!type.isFloat()) {
                throw new IllegalArgumentException("not a float type: " + type);
            }
        }

        @Override
        public String display(int maxElements) {
            return type == GgufValueType.FLOAT32 ? Float.toString((float) value) : Double.toString(value);
        }
    }

    record BoolValue(boolean value) implements MetadataValue {
        @Override
        public GgufValueType type() {
            return GgufValueType.BOOL;
        }

        @Override
        public String display(int maxElements) {
            return Boolean.toString(value);
        }
    }

    record StringValue(String value) implements MetadataValue {
        public StringValue {
            Objects.requireNonNull(value);
        }

        @Override
        public GgufValueType type() {
            return GgufValueType.STRING;
        }

        @Override
        public String display(int maxElements) {
            return quote(value);
        }
    }

    /** Arrays: element type plus primitive or string storage. */
    sealed interface ArrayValue extends MetadataValue {
        GgufValueType elementType();

        int size();

        @Override
        default GgufValueType type() {
            return GgufValueType.ARRAY;
        }

        @Override
        default String display(int maxElements) {
            StringBuilder sb = new StringBuilder("[");
            int shown = Math.min(size(), maxElements);
            for (int i = 0; i < shown; i++) {
                if (i > 0) {
                    sb.append(", ");
                }
                sb.append(elementDisplay(i, maxElements));
            }
            if (shown < size()) {
                sb.append(", ... (").append(size()).append(" ").append(elementType().name().toLowerCase())
                        .append(" values)");
            }
            return sb.append(']').toString();
        }

        String elementDisplay(int index, int maxElements);
    }

    record IntArray(GgufValueType elementType, long[] values) implements ArrayValue {
        public IntArray {
            if (!elementType.isInteger()) {
                throw new IllegalArgumentException("not an integer type: " + elementType);
            }
        }

        @Override
        public int size() {
            return values.length;
        }

        @Override
        public String elementDisplay(int i, int max) {
            return elementType == GgufValueType.UINT64 ? Long.toUnsignedString(values[i]) : Long.toString(values[i]);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof IntArray a && a.elementType == elementType && Arrays.equals(a.values, values);
        }

        @Override
        public int hashCode() {
            return elementType.hashCode() * 31 + Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return "IntArray" + display(8);
        }
    }

    record FloatArray(GgufValueType elementType, double[] values) implements ArrayValue {
        public FloatArray {
            if (!elementType.isFloat()) {
                throw new IllegalArgumentException("not a float type: " + elementType);
            }
        }

        @Override
        public int size() {
            return values.length;
        }

        @Override
        public String elementDisplay(int i, int max) {
            return elementType == GgufValueType.FLOAT32 ? Float.toString((float) values[i]) : Double.toString(values[i]);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof FloatArray a && a.elementType == elementType && Arrays.equals(a.values, values);
        }

        @Override
        public int hashCode() {
            return elementType.hashCode() * 31 + Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return "FloatArray" + display(8);
        }
    }

    record BoolArray(boolean[] values) implements ArrayValue {
        @Override
        public GgufValueType elementType() {
            return GgufValueType.BOOL;
        }

        @Override
        public int size() {
            return values.length;
        }

        @Override
        public String elementDisplay(int i, int max) {
            return Boolean.toString(values[i]);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof BoolArray a && Arrays.equals(a.values, values);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return "BoolArray" + display(8);
        }
    }

    record StringArray(List<String> values) implements ArrayValue {
        public StringArray {
            values = List.copyOf(values);
        }

        @Override
        public GgufValueType elementType() {
            return GgufValueType.STRING;
        }

        @Override
        public int size() {
            return values.size();
        }

        @Override
        public String elementDisplay(int i, int max) {
            return quote(values.get(i));
        }
    }

    /** An array whose elements are arrays (GGUF allows nesting). */
    record NestedArray(List<ArrayValue> values) implements ArrayValue {
        public NestedArray {
            values = List.copyOf(values);
        }

        @Override
        public GgufValueType elementType() {
            return GgufValueType.ARRAY;
        }

        @Override
        public int size() {
            return values.size();
        }

        @Override
        public String elementDisplay(int i, int max) {
            return values.get(i).display(max);
        }
    }

    static IntValue ofUInt32(long v) {
        if (v < 0 || v > 0xFFFF_FFFFL) {
            throw new IllegalArgumentException("not a uint32: " + v);
        }
        return new IntValue(GgufValueType.UINT32, v);
    }

    static IntValue ofInt32(int v) {
        return new IntValue(GgufValueType.INT32, v);
    }

    static IntValue ofUInt64(long v) {
        return new IntValue(GgufValueType.UINT64, v);
    }

    static FloatValue ofFloat32(float v) {
        return new FloatValue(GgufValueType.FLOAT32, v);
    }

    static StringValue of(String v) {
        return new StringValue(v);
    }

    static BoolValue of(boolean v) {
        return new BoolValue(v);
    }

    static StringArray ofStrings(List<String> v) {
        return new StringArray(v);
    }

    static IntArray ofInt32s(int[] v) {
        long[] l = new long[v.length];
        for (int i = 0; i < v.length; i++) {
            l[i] = v[i];
        }
        return new IntArray(GgufValueType.INT32, l);
    }

    static FloatArray ofFloat32s(float[] v) {
        double[] d = new double[v.length];
        for (int i = 0; i < v.length; i++) {
            d[i] = v[i];
        }
        return new FloatArray(GgufValueType.FLOAT32, d);
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder(s.length() + 2).append('"');
        int shown = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (shown++ >= 200) {
                sb.append("...");
                break;
            }
            switch (c) {
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.append('"').toString();
    }
}
