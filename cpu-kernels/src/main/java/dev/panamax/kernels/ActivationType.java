package dev.panamax.kernels;

/** The form a weight type's fast dot product wants its activations in. */
public enum ActivationType {
    /** Plain floats (F32, F16, BF16 weights). */
    F32,
    /** Blocks of 32 int8 with a float scale and the block's quant sum (Q4_0..Q8_0, IQ4_NL). */
    Q8_0,
    /** Blocks of 256 int8 with a float scale and sums per 16 (K-quants, IQ4_XS), as ggml's Q8_K. */
    Q8_K
}
