package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import dev.panamax.gguf.GgmlType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Reference and vector dequantization against the independent numpy dequantizers of the
 * {@code gguf} python package, on random and adversarial blocks: random bytes, all-zero and
 * all-0xFF blocks, and the fp16 scale fields forced to extremes (+-65504, subnormals, +-0, +-1,
 * +-infinity, NaN). Equality is exact (bit for bit) for every finite value: both sides compute
 * (d*sc)*q - dmin*m in float32 with the product exact (or, for Q6_K, a plain product) in the same
 * order. NaN results (inf*0 and inf-inf from the infinite scales) compare as NaN on both sides,
 * since NaN payloads are not specified.
 */
@Tag("vector")
class KQuantPythonTest {
    private static final short[] EXTREME_FP16 = {
        0x7BFF, (short) 0xFBFF, 0x0001, (short) 0x8001, 0x0400, 0x3C00, (short) 0xBC00, 0x0000, (short) 0x8000,
        0x7C00, (short) 0xFC00, 0x7E00, 0x1234, (short) 0xC567,
    };

    record Case(String name, GgmlType type, int[] fp16Offsets) {}

    private static final List<Case> CASES = List.of(
            new Case("Q2_K", GgmlType.Q2_K, new int[] {80, 82}),
            new Case("Q3_K", GgmlType.Q3_K, new int[] {108}),
            new Case("Q4_K", GgmlType.Q4_K, new int[] {0, 2}),
            new Case("Q5_K", GgmlType.Q5_K, new int[] {0, 2}),
            new Case("Q6_K", GgmlType.Q6_K, new int[] {208}));

    static final int BLOCKS = 64;

    /** Random and adversarial blocks of a type; deterministic. */
    static byte[] blocks(Case c, long seed) {
        int bb = c.type().blockBytes();
        byte[] data = new byte[BLOCKS * bb];
        SplittableRandom rnd = new SplittableRandom(seed);
        for (int b = 0; b < BLOCKS; b++) {
            int o = b * bb;
            if (b == 0) {
                continue; // all zero
            }
            if (b == 1) {
                java.util.Arrays.fill(data, o, o + bb, (byte) 0xFF);
                for (int off : c.fp16Offsets()) {
                    putShort(data, o + off, (short) 0x7BFF); // max finite scales with max levels
                }
                continue;
            }
            for (int i = 0; i < bb; i++) {
                data[o + i] = (byte) rnd.nextInt(256);
            }
            if (b < 2 + EXTREME_FP16.length * 2) {
                // every extreme value in every fp16 field, the other field random or extreme
                for (int k = 0; k < c.fp16Offsets().length; k++) {
                    short v = EXTREME_FP16[(b + 5 * k) % EXTREME_FP16.length];
                    putShort(data, o + c.fp16Offsets()[k], v);
                }
            } else {
                // random finite scales of moderate size, like real tensors
                for (int off : c.fp16Offsets()) {
                    putShort(data, o + off, Float.floatToFloat16((float) (rnd.nextDouble(-1, 1) * Math.pow(10, rnd.nextInt(-6, 3)))));
                }
            }
        }
        return data;
    }

    static void putShort(byte[] b, int off, short v) {
        b[off] = (byte) v;
        b[off + 1] = (byte) (v >> 8);
    }

    @Test
    void dequantizationMatchesGgufPythonPackage(@TempDir Path dir) throws Exception {
        List<String> names = new ArrayList<>();
        List<byte[]> inputs = new ArrayList<>();
        for (Case c : CASES) {
            byte[] data = blocks(c, 42 + c.type().id());
            Files.write(dir.resolve(c.name() + ".bin"), data);
            names.add(c.name());
            inputs.add(data);
        }
        String script = """
                import sys
                import numpy as np
                from gguf import GGMLQuantizationType
                from gguf.quants import dequantize
                d = sys.argv[1]
                with np.errstate(all="ignore"):
                    for name in sys.argv[2:]:
                        raw = np.fromfile(f"{d}/{name}.bin", dtype=np.uint8)
                        out = dequantize(raw, GGMLQuantizationType[name]).astype(np.float32)
                        out.tofile(f"{d}/{name}.out.f32")
                print("ok")
                """;
        List<String> args = new ArrayList<>();
        args.add(dir.toString());
        args.addAll(names);
        Python.run(dir, script, args.toArray(String[]::new));
        for (int i = 0; i < CASES.size(); i++) {
            Case c = CASES.get(i);
            QuantFormat f = Kernels.of(c.type());
            float[] py = Golden.floats(dir.resolve(c.name() + ".out.f32"));
            int n = BLOCKS * 256;
            assertEquals(n, py.length, c.name() + " python output length");
            MemorySegment seg = MemorySegment.ofArray(inputs.get(i));
            float[] ref = new float[n];
            float[] vec = new float[n];
            f.dequantizeReference(seg, 0, ref, 0, n);
            f.dequantize(seg, 0, vec, 0, n);
            int nan = 0;
            for (int j = 0; j < n; j++) {
                check(c.name() + " reference vs gguf python", j, py[j], ref[j]);
                check(c.name() + " vector vs reference", j, ref[j], vec[j]);
                if (Float.isNaN(ref[j])) {
                    nan++;
                }
            }
            // the adversarial blocks must really have produced special values, the rest finite ones
            if (nan == 0 || nan > n / 4) {
                fail(c.name() + ": unexpected NaN count " + nan);
            }
        }
    }

    private static void check(String what, int i, float expected, float actual) {
        boolean same = Float.isNaN(expected) ? Float.isNaN(actual)
                : Float.floatToRawIntBits(expected) == Float.floatToRawIntBits(actual);
        if (!same) {
            fail(what + ": value " + i + " (block " + i / 256 + ", index " + i % 256 + "): expected " + expected
                    + " got " + actual);
        }
    }
}
