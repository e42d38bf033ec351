package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The multi-token float panels ({@link FloatDot} through {@link MatOps#matmul}) at token counts
 * that take both of their kernels at every vector width (whole blocks of token vectors, the
 * vectors left over, padding), with more rows than a panel and a partial last panel and column
 * chunk, against a double-precision sum of the dequantized weights times the int8 activations'
 * floats, within the panels' rounding bound.
 */
@Tag("vector")
class FloatDotTest {
    private static final int ROWS = 101;
    private static final int[] TOKENS = {20, 24, 48, 64, 65, 70, 96, 130};

    enum Case {
        Q4_K(GgmlType.Q4_K, 1280),
        Q6_K(GgmlType.Q6_K, 768),
        // 32 columns past the last whole chunk of 256: a last chunk shorter than one step
        Q8_0(GgmlType.Q8_0, 1312),
        F32(GgmlType.F32, 1296);

        final GgmlType type;
        final int cols;

        Case(GgmlType type, int cols) {
            this.type = type;
            this.cols = cols;
        }
    }

    @ParameterizedTest
    @EnumSource(Case.class)
    void panelsMatchTheDequantizedProductsAtEveryTokenCount(Case c) {
        QuantFormat f = Kernels.of(c.type);
        int cols = c.cols;
        SplittableRandom rnd = new SplittableRandom(11 + c.ordinal());
        try (Arena arena = Arena.ofShared()) {
            long rb = f.rowBytes(cols);
            MemorySegment seg = arena.allocate(rb * ROWS, 64);
            float[] row = new float[cols];
            float[] w = new float[ROWS * cols];
            for (int r = 0; r < ROWS; r++) {
                for (int i = 0; i < cols; i++) {
                    row[i] = (float) (rnd.nextDouble() - 0.5);
                }
                f.quantize(row, 0, seg, r * rb, cols);
                f.dequantizeReference(seg, r * rb, w, r * cols, cols);
            }
            QuantMatrix m = new QuantMatrix(f, seg, ROWS, cols);
            int maxTokens = TOKENS[TOKENS.length - 1];
            Activations x = new Activations(maxTokens, cols);
            for (int i = 0; i < x.f32().length; i++) {
                x.f32()[i] = (float) (rnd.nextDouble() * 2 - 1);
            }
            ActivationType at = f.activationType();
            for (int tokens : TOKENS) {
                x.setTokens(tokens);
                for (int threads = 1; threads <= 2; threads++) {
                    try (WorkerPool pool = new WorkerPool(threads)) {
                        float[] out = new float[tokens * ROWS];
                        MatOps.matmul(m, x, out, pool);
                        for (int t = 0; t < tokens; t++) {
                            for (int r = 0; r < ROWS; r++) {
                                double sum = 0;
                                double abs = 0;
                                for (int i = 0; i < cols; i++) {
                                    double p = (double) w[r * cols + i] * activation(x, at, t, i);
                                    sum += p;
                                    abs += Math.abs(p);
                                }
                                double bound = (FloatDot.panelRoundings(cols) + 2) * 0x1p-24 * abs + 1e-30;
                                float got = out[t * ROWS + r];
                                assertTrue(Math.abs(got - sum) <= bound, c + " tokens " + tokens + " threads " + threads
                                        + " row " + r + " token " + t + ": " + got + " vs " + sum + " (bound " + bound + ")");
                            }
                        }
                    }
                }
            }
        }
    }

    /** One rounding of q*scale, as the panels read it: the value {@link Activations#columns} holds. */
    private static double activation(Activations x, ActivationType type, int t, int i) {
        int k = t * x.dim() + i;
        return switch (type) {
            case F32 -> x.f32()[k];
            case Q8_0 -> x.q8_0()[k] * x.q8_0Scale()[k >> 5];
            case Q8_K -> x.q8_K()[k] * x.q8_KScale()[k >> 8];
        };
    }

    @Test
    void columnsPutEveryTokenWhereTheKernelsReadIt() {
        int dim = 64;
        for (int tokens : TOKENS) {
            Activations x = new Activations(tokens, dim);
            for (int t = 0; t < tokens; t++) {
                for (int k = 0; k < dim; k++) {
                    x.f32()[t * dim + k] = t * 1000 + k;
                }
            }
            float[] columns = x.columns(ActivationType.F32);
            int tp = FloatDot.paddedTokens(tokens);
            boolean[] seen = new boolean[tp * dim];
            for (int t = 0; t < tp; t++) {
                for (int k = 0; k < dim; k++) {
                    int o = FloatDot.columnStart(t, dim, tp) + k * FloatDot.columnStride(t, tp);
                    assertEquals(t < tokens ? t * 1000 + k : 0f, columns[o], "tokens " + tokens + " token " + t + " column " + k);
                    assertTrue(!seen[o], "tokens " + tokens + ": two values at " + o);
                    seen[o] = true;
                }
            }
        }
    }
}
