package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorOperators;

/**
 * Throwaway single-thread matvec throughput measurement (GB/s of weights streamed), not a test:
 * run by hand, e.g.
 * {@code java --add-modules jdk.incubator.vector -cp ... dev.panamax.kernels.MatvecBench Q8_0 Q4_0}.
 * Shapes: the 14B model's 5120x5120 and 13824x5120. Weights are a few quantized random rows
 * repeated (quantizing 70M values with the reference quantizers would take long).
 */
public final class MatvecBench {
    private static final java.lang.management.ThreadMXBean TM = java.lang.management.ManagementFactory.getThreadMXBean();

    public static void main(String[] args) throws Exception {
        double seconds = Double.parseDouble(System.getProperty("bench.seconds", "2"));
        int threads = Integer.getInteger("bench.threads", 1);
        int tokens = Integer.getInteger("bench.tokens", 1);
        List<GgmlType> types = new ArrayList<>();
        for (String a : args) {
            types.add(GgmlType.byName(a).orElseThrow());
        }
        System.out.println(VectorShapes.describe() + ", threads " + threads + ", tokens " + tokens);
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(threads)) {
            int[][] shapes = {{5120, 5120}, {13824, 5120}};
            for (int[] shape : shapes) {
                int rows = shape[0];
                int cols = shape[1];
                long rawBytes = (long) rows * cols;
                MemorySegment raw = arena.allocate(rawBytes, 64);
                raw.fill((byte) 1);
                System.out.printf("%5dx%d  raw read %.1f GB/s%n", rows, cols, rawRead(raw, seconds));
                for (GgmlType t : types) {
                    QuantFormat f = Kernels.of(t);
                    long rowBytes = f.rowBytes(cols);
                    MemorySegment data = arena.allocate(rowBytes * rows, 64);
                    Random rnd = new Random(42);
                    int distinct = 32;
                    float[] src = new float[cols];
                    for (int r = 0; r < distinct; r++) {
                        for (int i = 0; i < cols; i++) {
                            src[i] = (float) rnd.nextGaussian() * 0.02f;
                        }
                        f.quantize(src, 0, data, r * rowBytes, cols);
                    }
                    for (int r = distinct; r < rows; r++) {
                        MemorySegment.copy(data, (r % distinct) * rowBytes, data, r * rowBytes, rowBytes);
                    }
                    QuantMatrix m = new QuantMatrix(f, data, rows, cols);
                    Activations x = new Activations(tokens, cols);
                    for (int i = 0; i < x.f32().length; i++) {
                        x.f32()[i] = (float) rnd.nextGaussian();
                    }
                    x.invalidate();
                    float[] out = new float[rows * tokens];
                    // warm-up
                    long end = System.nanoTime() + (long) (seconds * 0.5e9);
                    while (System.nanoTime() < end) {
                        MatOps.matmul(m, x, out, pool);
                    }
                    long start = System.nanoTime();
                    long cpuStart = TM.getCurrentThreadCpuTime();
                    int reps = 0;
                    end = start + (long) (seconds * 1e9);
                    long now;
                    do {
                        MatOps.matmul(m, x, out, pool);
                        reps++;
                        now = System.nanoTime();
                    } while (now < end);
                    double cpu = (TM.getCurrentThreadCpuTime() - cpuStart) / 1e9;
                    double s = (now - start) / 1e9;
                    double gbs = (double) data.byteSize() * reps / s / 1e9;
                    String cpuNote = threads == 1
                            ? String.format("  (%.2f GB/s per CPU-second of this thread)", (double) data.byteSize() * reps / cpu / 1e9)
                            : "";
                    System.out.printf("%5dx%d  %-7s %6.2f GB/s  %7.3f ms/matvec%s%n", rows, cols, t, gbs, s * 1e3 / reps, cpuNote);
                }
            }
        }
    }

    private static long sum4k(MemorySegment s, long base) {
        LongVector acc = LongVector.zero(LongVector.SPECIES_256);
        for (int o = 0; o < 4096; o += 32) {
            acc = acc.add(LongVector.fromMemorySegment(LongVector.SPECIES_256, s, base + o, java.nio.ByteOrder.LITTLE_ENDIAN));
        }
        return acc.reduceLanes(VectorOperators.ADD);
    }

    private static double rawRead(MemorySegment s, double seconds) {
        long start = System.nanoTime();
        long end = start + (long) (seconds * 0.5e9);
        long reps = 0;
        long sink = 0;
        long now;
        do {
            for (long o = 0; o < s.byteSize(); o += 4096) {
                sink += sum4k(s, o);
            }
            reps++;
            now = System.nanoTime();
        } while (now < end);
        if (sink == 42) {
            System.out.println();
        }
        return (double) s.byteSize() * reps / ((now - start) / 1e9) / 1e9;
    }
}
