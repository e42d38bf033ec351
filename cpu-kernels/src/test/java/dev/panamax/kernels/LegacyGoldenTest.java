package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panamax.gguf.GgmlType;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The reference quantizers against llama.cpp's golden vectors (byte for byte), the reference
 * dequantizers against llama.cpp's dequantization (float for float) and the vector
 * dequantizers against the reference.
 */
@Tag("vector")
class LegacyGoldenTest {
    /** Golden file names of the types this class covers. */
    static String fileName(GgmlType t) {
        return switch (t) {
            case F16 -> "f16";
            case BF16 -> "bf16";
            case Q4_0 -> "q4_0";
            case Q4_1 -> "q4_1";
            case Q5_0 -> "q5_0";
            case Q5_1 -> "q5_1";
            case Q8_0 -> "q8_0";
            case IQ4_NL -> "iq4_nl";
            case IQ4_XS -> "iq4_xs";
            default -> throw new IllegalArgumentException(t.toString());
        };
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "IQ4_XS"})
    void quantizeIsByteIdenticalToLlamaCpp(GgmlType type) throws IOException {
        QuantFormat f = Kernels.of(type);
        float[] in = Golden.input();
        byte[] want = Golden.quantized(fileName(type));
        int rowBytes = (int) f.rowBytes(Golden.COLS);
        assertEquals(Golden.ROWS * rowBytes, want.length, "golden file size");
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment got = arena.allocate(want.length);
            got.fill((byte) 0x5A); // garbage: every byte must be written
            for (int r = 0; r < Golden.ROWS; r++) {
                f.quantize(in, r * Golden.COLS, got, (long) r * rowBytes, Golden.COLS);
            }
            byte[] g = got.toArray(ValueLayout.JAVA_BYTE);
            for (int i = 0; i < want.length; i++) {
                if (g[i] != want[i]) {
                    int r = i / rowBytes;
                    fail(type + ": row " + r + " byte " + (i % rowBytes) + " (block " + (i % rowBytes) / type.blockBytes()
                            + ", byte " + (i % rowBytes) % type.blockBytes() + "): got " + (g[i] & 0xFF) + ", llama.cpp "
                            + (want[i] & 0xFF));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(value = GgmlType.class, names = {"F16", "BF16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "IQ4_NL", "IQ4_XS"})
    void dequantizeMatchesLlamaCppExactly(GgmlType type) throws IOException {
        QuantFormat f = Kernels.of(type);
        byte[] bin = Golden.quantized(fileName(type));
        float[] want = Golden.dequantized(fileName(type));
        int rowBytes = (int) f.rowBytes(Golden.COLS);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(bin.length);
            MemorySegment.copy(bin, 0, src, ValueLayout.JAVA_BYTE, 0, bin.length);
            float[] ref = new float[want.length + 3];
            float[] vec = new float[want.length + 3];
            for (int r = 0; r < Golden.ROWS; r++) {
                // an odd destination offset catches index mistakes in the vector stores
                f.dequantizeReference(src, (long) r * rowBytes, ref, 3 + r * Golden.COLS, Golden.COLS);
                f.dequantize(src, (long) r * rowBytes, vec, 3 + r * Golden.COLS, Golden.COLS);
            }
            for (int i = 0; i < want.length; i++) {
                if (Float.floatToRawIntBits(ref[3 + i]) != Float.floatToRawIntBits(want[i])) {
                    fail(type + " reference: value " + i + " (row " + i / Golden.COLS + "): got " + ref[3 + i] + ", llama.cpp " + want[i]);
                }
                if (Float.floatToRawIntBits(vec[3 + i]) != Float.floatToRawIntBits(want[i])) {
                    fail(type + " vector: value " + i + " (row " + i / Golden.COLS + "): got " + vec[3 + i] + ", llama.cpp " + want[i]);
                }
            }
        }
    }
}
