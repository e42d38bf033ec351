package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.MemorySegment;

/**
 * One ggml storage type: its reference and fast dequantization, its reference quantizer
 * (byte-identical to llama.cpp's, no importance matrix) and its dot products against
 * activations, side by side in one class per type. Offsets into segments are in bytes and must
 * fall on block boundaries; counts are in values and must be whole blocks.
 *
 * <p>Implementations are stateless and thread-safe. Register a new type in {@link Kernels}.
 */
public interface QuantFormat {

    GgmlType type();

    /** The activation form {@link #dot} and {@link #dotTokens} read. */
    ActivationType activationType();

    /** Plain scalar dequantization: the obviously-right oracle for everything else. */
    void dequantizeReference(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count);

    /** Fast dequantization (vectorized where it pays); same values as the reference. */
    default void dequantize(MemorySegment src, long srcOffset, float[] dst, int dstOffset, int count) {
        dequantizeReference(src, srcOffset, dst, dstOffset, count);
    }

    /** llama.cpp's reference quantization of {@code count} floats, byte for byte. */
    void quantize(float[] src, int srcOffset, MemorySegment dst, long dstOffset, int count);

    /**
     * Dot product of one weight row (at byte {@code rowOffset}, {@code x.dim()} values) with token
     * {@code token} of {@code x}, which must have been {@linkplain Activations#prepare prepared}
     * for {@link #activationType()}.
     */
    float dot(MemorySegment w, long rowOffset, Activations x, int token);

    /**
     * Dot products of one weight row with tokens {@code token0 .. token0+tokens-1}:
     * {@code out[outOffset + t * outStride] = row . x[token0 + t]}. {@link MatOps} uses it for a
     * few tokens (speculative verification, short prompts; more go through the float panels of
     * {@link FloatDot}); fast implementations decode each weight block once for all the tokens.
     */
    default void dotTokens(MemorySegment w, long rowOffset, Activations x, int token0, int tokens,
            float[] out, int outOffset, int outStride) {
        for (int t = 0; t < tokens; t++) {
            out[outOffset + t * outStride] = dot(w, rowOffset, x, token0 + t);
        }
    }

    /** Bytes of a row of {@code values} values. */
    default long rowBytes(long values) {
        return type().bytesFor(values);
    }
}
