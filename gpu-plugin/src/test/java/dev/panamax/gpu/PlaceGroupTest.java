package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.Kernels;
import dev.panamax.kernels.QuantMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** How a layer's side-by-side matrices (query, key, value; gate, up) become device products. */
class PlaceGroupTest {

    private static QuantMatrix matrix(GgmlType type, int rows, int cols, Arena a) {
        return new QuantMatrix(Kernels.of(type), a.allocate(type.bytesFor((long) rows * cols)), rows, cols);
    }

    private record Placed(long device, long bytes) {}

    private static CudaLayers.Proj place(List<Placed> placed, QuantMatrix... ms) {
        int[] offsets = new int[ms.length];
        for (int i = 1; i < ms.length; i++) {
            offsets[i] = offsets[i - 1] + ms[i - 1].rows();
        }
        long[] at = {1 << 20};
        return CudaLayers.placeGroup(ms, offsets, 0, at, (device, from) -> placed.add(new Placed(device, from.byteSize())));
    }

    @Test
    void neighboursOfOneTypeBecomeOneProduct() {
        try (Arena a = Arena.ofConfined()) {
            List<Placed> placed = new ArrayList<>();
            // a mixed recipe's layer: query and key Q3_K, value Q5_K
            CudaLayers.Proj p = place(placed, matrix(GgmlType.Q3_K, 64, 512, a), matrix(GgmlType.Q3_K, 16, 512, a),
                    matrix(GgmlType.Q5_K, 16, 512, a));
            assertEquals(2, p.parts().length);
            assertEquals(new CudaLayers.Mat(1 << 20, GgmlType.Q3_K, 80, 512), p.parts()[0]);
            assertEquals(GgmlType.Q5_K, p.parts()[1].type());
            assertEquals(16, p.parts()[1].rows());
            assertArrayEquals(new int[] {0, 80}, p.rowOffset());
            // the key's rows follow the query's directly: one matrix of 80 rows
            long q3 = GgmlType.Q3_K.bytesFor(64L * 512);
            assertEquals(placed.get(0).device() + q3, placed.get(1).device());
            assertEquals(p.parts()[1].ptr(), placed.get(2).device());
            org.junit.jupiter.api.Assertions.assertTrue(p.parts()[1].ptr() >= placed.get(1).device() + placed.get(1).bytes());
        }
    }

    @Test
    void typesThatAlternateStaySeparate() {
        try (Arena a = Arena.ofConfined()) {
            CudaLayers.Proj p = place(new ArrayList<>(), matrix(GgmlType.Q4_K, 32, 256, a), matrix(GgmlType.Q6_K, 8, 256, a),
                    matrix(GgmlType.Q4_K, 8, 256, a));
            assertEquals(3, p.parts().length);
            assertArrayEquals(new int[] {0, 32, 40}, p.rowOffset());
        }
    }

    @Test
    void oneTypeIsOneProduct() {
        try (Arena a = Arena.ofConfined()) {
            CudaLayers.Proj p = place(new ArrayList<>(), matrix(GgmlType.Q8_0, 32, 256, a), matrix(GgmlType.Q8_0, 32, 256, a));
            assertEquals(1, p.parts().length);
            assertEquals(64, p.parts()[0].rows());
        }
    }
}
