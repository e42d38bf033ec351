package dev.panamax.gguf;

import dev.panamax.gguf.MetadataValue.ArrayValue;
import dev.panamax.gguf.MetadataValue.BoolValue;
import dev.panamax.gguf.MetadataValue.FloatArray;
import dev.panamax.gguf.MetadataValue.FloatValue;
import dev.panamax.gguf.MetadataValue.IntArray;
import dev.panamax.gguf.MetadataValue.IntValue;
import dev.panamax.gguf.MetadataValue.StringArray;
import dev.panamax.gguf.MetadataValue.StringValue;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalDouble;
import java.util.OptionalInt;
import java.util.OptionalLong;
import java.util.Set;

/**
 * GGUF key/value metadata in file order, with typed accessors. A missing key or a value of the
 * wrong type is a {@link MetadataException} naming the key, the source and what was expected.
 */
public final class Metadata {
    private final String source;
    private final Map<String, MetadataValue> values;

    public Metadata(String source, Map<String, MetadataValue> values) {
        this.source = source;
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
    }

    /** Where the metadata came from (a file name), used in error messages. */
    public String source() {
        return source;
    }

    public Map<String, MetadataValue> asMap() {
        return values;
    }

    public Set<String> keys() {
        return values.keySet();
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    public Optional<MetadataValue> get(String key) {
        return Optional.ofNullable(values.get(key));
    }

    public int size() {
        return values.size();
    }

    // ---- integers ----

    /** An integer of any width that fits an int. */
    public int getInt(String key) {
        return optInt(key).orElseThrow(() -> missing(key, "an integer"));
    }

    public OptionalInt optInt(String key) {
        OptionalLong v = optLong(key);
        if (v.isEmpty()) {
            return OptionalInt.empty();
        }
        long l = v.getAsLong();
        if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
            throw wrong(key, "an integer that fits 32 bits", Long.toString(l));
        }
        return OptionalInt.of((int) l);
    }

    /** An integer of any width; UINT64 values above Long.MAX_VALUE are rejected. */
    public long getLong(String key) {
        return optLong(key).orElseThrow(() -> missing(key, "an integer"));
    }

    public OptionalLong optLong(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return OptionalLong.empty();
        }
        if (v instanceof IntValue iv) {
            if (iv.type() == GgufValueType.UINT64 && iv.value() < 0) {
                throw wrong(key, "an integer below 2^63", Long.toUnsignedString(iv.value()));
            }
            return OptionalLong.of(iv.value());
        }
        throw wrong(key, "an integer", describe(v));
    }

    // ---- floats (integers are accepted too, as writers differ) ----

    public float getFloat(String key) {
        return (float) getDouble(key);
    }

    public double getDouble(String key) {
        return optDouble(key).orElseThrow(() -> missing(key, "a number"));
    }

    public OptionalDouble optDouble(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return OptionalDouble.empty();
        }
        return switch (v) {
            case FloatValue f -> OptionalDouble.of(f.value());
            case IntValue i -> OptionalDouble.of(i.value());
            default -> throw wrong(key, "a number", describe(v));
        };
    }

    // ---- booleans and strings ----

    public boolean getBool(String key) {
        return optBool(key).orElseThrow(() -> missing(key, "a boolean"));
    }

    public Optional<Boolean> optBool(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof BoolValue b) {
            return Optional.of(b.value());
        }
        throw wrong(key, "a boolean", describe(v));
    }

    public String getString(String key) {
        return optString(key).orElseThrow(() -> missing(key, "a string"));
    }

    public Optional<String> optString(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof StringValue s) {
            return Optional.of(s.value());
        }
        throw wrong(key, "a string", describe(v));
    }

    // ---- arrays ----

    public List<String> getStringArray(String key) {
        return optStringArray(key).orElseThrow(() -> missing(key, "an array of strings"));
    }

    public Optional<List<String>> optStringArray(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof StringArray s) {
            return Optional.of(s.values());
        }
        throw wrong(key, "an array of strings", describe(v));
    }

    /** An integer array of any element width, each element fitting an int. Returns a copy. */
    public int[] getIntArray(String key) {
        return optIntArray(key).orElseThrow(() -> missing(key, "an array of integers"));
    }

    public Optional<int[]> optIntArray(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof IntArray a) {
            int[] out = new int[a.values().length];
            for (int i = 0; i < out.length; i++) {
                long l = a.values()[i];
                if (l < Integer.MIN_VALUE || l > Integer.MAX_VALUE) {
                    throw wrong(key, "integers that fit 32 bits", "element " + i + " = " + l);
                }
                out[i] = (int) l;
            }
            return Optional.of(out);
        }
        throw wrong(key, "an array of integers", describe(v));
    }

    /** A float array (integer arrays are converted). Returns a copy. */
    public float[] getFloatArray(String key) {
        return optFloatArray(key).orElseThrow(() -> missing(key, "an array of numbers"));
    }

    public Optional<float[]> optFloatArray(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof FloatArray a) {
            float[] out = new float[a.values().length];
            for (int i = 0; i < out.length; i++) {
                out[i] = (float) a.values()[i];
            }
            return Optional.of(out);
        }
        if (v instanceof IntArray a) {
            float[] out = new float[a.values().length];
            for (int i = 0; i < out.length; i++) {
                out[i] = a.values()[i];
            }
            return Optional.of(out);
        }
        throw wrong(key, "an array of numbers", describe(v));
    }

    public Optional<ArrayValue> optArray(String key) {
        MetadataValue v = values.get(key);
        if (v == null) {
            return Optional.empty();
        }
        if (v instanceof ArrayValue a) {
            return Optional.of(a);
        }
        throw wrong(key, "an array", describe(v));
    }

    private static String describe(MetadataValue v) {
        if (v instanceof ArrayValue a) {
            return "an array of " + a.size() + " " + a.elementType().name().toLowerCase() + " values";
        }
        return v.type().name().toLowerCase() + " " + v.display(4);
    }

    private MetadataException missing(String key, String expected) {
        return new MetadataException(source + ": metadata key '" + key + "' is missing (expected " + expected + ")");
    }

    private MetadataException wrong(String key, String expected, String found) {
        return new MetadataException(source + ": metadata key '" + key + "' should be " + expected + ", found " + found);
    }
}
