package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.SplittableRandom;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorSpecies;

/**
 * Kernel throughput measurements behind {@code panamax bench kernels}: matrix-vector and
 * matrix-matrix products of one weight type and shape (GB/s of weights streamed, GFLOP/s), and the
 * machine's memory bandwidth (a plain read and a plain copy) for comparison in the same run.
 *
 * <p>Weights are 64 distinct quantized random rows repeated (quantizing a whole 14B-sized matrix
 * with the reference quantizers would take minutes); every row is still read from memory. Each
 * figure is the median over timed slices after a warm-up, with the slowest and fastest slice.
 */
public final class KernelBench {
    private KernelBench() {}

    /** Median, minimum and maximum of the timed slices, in the unit of the measurement. */
    public record Stat(double median, double min, double max) {
        static Stat of(double[] v) {
            double[] s = v.clone();
            Arrays.sort(s);
            return new Stat(s[s.length / 2], s[0], s[s.length - 1]);
        }
    }

    /** A matmul measurement: GB/s of weights, GFLOP/s (2 flops per weight and token), per token of a slice. */
    public record Result(GgmlType type, int rows, int cols, int tokens, int threads, long bytes, Stat gbps, Stat gflops) {}

    /** A weight matrix with activations, ready to time. */
    public static final class Case implements AutoCloseable {
        private final Arena arena = Arena.ofShared();
        final QuantMatrix m;
        final Activations x;
        final float[] out;

        /** {@code rows} x {@code cols} weights of {@code type}, activations of {@code tokens} tokens. */
        public Case(GgmlType type, int rows, int cols, int tokens) {
            QuantFormat f = Kernels.of(type);
            long rb = f.rowBytes(cols);
            MemorySegment seg = arena.allocate(rb * rows, 64);
            SplittableRandom rnd = new SplittableRandom(1);
            float[] row = new float[cols];
            int distinct = Math.min(64, rows);
            for (int r = 0; r < distinct; r++) {
                for (int i = 0; i < cols; i++) {
                    row[i] = (float) (0.02 * gaussian(rnd));
                }
                f.quantize(row, 0, seg, r * rb, cols);
            }
            for (int r = distinct; r < rows; r++) {
                MemorySegment.copy(seg, (r % distinct) * rb, seg, r * rb, rb);
            }
            m = new QuantMatrix(f, seg, rows, cols);
            x = new Activations(tokens, cols);
            for (int i = 0; i < x.f32().length; i++) {
                x.f32()[i] = (float) gaussian(rnd);
            }
            out = new float[rows * tokens];
        }

        /** One product (activations re-prepared each time, as a forward pass does). */
        public void run(WorkerPool pool) {
            x.invalidate();
            MatOps.matmul(m, x, out, pool);
        }

        public long weightBytes() {
            return m.rowBytes() * m.rows();
        }

        @Override
        public void close() {
            arena.close();
        }
    }

    /**
     * Times {@code c} on {@code pool}: a warm-up (at least a second and 3 products: the JIT compiles
     * the kernels), then slices of about 100 ms for {@code seconds}.
     */
    public static Result measure(Case c, WorkerPool pool, double seconds) {
        long warmEnd = System.nanoTime() + (long) Math.max(1e9, seconds * 0.3e9);
        int warm = 0;
        do {
            c.run(pool);
            warm++;
        } while (System.nanoTime() < warmEnd || warm < 3);
        int slices = Math.max(3, (int) Math.round(seconds / 0.1));
        double[] gb = new double[slices];
        double[] gf = new double[slices];
        for (int s = 0; s < slices; s++) {
            long t0 = System.nanoTime();
            long n = 0;
            long t;
            do {
                c.run(pool);
                n++;
                t = System.nanoTime();
            } while (t - t0 < 100_000_000L);
            double sec = (t - t0) / 1e9;
            gb[s] = c.weightBytes() * n / sec / 1e9;
            gf[s] = 2.0 * c.m.rows() * c.m.cols() * c.x.tokens() * n / sec / 1e9;
        }
        return new Result(c.m.format().type(), c.m.rows(), c.m.cols(), c.x.tokens(), pool.threads(), c.weightBytes(),
                Stat.of(gb), Stat.of(gf));
    }

    private static final VectorSpecies<Byte> B = ByteVector.SPECIES_PREFERRED;

    /**
     * Memory read bandwidth (GB/s): every thread of {@code pool} sums its share of a {@code bytes}
     * buffer with vector loads; median of slices over {@code seconds}.
     */
    public static Stat readBandwidth(long bytes, WorkerPool pool, double seconds) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment s = arena.allocate(bytes, 64);
            s.fill((byte) 1);
            int chunks = (int) (bytes >> 16);
            long[] sink = new long[pool.threads()];
            Runnable pass = () -> pool.parallelFor(chunks, 1, (worker, start, end) -> {
                IntVector acc = IntVector.zero(IntVector.SPECIES_PREFERRED);
                for (long o = (long) start << 16; o < (long) end << 16; o += B.length()) {
                    acc = acc.add(ByteVector.fromMemorySegment(B, s, o, ByteOrder.LITTLE_ENDIAN).reinterpretAsInts());
                }
                sink[worker] += acc.reduceLanes(VectorOperators.ADD);
            });
            return slices(pass, (double) ((long) chunks << 16), seconds);
        }
    }

    /**
     * Memory copy bandwidth (GB/s, bytes read plus bytes written, STREAM's convention): every
     * thread copies its share of a {@code bytes} buffer into a second one.
     */
    public static Stat copyBandwidth(long bytes, WorkerPool pool, double seconds) {
        try (Arena arena = Arena.ofShared()) {
            MemorySegment a = arena.allocate(bytes, 64);
            MemorySegment b = arena.allocate(bytes, 64);
            a.fill((byte) 1);
            b.fill((byte) 2);
            int chunks = (int) (bytes >> 16);
            Runnable pass = () -> pool.parallelFor(chunks, 1, (start, end) ->
                    MemorySegment.copy(a, (long) start << 16, b, (long) start << 16, (long) (end - start) << 16));
            return slices(pass, 2.0 * ((long) chunks << 16), seconds);
        }
    }

    private static Stat slices(Runnable pass, double bytesPerPass, double seconds) {
        long warmEnd = System.nanoTime() + (long) Math.max(0.5e9, seconds * 0.3e9);
        do {
            pass.run();
        } while (System.nanoTime() < warmEnd);
        int slices = Math.max(3, (int) Math.round(seconds / 0.1));
        double[] v = new double[slices];
        for (int s = 0; s < slices; s++) {
            long t0 = System.nanoTime();
            long n = 0;
            long t;
            do {
                pass.run();
                n++;
                t = System.nanoTime();
            } while (t - t0 < 100_000_000L);
            v[s] = bytesPerPass * n / ((t - t0) / 1e9) / 1e9;
        }
        return Stat.of(v);
    }

    private static double gaussian(SplittableRandom rnd) {
        return Math.sqrt(-2 * Math.log(1 - rnd.nextDouble())) * Math.cos(2 * Math.PI * rnd.nextDouble());
    }
}
