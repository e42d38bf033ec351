package dev.panamax.kernels;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * llama.cpp's reference quantization vectors in ../shared/data/quant-golden (see its README):
 * 40 rows of 512 floats, each row quantized on its own.
 */
final class Golden {
    static final int ROWS = 40;
    static final int COLS = 512;

    private Golden() {}

    static Path dir() {
        String shared = System.getProperty("panamax.sharedData");
        Path p = shared != null ? Path.of(shared, "quant-golden") : Path.of("../../shared/data/quant-golden");
        Assumptions.assumeTrue(Files.isDirectory(p), "golden vectors not found at " + p.toAbsolutePath());
        return p;
    }

    static float[] input() throws IOException {
        return floats(dir().resolve("shared.input.f32"));
    }

    /** The quantized bytes of all rows for a type file name such as "q4_K". */
    static byte[] quantized(String name) throws IOException {
        return Files.readAllBytes(dir().resolve("shared." + name + ".bin"));
    }

    static float[] dequantized(String name) throws IOException {
        return floats(dir().resolve("shared." + name + ".dequant.f32"));
    }

    static float[] floats(Path p) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p)).order(ByteOrder.LITTLE_ENDIAN);
        float[] f = new float[b.remaining() / 4];
        b.asFloatBuffer().get(f);
        return f;
    }
}
