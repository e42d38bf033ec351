package dev.panamax.engine.quantize;

import dev.panamax.gguf.FileType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.util.Arrays;
import java.util.Locale;

/**
 * A quantization mix: llama-quantize's file types (the TYPE argument) plus the per-layer types of
 * the hybrid recipes (Q4_K_L, Q5_K_L, Q6_K_S, Q6_K_M, Q6_K_L), which are only valid inside a
 * layer-types list. Each has a default tensor type that {@link MixRules} refines per tensor.
 */
public enum QuantMix {
    F32(GgmlType.F32, FileType.F32, true),
    F16(GgmlType.F16, FileType.F16, true),
    BF16(GgmlType.BF16, FileType.BF16, true),
    Q8_0(GgmlType.Q8_0, FileType.Q8_0, true),
    Q4_0(GgmlType.Q4_0, FileType.Q4_0, true),
    Q4_1(GgmlType.Q4_1, FileType.Q4_1, true),
    Q5_0(GgmlType.Q5_0, FileType.Q5_0, true),
    Q5_1(GgmlType.Q5_1, FileType.Q5_1, true),
    Q2_K(GgmlType.Q2_K, FileType.Q2_K, true),
    Q3_K_S(GgmlType.Q3_K, FileType.Q3_K_S, true),
    Q3_K_M(GgmlType.Q3_K, FileType.Q3_K_M, true),
    Q3_K_L(GgmlType.Q3_K, FileType.Q3_K_L, true),
    Q4_K_S(GgmlType.Q4_K, FileType.Q4_K_S, true),
    Q4_K_M(GgmlType.Q4_K, FileType.Q4_K_M, true),
    Q5_K_S(GgmlType.Q5_K, FileType.Q5_K_S, true),
    Q5_K_M(GgmlType.Q5_K, FileType.Q5_K_M, true),
    Q6_K(GgmlType.Q6_K, FileType.Q6_K, true),
    IQ4_NL(GgmlType.IQ4_NL, FileType.IQ4_NL, true),
    IQ4_XS(GgmlType.IQ4_XS, FileType.IQ4_XS, true),
    /** Q4_K_M with attn_output in Q6_K. */
    Q4_K_L(GgmlType.Q4_K, FileType.Q4_K_M, false),
    /** Q5_K with attn_v Q8_0, attn_output Q6_K, ffn_down Q6_K. */
    Q5_K_L(GgmlType.Q5_K, FileType.Q5_K_M, false),
    /** Q6_K everywhere. */
    Q6_K_S(GgmlType.Q6_K, FileType.Q6_K, false),
    /** Q6_K with attn_v and ffn_down in Q8_0. */
    Q6_K_M(GgmlType.Q6_K, FileType.Q6_K, false),
    /** Q6_K with attn_v, attn_output and ffn_down in Q8_0 (our definition: the card names it without one). */
    Q6_K_L(GgmlType.Q6_K, FileType.Q6_K, false);

    private final GgmlType defaultType;
    private final FileType fileType;
    private final boolean fileLevel;

    QuantMix(GgmlType defaultType, FileType fileType, boolean fileLevel) {
        this.defaultType = defaultType;
        this.fileType = fileType;
        this.fileLevel = fileLevel;
    }

    public GgmlType defaultType() {
        return defaultType;
    }

    /** The general.file_type a file of this mix records. */
    public FileType fileType() {
        return fileType;
    }

    /** Whether this can be the whole-file TYPE (the Q*_L / Q6_K_S/M extras are layer types only). */
    public boolean isFileLevel() {
        return fileLevel;
    }

    public boolean isQuantized() {
        return defaultType.isQuantized();
    }

    /**
     * Parses a mix name, case-insensitively, with llama-quantize's aliases (Q3_K = Q3_K_M,
     * Q4_K = Q4_K_M, Q5_K = Q5_K_M). {@code what} names the option or file in the error.
     */
    public static QuantMix parse(String what, String name) {
        return find(name).orElseThrow(() -> new PanamaxException(what + ": unknown quantization type '" + name
                + "' (known: " + Arrays.stream(values()).map(Enum::name).toList() + ")"));
    }

    /** {@link #parse} without the error. */
    public static java.util.Optional<QuantMix> find(String name) {
        String n = name.strip().toUpperCase(Locale.ROOT);
        switch (n) {
            case "Q3_K" -> n = "Q3_K_M";
            case "Q4_K" -> n = "Q4_K_M";
            case "Q5_K" -> n = "Q5_K_M";
            default -> { }
        }
        for (QuantMix m : values()) {
            if (m.name().equals(n)) {
                return java.util.Optional.of(m);
            }
        }
        return java.util.Optional.empty();
    }

    /** The mix whose general.file_type id is {@code id} (llama-quantize accepts the number as TYPE). */
    public static java.util.Optional<QuantMix> byFileTypeId(int id) {
        return Arrays.stream(values()).filter(m -> m.fileLevel && m.fileType.id() == id).findFirst();
    }
}
