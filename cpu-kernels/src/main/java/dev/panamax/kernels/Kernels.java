package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * The registry from ggml type to its {@link QuantFormat}: callers never switch on types. Adding
 * a type means writing its class and one line here.
 */
public final class Kernels {
    private static final Map<GgmlType, QuantFormat> FORMATS;

    static {
        Map<GgmlType, QuantFormat> m = new EnumMap<>(GgmlType.class);
        for (QuantFormat f : new QuantFormat[] {
                new F32Format(),
                new F16Format(),
                new BF16Format(),
                new Q4_0Format(),
                new Q4_1Format(),
                new Q5_0Format(),
                new Q5_1Format(),
                new Q8_0Format(),
                new IQ4NLFormat(),
                new IQ4XSFormat(),
                new Q2KFormat(),
                new Q3KFormat(),
                new Q4KFormat(),
                new Q5KFormat(),
                new Q6KFormat(),
        }) {
            m.put(f.type(), f);
        }
        FORMATS = Collections.unmodifiableMap(m);
    }

    private Kernels() {}

    /** The format for {@code type}, or a clear error if this build cannot compute with it. */
    public static QuantFormat of(GgmlType type) {
        QuantFormat f = FORMATS.get(type);
        if (f == null) {
            throw new PanamaxException("tensor type " + type + " is not supported for computation by this build"
                    + " (supported: " + FORMATS.keySet() + ")");
        }
        return f;
    }

    public static Optional<QuantFormat> find(GgmlType type) {
        return Optional.ofNullable(FORMATS.get(type));
    }

    public static Map<GgmlType, QuantFormat> all() {
        return FORMATS;
    }
}
