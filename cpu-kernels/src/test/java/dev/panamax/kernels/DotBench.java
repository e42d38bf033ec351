package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Random;

/**
 * Throwaway: the dot kernel on cache-resident rows (compute cost without memory), ns of thread CPU
 * time per 32 values (CPU time, so other processes on a shared machine distort it less).
 */
public final class DotBench {
    private static final java.lang.management.ThreadMXBean TM = java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) {
        int cols = 5120;
        int rows = Integer.getInteger("bench.rows", 16);
        int tokens = Integer.getInteger("bench.tokens", 1);
        for (String a : args) {
            GgmlType t = GgmlType.byName(a).orElseThrow();
            QuantFormat f = Kernels.of(t);
            long rb = f.rowBytes(cols);
            MemorySegment w = Arena.global().allocate(rb * rows, 64);
            Random rnd = new Random(1);
            float[] src = new float[cols];
            for (int r = 0; r < rows; r++) {
                for (int i = 0; i < cols; i++) {
                    src[i] = (float) rnd.nextGaussian();
                }
                f.quantize(src, 0, w, r * rb, cols);
            }
            Activations x = new Activations(tokens, cols);
            for (int i = 0; i < x.f32().length; i++) {
                x.f32()[i] = (float) rnd.nextGaussian();
            }
            x.prepare(f.activationType());
            float[] out = new float[tokens];
            double best = Double.MAX_VALUE;
            float sink = 0;
            for (int rep = 0; rep < 40; rep++) {
                long t0 = TM.getCurrentThreadCpuTime();
                for (int it = 0; it < 200; it++) {
                    for (int r = 0; r < rows; r++) {
                        if (tokens == 1) {
                            sink += f.dot(w, r * rb, x, 0);
                        } else {
                            f.dotTokens(w, r * rb, x, 0, tokens, out, 0, 1);
                            sink += out[0];
                        }
                    }
                }
                long dt = TM.getCurrentThreadCpuTime() - t0;
                best = Math.min(best, dt / (200.0 * rows * cols / 32));
            }
            System.out.printf("%-7s %6.2f ns/32 values  (%5.1f GB/s of weights if memory were free) %s%n", t, best,
                    t.bytesFor(32 * (t.blockValues() == 256 ? 8 : 1)) / (t.blockValues() == 256 ? 8.0 : 1.0) / best, sink == 1 ? "" : "");
        }
    }
}
