package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.Random;

/** Weight data for the tests of the non-K formats: random, adversarial and quantized rows. */
final class LegacyBlocks {
    private LegacyBlocks() {}

    static final GgmlType[] TYPES = {GgmlType.F16, GgmlType.BF16, GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0,
            GgmlType.Q5_1, GgmlType.Q8_0, GgmlType.IQ4_NL, GgmlType.IQ4_XS};

    private static final ValueLayout.OfShort SHORT_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Byte offsets of the fp16 scale fields (d, and m where there is one) inside a block. */
    static int[] scaleFields(GgmlType t) {
        return switch (t) {
            case Q4_1, Q5_1 -> new int[] {0, 2};
            case Q4_0, Q5_0, Q8_0, IQ4_NL, IQ4_XS -> new int[] {0};
            default -> new int[0];
        };
    }

    /** Whether the type has a block minimum m at byte 2 (x = d*q + m). */
    static boolean hasMin(GgmlType t) {
        return t == GgmlType.Q4_1 || t == GgmlType.Q5_1;
    }

    /** A random finite fp16 (any sign, exponent 0..30: zeros, subnormals and normals up to 65504). */
    static short finiteHalf(Random rnd) {
        return (short) ((rnd.nextInt(2) << 15) | (rnd.nextInt(31) << 10) | rnd.nextInt(1024));
    }

    /**
     * {@code blocks} blocks of random bytes with adversarial scales: random finite fp16 scales,
     * the extremes (0, -0, the smallest subnormal, +-65504), whole blocks of 0x00 and of 0xFF. For
     * F16/BF16 (no blocks) {@code blocks} counts values of arbitrary bit patterns, NaN and
     * infinities included.
     */
    static byte[] adversarial(GgmlType t, int blocks, long seed) {
        Random rnd = new Random(seed);
        int bb = t.blockBytes();
        byte[] data = new byte[blocks * bb];
        rnd.nextBytes(data);
        if (!t.isQuantized()) {
            short[] special = {0, (short) 0x8000, 1, (short) 0x8001, 0x7C00, (short) 0xFC00, 0x7E00, 0x7C01, 0x7BFF,
                    (short) 0xFBFF, 0x03FF, 0x0400, 0x7F80, (short) 0xFF80, 0x7FC0, 0x0080, 0x007F};
            for (int i = 0; i < special.length && 2 * i + 1 < data.length; i++) {
                data[2 * i] = (byte) special[i];
                data[2 * i + 1] = (byte) (special[i] >> 8);
            }
            return data;
        }
        short[] specialScales = {0, (short) 0x8000, 1, (short) 0x8001, 0x7BFF, (short) 0xFBFF, 0x3C00, (short) 0xBC00};
        for (int b = 0; b < blocks; b++) {
            int o = b * bb;
            int kind = b % 8;
            if (kind == 3) {
                java.util.Arrays.fill(data, o, o + bb, (byte) 0);
            } else if (kind == 5) {
                java.util.Arrays.fill(data, o, o + bb, (byte) 0xFF);
            }
            for (int f : scaleFields(t)) {
                short h = kind == 3 ? 0 : (b / 8) < specialScales.length && kind != 5 ? specialScales[b / 8] : finiteHalf(rnd);
                if (kind == 5) {
                    h = 0x7BFF; // all bits set but the scale must stay finite
                }
                data[o + f] = (byte) h;
                data[o + f + 1] = (byte) (h >> 8);
            }
        }
        return data;
    }

    /**
     * {@code rows} rows of {@code cols} values for dot-product tests: random quant bytes with
     * moderate random scales (so float sums stay far from overflow), some rows quantized from
     * gaussian floats, some blocks all zero.
     */
    static MemorySegment dotRows(Arena arena, QuantFormat f, int rows, int cols, long seed) {
        GgmlType t = f.type();
        long rowBytes = f.rowBytes(cols);
        MemorySegment seg = arena.allocate(rowBytes * rows + 7, 64).asSlice(7); // unaligned on purpose
        Random rnd = new Random(seed);
        float[] src = new float[cols];
        for (int r = 0; r < rows; r++) {
            long ro = r * rowBytes;
            if (r % 3 == 0 || !t.isQuantized()) {
                double scale = Math.exp(rnd.nextGaussian() * 2);
                double shift = r % 2 == 0 ? 0 : rnd.nextGaussian();
                for (int i = 0; i < cols; i++) {
                    src[i] = (float) ((rnd.nextGaussian() + shift) * scale);
                }
                f.quantize(src, 0, seg, ro, cols);
                continue;
            }
            byte[] bytes = new byte[(int) rowBytes];
            rnd.nextBytes(bytes);
            int bb = t.blockBytes();
            for (int b = 0; b < bytes.length / bb; b++) {
                for (int fo : scaleFields(t)) {
                    float v = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian()));
                    short h = b % 7 == 6 ? 0 : Float.floatToFloat16(v);
                    bytes[b * bb + fo] = (byte) h;
                    bytes[b * bb + fo + 1] = (byte) (h >> 8);
                }
            }
            MemorySegment.copy(bytes, 0, seg, ValueLayout.JAVA_BYTE, ro, bytes.length);
        }
        return seg;
    }

    /** The fp16 block minimum m of the block holding value {@code i} of a row (Q4_1/Q5_1 only). */
    static float blockMin(MemorySegment seg, long rowOffset, GgmlType t, int i) {
        return Float.float16ToFloat(seg.get(SHORT_LE, rowOffset + (long) (i / 32) * t.blockBytes() + 2));
    }
}
