package dev.panamax.gpu;

import dev.panamax.gguf.GgmlType;
import java.util.Locale;
import java.util.Set;

/** Which weight and cache types the kernels compute with, and their kernel-name suffixes. */
final class DeviceTypes {
    private DeviceTypes() {}

    static final Set<GgmlType> FLOAT = Set.of(GgmlType.F32, GgmlType.F16, GgmlType.BF16);
    static final Set<GgmlType> QUANT = Set.of(GgmlType.Q4_0, GgmlType.Q4_1, GgmlType.Q5_0, GgmlType.Q5_1,
            GgmlType.Q8_0, GgmlType.Q2_K, GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.IQ4_NL,
            GgmlType.IQ4_XS);
    static final Set<GgmlType> CACHE = Set.of(GgmlType.F32, GgmlType.F16, GgmlType.Q8_0);

    static boolean weight(GgmlType t) {
        return FLOAT.contains(t) || QUANT.contains(t);
    }

    static boolean isFloat(GgmlType t) {
        return FLOAT.contains(t);
    }

    /** "q4_k", "iq4_xs", "f16"... */
    static String suffix(GgmlType t) {
        return t.name().toLowerCase(Locale.ROOT);
    }

    /** The storage id the attention kernels take for a cache type. */
    static int cacheId(GgmlType t) {
        return switch (t) {
            case F32 -> 0;
            case F16 -> 1;
            case Q8_0 -> 8;
            default -> throw new GpuException("KV cache type " + t + " is not supported on the GPU (f32, f16, q8_0)");
        };
    }

    /** Tokens up to which the matrix-vector kernels run (more go to the tensor-core matrix kernels). */
    static final int MATVEC_TOKENS = 8;

    /**
     * Rows per warp of the one-token matrix-vector kernels of quantized types, forced for all types
     * by -Dpanamax.cuda.matvecRows=1|2|4 (0: {@link #matvecRows(GgmlType, int)}'s choice).
     */
    static final int FORCED_ROWS = rowsProperty();

    private static int rowsProperty() {
        String v = System.getProperty("panamax.cuda.matvecRows", "");
        return switch (v) {
            case "1" -> 1;
            case "2" -> 2;
            case "4" -> 4;
            default -> 0;
        };
    }

    /** Rows from which Q4_K's product takes 2 rows per warp: a 14B's fused gate and up (27,648), not its 5,120-row ones. */
    static final int Q4_K_PAIR_ROWS = 8192;

    /**
     * Rows per warp for a product of {@code rows} rows of a type: 1, measured fastest on an H100 at
     * the 14B shapes (decode profile and kernel speeds of the device check) for every type but
     * Q3_K, whose strided kernel gains from sharing each gathered activation between two rows, and
     * Q4_K's largest products (the device check's graphs on H200s, 13824 x 5120: 2 rows 2,283-2,617
     * GB/s against 1 row's 2,069-2,488 in 3 of 4 runs; 1 row ahead at 5120 x 5120 and 5120 x 13824).
     */
    static int matvecRows(GgmlType t, int rows) {
        if (FORCED_ROWS > 0) {
            return FORCED_ROWS;
        }
        return t == GgmlType.Q3_K || t == GgmlType.Q4_K && rows >= Q4_K_PAIR_ROWS ? 2 : 1;
    }

    /** Every one-token kernel a type's products may take (the runner resolves them up front). */
    static java.util.List<String> matvecKernels(GgmlType t) {
        return isFloat(t) ? java.util.List.of(matvec(t, 1, 1)) : java.util.List.of(matvec(t, 1, 1), matvec(t, 1, 2));
    }

    /** The matrix-vector kernel for {@code tokens} tokens; {@code rows}: rows per warp (quantized, one token). */
    static String matvec(GgmlType t, int tokens, int rows) {
        if (tokens > 1) {
            return "matvec_" + suffix(t) + "_8";
        }
        if (isFloat(t) || rows == 2) {
            return "matvec_" + suffix(t) + "_1";
        }
        return "matvec_" + suffix(t) + "_1_r" + rows;
    }

    /** Weight rows one block (4 warps) of that kernel computes. */
    static int matvecRowsPerBlock(GgmlType t, int tokens, int rows) {
        return 4 * (tokens == 1 && !isFloat(t) ? rows : 1);
    }

    static int matmulTile(int tokens) {
        return tokens <= 64 ? 64 : 128;
    }

    /**
     * The token tile for {@code rows} x {@code tokens} on a device with {@code multiprocessors}:
     * 64 where 128 would leave multiprocessors without a block of 128 rows (a small model's
     * products, or a 14B's key and value projections). Measured on an H200 with 512-token batches:
     * Qwen3-0.6B pp512 29.6k -> 44.7k tokens/s, 14B Q4_K_H 4,387/4,399 -> 4,454/4,459; where
     * 128-wide blocks already outnumber the multiprocessors, the narrower tile's extra weight
     * decoding costs more than the added blocks gain (14B with 160 such blocks: 4,360 -> 4,230).
     */
    static int matmulTile(int rows, int tokens, int multiprocessors) {
        int tile = matmulTile(tokens);
        return tile == 128 && ((rows + 127) / 128) * ((tokens + 127) / 128) < multiprocessors ? 64 : tile;
    }

    static String matmul(GgmlType t, int tokens) {
        return matmulKernel(t, matmulTile(tokens));
    }

    /** The tensor-core kernel of that type and token tile. */
    static String matmulKernel(GgmlType t, int tile) {
        return "matmul_" + suffix(t) + "_" + tile;
    }
}
