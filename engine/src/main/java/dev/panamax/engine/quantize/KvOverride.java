package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgufValueType;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.PanamaxException;
import java.util.Map;

/**
 * llama-quantize's {@code --override-kv KEY=TYPE:VALUE} (TYPE: int, float, bool, str): sets or
 * replaces one metadata key of the output. An int or float replacing a key of the same kind keeps
 * that key's exact GGUF type (range-checked); a new int is UINT32 (llama.cpp's choice) when it fits,
 * else INT64; a new float is FLOAT32.
 */
public record KvOverride(String key, String kind, String value) {

    public static KvOverride parse(String spec) {
        int eq = spec.indexOf('=');
        if (eq <= 0) {
            throw new PanamaxException("--override-kv '" + spec + "': expected KEY=TYPE:VALUE, e.g. "
                    + "qwen2.context_length=int:32768 (TYPE: int, float, bool, str)");
        }
        String key = spec.substring(0, eq);
        if (key.length() > 127) {
            throw new PanamaxException("--override-kv '" + key + "': keys are at most 127 characters");
        }
        if (key.equals("general.alignment")) {
            throw new PanamaxException("--override-kv general.alignment: Panamax writes 32-byte aligned files; "
                    + "this key cannot be overridden");
        }
        String rest = spec.substring(eq + 1);
        int colon = rest.indexOf(':');
        String kind = colon < 0 ? "" : rest.substring(0, colon);
        if (!kind.equals("int") && !kind.equals("float") && !kind.equals("bool") && !kind.equals("str")) {
            throw new PanamaxException("--override-kv '" + spec + "': expected KEY=TYPE:VALUE with TYPE int, float, "
                    + "bool or str");
        }
        KvOverride o = new KvOverride(key, kind, rest.substring(colon + 1));
        o.toValue(null); // validate the value now
        return o;
    }

    /** Applies this override to {@code metadata} (in place). */
    public void apply(Map<String, MetadataValue> metadata) {
        metadata.put(key, toValue(metadata.get(key)));
    }

    MetadataValue toValue(MetadataValue existing) {
        String what = "--override-kv " + key + "=" + kind + ":" + value;
        switch (kind) {
            case "int" -> {
                long v;
                try {
                    v = Long.parseLong(value.strip());
                } catch (NumberFormatException e) {
                    throw new PanamaxException(what + ": '" + value + "' is not a whole number");
                }
                GgufValueType t = existing instanceof MetadataValue.IntValue iv ? iv.type()
                        : v >= 0 && v <= 0xFFFF_FFFFL ? GgufValueType.UINT32 : GgufValueType.INT64;
                if (!fits(t, v)) {
                    throw new PanamaxException(what + ": " + v + " does not fit the key's type " + t);
                }
                return new MetadataValue.IntValue(t, v);
            }
            case "float" -> {
                double v;
                try {
                    v = Double.parseDouble(value.strip());
                } catch (NumberFormatException e) {
                    throw new PanamaxException(what + ": '" + value + "' is not a number");
                }
                GgufValueType t = existing instanceof MetadataValue.FloatValue fv ? fv.type() : GgufValueType.FLOAT32;
                return new MetadataValue.FloatValue(t, v);
            }
            case "bool" -> {
                if (!value.equals("true") && !value.equals("false")) {
                    throw new PanamaxException(what + ": expected true or false");
                }
                return new MetadataValue.BoolValue(value.equals("true"));
            }
            default -> {
                return new MetadataValue.StringValue(value);
            }
        }
    }

    private static boolean fits(GgufValueType t, long v) {
        return switch (t) {
            case UINT8 -> v >= 0 && v <= 0xFF;
            case INT8 -> v >= Byte.MIN_VALUE && v <= Byte.MAX_VALUE;
            case UINT16 -> v >= 0 && v <= 0xFFFF;
            case INT16 -> v >= Short.MIN_VALUE && v <= Short.MAX_VALUE;
            case UINT32 -> v >= 0 && v <= 0xFFFF_FFFFL;
            case INT32 -> v >= Integer.MIN_VALUE && v <= Integer.MAX_VALUE;
            case UINT64 -> v >= 0;
            default -> true;
        };
    }
}
