package dev.panamax.gguf;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Thousands of randomly corrupted variants of a valid file (fixed seed): each must either parse
 * or throw GgufFormatException; never another exception, an OutOfMemoryError or a hang.
 */
class GgufMutationTest {
    private static final int VARIANTS = 20_000;

    @Test
    void corruptedFilesParseOrFailCleanly(@TempDir Path dir) throws Exception {
        byte[] good = GgufFixtures.bytes(dir);
        int headerEnd = (int) GgufFile.parse(MemorySegment.ofArray(good), "x").header().dataOffset();
        Random rnd = new Random(20261127);
        int parsed = 0;
        int rejected = 0;
        for (int i = 0; i < VARIANTS; i++) {
            byte[] b = mutate(good, headerEnd, rnd);
            try {
                GgufFile g = GgufFile.parse(MemorySegment.ofArray(b), "mutant-" + i);
                // whatever parsed must be usable: every tensor slice readable, metadata printable
                for (GgufTensor t : g.tensors()) {
                    if (t.data().byteSize() > 0) {
                        t.data().get(ValueLayout.JAVA_BYTE, t.data().byteSize() - 1);
                    }
                }
                g.metadata().asMap().values().forEach(v -> v.display(5));
                parsed++;
            } catch (GgufFormatException expected) {
                rejected++;
            } catch (Throwable other) {
                fail("variant " + i + " threw " + other + " instead of GgufFormatException", other);
            }
        }
        assertTrue(rejected > VARIANTS / 4, "most mutants are rejected: " + rejected);
        assertTrue(parsed > 0, "some mutants only touch data bytes and still parse: " + parsed);
    }

    private static byte[] mutate(byte[] good, int headerEnd, Random rnd) {
        byte[] b = good.clone();
        int edits = 1 + rnd.nextInt(4);
        for (int e = 0; e < edits; e++) {
            // mostly hit the header, where the structure is
            int pos = rnd.nextInt(10) < 8 ? rnd.nextInt(headerEnd) : rnd.nextInt(b.length);
            pos = Math.min(pos, b.length - 1);
            switch (rnd.nextInt(7)) {
                case 0 -> b[pos] ^= (byte) (1 << rnd.nextInt(8));
                case 1 -> b[pos] = (byte) rnd.nextInt(256);
                case 2 -> b[pos] = (byte) (rnd.nextBoolean() ? 0xFF : 0x00);
                case 3 -> { // overwrite a u64-sized field with an extreme value
                    long v = switch (rnd.nextInt(4)) {
                        case 0 -> -1L;
                        case 1 -> 1L << rnd.nextInt(63);
                        case 2 -> rnd.nextInt(1000);
                        default -> Integer.MAX_VALUE + (long) rnd.nextInt(3);
                    };
                    for (int k = 0; k < 8 && pos + k < b.length; k++) {
                        b[pos + k] = (byte) (v >>> (8 * k));
                    }
                }
                case 4 -> b = Arrays.copyOf(b, rnd.nextInt(b.length + 1)); // truncate
                case 5 -> { // insert bytes
                    int n = 1 + rnd.nextInt(8);
                    byte[] c = new byte[b.length + n];
                    System.arraycopy(b, 0, c, 0, pos);
                    rnd.nextBytes(Arrays.copyOfRange(c, pos, pos + n));
                    System.arraycopy(b, pos, c, pos + n, b.length - pos);
                    b = c;
                }
                default -> { // delete bytes
                    int n = Math.min(b.length - pos, 1 + rnd.nextInt(8));
                    byte[] c = new byte[b.length - n];
                    System.arraycopy(b, 0, c, 0, pos);
                    System.arraycopy(b, pos + n, c, pos, b.length - pos - n);
                    b = c;
                }
            }
            if (b.length == 0) {
                break;
            }
        }
        return b;
    }
}
