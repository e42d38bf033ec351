package dev.panamax.gguf;

import java.util.Optional;

/**
 * The ggml tensor types: one table with id, name, values per block and bytes per block (ggml's
 * type traits). {@code computable} says whether this build has CPU kernels for the type; the
 * kernel registry in cpu-kernels is tested to agree with it. Types that are known but not
 * computable still load for inspection.
 */
public enum GgmlType {
    F32(0, 1, 4, true),
    F16(1, 1, 2, true),
    Q4_0(2, 32, 18, true),
    Q4_1(3, 32, 20, true),
    Q5_0(6, 32, 22, true),
    Q5_1(7, 32, 24, true),
    Q8_0(8, 32, 34, true),
    Q8_1(9, 32, 40, false),
    Q2_K(10, 256, 84, true),
    Q3_K(11, 256, 110, true),
    Q4_K(12, 256, 144, true),
    Q5_K(13, 256, 176, true),
    Q6_K(14, 256, 210, true),
    Q8_K(15, 256, 292, false),
    IQ2_XXS(16, 256, 66, false),
    IQ2_XS(17, 256, 74, false),
    IQ3_XXS(18, 256, 98, false),
    IQ1_S(19, 256, 50, false),
    IQ4_NL(20, 32, 18, true),
    IQ3_S(21, 256, 110, false),
    IQ2_S(22, 256, 82, false),
    IQ4_XS(23, 256, 136, true),
    I8(24, 1, 1, false),
    I16(25, 1, 2, false),
    I32(26, 1, 4, false),
    I64(27, 1, 8, false),
    F64(28, 1, 8, false),
    IQ1_M(29, 256, 56, false),
    BF16(30, 1, 2, true),
    TQ1_0(34, 256, 54, false),
    TQ2_0(35, 256, 66, false),
    MXFP4(39, 32, 17, false),
    NVFP4(40, 64, 36, false),
    Q1_0(41, 128, 18, false);

    private static final GgmlType[] BY_ID = new GgmlType[64];

    static {
        for (GgmlType t : values()) {
            BY_ID[t.id] = t;
        }
    }

    private final int id;
    private final int blockValues;
    private final int blockBytes;
    private final boolean computable;

    GgmlType(int id, int blockValues, int blockBytes, boolean computable) {
        this.id = id;
        this.blockValues = blockValues;
        this.blockBytes = blockBytes;
        this.computable = computable;
    }

    /** The ggml type id stored in GGUF tensor infos. */
    public int id() {
        return id;
    }

    /** Number of values one block encodes (1 for plain types). */
    public int blockValues() {
        return blockValues;
    }

    /** Bytes one block occupies. */
    public int blockBytes() {
        return blockBytes;
    }

    /** Whether this build has CPU kernels that compute with this type. */
    public boolean computable() {
        return computable;
    }

    public boolean isQuantized() {
        return blockValues > 1;
    }

    /** Bits per weight of this type's storage. */
    public double bitsPerWeight() {
        return 8.0 * blockBytes / blockValues;
    }

    /**
     * Bytes needed for {@code values} elements.
     *
     * @throws IllegalArgumentException when {@code values} is not a whole number of blocks
     * @throws ArithmeticException when the byte count overflows a long
     */
    public long bytesFor(long values) {
        if (values < 0 || values % blockValues != 0) {
            throw new IllegalArgumentException(values + " values is not a whole number of " + name()
                    + " blocks of " + blockValues);
        }
        return Math.multiplyExact(values / blockValues, (long) blockBytes);
    }

    /** The type with this ggml id, if it is one ggml defines. */
    public static Optional<GgmlType> byId(long id) {
        if (id < 0 || id >= BY_ID.length) {
            return Optional.empty();
        }
        return Optional.ofNullable(BY_ID[(int) id]);
    }

    /** Looks a type up by its name, case-insensitively ("q4_k", "Q4_K", "f16"). */
    public static Optional<GgmlType> byName(String name) {
        for (GgmlType t : values()) {
            if (t.name().equalsIgnoreCase(name)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
