package dev.panamax.engine;

import dev.panamax.gguf.GgmlType;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The logits {@link InterpretedRunTest} compares between an interpreter-only JVM and a warmed-up
 * one: a prompt, a batch and decode steps over one model with an F16 and a Q8_0 cache. As a main
 * class it prints them as raw float bits, one step a line.
 */
final class InterpretedRun {
    static final int[] PROMPT = {5, 17, 3, 88, 42, 7};
    static final int[] DECODE = {60, 1, 95};

    static List<float[]> logits(Path model) {
        List<float[]> rows = new ArrayList<>();
        try (Model m = Model.open(model)) {
            for (GgmlType cache : new GgmlType[] {GgmlType.F16, GgmlType.Q8_0}) {
                SessionOptions o = SessionOptions.defaults().withContext(32).withCacheTypes(cache, cache).withThreads(2);
                try (Session s = m.newSession(o)) {
                    int vocab = s.vocab();
                    s.forward(PROMPT, 0, PROMPT.length, 0, (i, l, off) -> rows.add(Arrays.copyOfRange(l, off, off + vocab)));
                    for (int t : DECODE) {
                        rows.add(s.decode(t));
                    }
                }
            }
        }
        return rows;
    }

    public static void main(String[] args) {
        for (String file : args) {
            for (float[] row : logits(Path.of(file))) {
                StringBuilder b = new StringBuilder(file);
                for (float f : row) {
                    b.append(' ').append(Integer.toHexString(Float.floatToRawIntBits(f)));
                }
                System.out.println(b);
            }
        }
    }
}
