package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panamax.gguf.GgmlType;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

/**
 * The K-quants against llama.cpp's golden vectors: quantization byte for byte, reference
 * dequantization bit for bit, the vector dequantization bit for bit equal to the reference, and
 * the Q8_K activation form byte for byte.
 */
@Tag("vector")
class KQuantGoldenTest {

    enum K {
        Q2_K("q2_K", GgmlType.Q2_K), Q3_K("q3_K", GgmlType.Q3_K), Q4_K("q4_K", GgmlType.Q4_K),
        Q5_K("q5_K", GgmlType.Q5_K), Q6_K("q6_K", GgmlType.Q6_K);

        final String file;
        final GgmlType type;

        K(String file, GgmlType type) {
            this.file = file;
            this.type = type;
        }

        QuantFormat format() {
            return Kernels.of(type);
        }
    }

    @ParameterizedTest
    @EnumSource(K.class)
    void quantizeIsByteIdenticalToLlamaCpp(K k) throws IOException {
        float[] in = Golden.input();
        byte[] golden = Golden.quantized(k.file);
        QuantFormat f = k.format();
        int rowBytes = (int) f.rowBytes(Golden.COLS);
        assertEquals(Golden.ROWS * rowBytes, golden.length, "golden file size");
        byte[] mine = new byte[golden.length];
        MemorySegment seg = MemorySegment.ofArray(mine);
        for (int r = 0; r < Golden.ROWS; r++) {
            f.quantize(in, r * Golden.COLS, seg, (long) r * rowBytes, Golden.COLS);
        }
        for (int r = 0; r < Golden.ROWS; r++) {
            for (int i = 0; i < rowBytes; i++) {
                int p = r * rowBytes + i;
                if (mine[p] != golden[p]) {
                    fail(k + " row " + r + " byte " + i + " (block " + i / f.type().blockBytes() + ", offset "
                            + i % f.type().blockBytes() + "): expected " + (golden[p] & 0xFF) + " got " + (mine[p] & 0xFF));
                }
            }
        }
    }

    @ParameterizedTest
    @EnumSource(K.class)
    void dequantizationMatchesLlamaCppBitForBit(K k) throws IOException {
        byte[] golden = Golden.quantized(k.file);
        float[] expected = Golden.dequantized(k.file);
        QuantFormat f = k.format();
        MemorySegment seg = MemorySegment.ofArray(golden);
        float[] ref = new float[expected.length];
        float[] vec = new float[expected.length];
        int rowBytes = (int) f.rowBytes(Golden.COLS);
        for (int r = 0; r < Golden.ROWS; r++) {
            f.dequantizeReference(seg, (long) r * rowBytes, ref, r * Golden.COLS, Golden.COLS);
            f.dequantize(seg, (long) r * rowBytes, vec, r * Golden.COLS, Golden.COLS);
        }
        for (int i = 0; i < expected.length; i++) {
            assertBits(expected[i], ref[i], () -> k + " reference");
            assertBits(ref[i], vec[i], () -> k + " vector vs reference");
        }
        // whole-tensor calls (many blocks at once) give the same
        float[] all = new float[expected.length];
        f.dequantize(seg, 0, all, 0, expected.length);
        for (int i = 0; i < expected.length; i++) {
            assertBits(expected[i], all[i], () -> k + " vector, one call");
        }
    }

    @ParameterizedTest
    @EnumSource(K.class)
    void registeredForQ8KActivationsAndRejectsPartialBlocks(K k) {
        QuantFormat f = k.format();
        assertEquals(k.type, f.type());
        assertEquals(ActivationType.Q8_K, f.activationType());
        assertEquals(2L * k.type.blockBytes(), f.rowBytes(512));
        MemorySegment seg = MemorySegment.ofArray(new byte[1024]);
        assertThrows(IllegalArgumentException.class, () -> f.quantize(new float[300], 0, seg, 0, 300));
        assertThrows(IllegalArgumentException.class, () -> f.dequantize(seg, 0, new float[300], 0, 300));
        assertThrows(IllegalArgumentException.class, () -> f.dequantizeReference(seg, 0, new float[300], 0, 300));
    }

    static void assertBits(float expected, float actual, java.util.function.Supplier<String> what) {
        if (Float.floatToIntBits(expected) != Float.floatToIntBits(actual)) {
            fail(what.get() + ": expected " + expected + " got " + actual);
        }
    }

    /** The Q8_K activation form (d f32, 256 int8, 16 int16 block sums) equals quantize_row_q8_K_ref. */
    @Test
    void q8KActivationsAreByteIdenticalToLlamaCpp() throws IOException {
        float[] in = Golden.input();
        byte[] golden = Golden.quantized("q8_K");
        int blocksPerRow = Golden.COLS / 256;
        assertEquals(Golden.ROWS * blocksPerRow * 292, golden.length);
        Activations x = new Activations(Golden.ROWS, Golden.COLS);
        System.arraycopy(in, 0, x.f32(), 0, in.length);
        x.prepare(ActivationType.Q8_K);
        ByteBuffer g = ByteBuffer.wrap(golden).order(ByteOrder.LITTLE_ENDIAN);
        for (int b = 0; b < Golden.ROWS * blocksPerRow; b++) {
            int base = b * 292;
            float d = g.getFloat(base);
            assertEquals(Float.floatToIntBits(d), Float.floatToIntBits(x.q8_KScale()[b]), "d of block " + b);
            for (int i = 0; i < 256; i++) {
                assertEquals(golden[base + 4 + i], x.q8_K()[b * 256 + i], "q of block " + b + " value " + i);
            }
            if (d == 0) {
                // llama.cpp leaves the sums of an all-zero block untouched; ours are zero
                continue;
            }
            for (int j = 0; j < 16; j++) {
                assertEquals(g.getShort(base + 260 + 2 * j), x.q8_KSum16()[b * 16 + j], "bsum " + j + " of block " + b);
            }
        }
    }
}
