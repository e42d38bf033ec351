package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class KernelWarmUpTest {

    /** The warm-up only reads the model's matrices and vectors: their bytes are the same afterwards, whatever their type. */
    @Test
    void runsEveryTypeAndLeavesTheWeightsAndVectorsUntouched() {
        SplittableRandom rnd = new SplittableRandom(3);
        try (Arena arena = Arena.ofShared(); WorkerPool pool = new WorkerPool(2)) {
            List<QuantMatrix> ms = new ArrayList<>();
            List<byte[]> before = new ArrayList<>();
            for (GgmlType t : List.of(GgmlType.Q3_K, GgmlType.Q4_K, GgmlType.Q5_K, GgmlType.Q6_K, GgmlType.Q8_0,
                    GgmlType.Q4_0, GgmlType.F16)) {
                QuantFormat f = Kernels.of(t);
                int rows = 40;
                int cols = 512;
                MemorySegment data = arena.allocate(f.rowBytes(cols) * rows, 64);
                float[] row = new float[cols];
                for (int r = 0; r < rows; r++) {
                    for (int i = 0; i < cols; i++) {
                        row[i] = (float) rnd.nextGaussian();
                    }
                    f.quantize(row, 0, data, r * f.rowBytes(cols), cols);
                }
                ms.add(new QuantMatrix(f, data, rows, cols));
                before.add(data.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
            // the model's vectors too: a norm of the embedding's size, a bias of another
            MemorySegment norm = arena.allocate(4L * 512, 64);
            MemorySegment bias = arena.allocate(4L * 128, 64);
            for (MemorySegment v : List.of(norm, bias)) {
                for (long i = 0; i < v.byteSize(); i += 4) {
                    v.set(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED, i, (float) rnd.nextGaussian());
                }
                before.add(v.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
            }
            KernelWarmUp.run(ms, new KernelWarmUp.ModelShape(4, 2, 64, 64, GgmlType.F16, GgmlType.Q8_0, norm, bias, 64, true),
                    pool);
            for (int i = 0; i < ms.size(); i++) {
                assertEquals(java.util.Arrays.hashCode(before.get(i)),
                        java.util.Arrays.hashCode(ms.get(i).data().toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)),
                        ms.get(i).format().type() + " weights");
            }
            assertEquals(java.util.Arrays.hashCode(before.get(ms.size())),
                    java.util.Arrays.hashCode(norm.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)), "norm");
            assertEquals(java.util.Arrays.hashCode(before.get(ms.size() + 1)),
                    java.util.Arrays.hashCode(bias.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)), "bias");
        }
    }
}
