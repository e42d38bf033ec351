package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.SplittableRandom;

/**
 * Throwaway single-thread matvec throughput of the K-quants (GB/s of weights streamed), run by
 * hand; not a test and no timing assertion:
 * <pre>
 * java --add-modules jdk.incubator.vector -cp cpu-kernels/target/classes:cpu-kernels/target/test-classes:ffm-gguf/target/classes \
 *     dev.panamax.kernels.KQuantBench [types] [rows x cols ...] [tokens] [threads]
 * </pre>
 */
public final class KQuantBench {
    private KQuantBench() {}

    public static void main(String[] args) {
        String types = args.length > 0 ? args[0] : "Q2_K,Q3_K,Q4_K,Q5_K,Q6_K";
        String shapes = args.length > 1 ? args[1] : "5120x5120,13824x5120";
        int tokens = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        int threads = args.length > 3 ? Integer.parseInt(args[3]) : 1;
        System.out.println(VectorShapes.describe() + ", tokens " + tokens + ", threads " + threads
                + (threads > 1 ? " (cpu column: calling thread only)" : ""));
        try (WorkerPool pool = new WorkerPool(threads); Arena arena = Arena.ofShared()) {
            for (String tn : types.split(",")) {
                QuantFormat f = Kernels.of(GgmlType.valueOf(tn));
                for (String shape : shapes.split(",")) {
                    String[] rc = shape.split("x");
                    int rows = Integer.parseInt(rc[0]);
                    int cols = Integer.parseInt(rc[1]);
                    run(f, rows, cols, tokens, pool, arena);
                }
            }
        }
    }

    static void run(QuantFormat f, int rows, int cols, int tokens, WorkerPool pool, Arena arena) {
        long rb = f.rowBytes(cols);
        MemorySegment seg = arena.allocate(rb * rows, 64);
        SplittableRandom rnd = new SplittableRandom(1);
        float[] row = new float[cols];
        int distinct = 64;
        for (int r = 0; r < distinct; r++) {
            for (int i = 0; i < cols; i++) {
                row[i] = (float) (0.02 * (rnd.nextDouble() * 2 - 1) + 0.01 * (rnd.nextDouble() - 0.5));
            }
            f.quantize(row, 0, seg, r * rb, cols);
        }
        for (int r = distinct; r < rows; r++) {
            MemorySegment.copy(seg, (r % distinct) * rb, seg, r * rb, rb);
        }
        QuantMatrix m = new QuantMatrix(f, seg, rows, cols);
        Activations x = new Activations(tokens, cols);
        for (int i = 0; i < x.f32().length; i++) {
            x.f32()[i] = (float) (rnd.nextDouble() * 2 - 1);
        }
        x.prepare(ActivationType.Q8_K);
        float[] out = new float[rows * tokens];
        double bytes = (double) rb * rows;
        double best = 0;
        double bestCpu = 0;
        int reps = 0;
        java.lang.management.ThreadMXBean tb = java.lang.management.ManagementFactory.getThreadMXBean();
        long deadline = System.nanoTime() + 4_000_000_000L;
        long warm = System.nanoTime() + 1_500_000_000L;
        while (System.nanoTime() < deadline) {
            long c0 = tb.getCurrentThreadCpuTime();
            long t0 = System.nanoTime();
            if (tokens == 1) {
                MatOps.matvec(m, x, out, 0, pool);
            } else {
                MatOps.matmul(m, x, out, pool);
            }
            long t1 = System.nanoTime();
            long c1 = tb.getCurrentThreadCpuTime();
            if (t0 > warm) {
                best = Math.max(best, bytes / (t1 - t0));
                bestCpu = Math.max(bestCpu, bytes / (c1 - c0));
                reps++;
            }
        }
        // wall clock is what a user sees; thread CPU time discounts time the (shared) machine
        // took the thread off its core. Weights are streamed once per call whatever the tokens.
        System.out.printf("%-5s %6dx%-6d %7.1f MB  wall %6.2f GB/s  cpu %6.2f GB/s  (%d reps)%s%n", f.type(), rows, cols,
                bytes / 1e6, best, bestCpu, reps, tokens > 1 ? String.format("  x %d tokens", tokens) : "");
    }
}
