package dev.panamax.engine;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufWriter;
import dev.panamax.gguf.MetadataValue;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Random;

/** Random-weight F32 models of a given shape, written with our GGUF writer, for engine tests. */
public final class TinyModels {
    private TinyModels() {}

    public record Shape(String arch, int layers, int embedding, int ffn, int heads, int kvHeads, int vocab,
            boolean biases, boolean qkNorm, boolean tied) {}

    public static Shape qwen2() {
        return new Shape("qwen2", 2, 64, 128, 4, 2, 96, true, false, false);
    }

    public static Shape qwen3() {
        return new Shape("qwen3", 2, 64, 128, 4, 2, 96, false, true, true);
    }

    public static Shape llama() {
        return new Shape("llama", 2, 64, 128, 4, 2, 96, false, false, false);
    }

    public static Path write(Path file, Shape s, long seed) throws IOException {
        Random rnd = new Random(seed);
        int hd = s.embedding() / s.heads();
        try (GgufWriter w = GgufWriter.create(file)) {
            String a = s.arch() + ".";
            w.put("general.architecture", s.arch());
            w.put(a + "block_count", MetadataValue.ofUInt32(s.layers()));
            w.put(a + "context_length", MetadataValue.ofUInt32(2048));
            w.put(a + "embedding_length", MetadataValue.ofUInt32(s.embedding()));
            w.put(a + "feed_forward_length", MetadataValue.ofUInt32(s.ffn()));
            w.put(a + "attention.head_count", MetadataValue.ofUInt32(s.heads()));
            w.put(a + "attention.head_count_kv", MetadataValue.ofUInt32(s.kvHeads()));
            w.put(a + "rope.freq_base", MetadataValue.ofFloat32(10000f));
            w.put(a + "attention.layer_norm_rms_epsilon", MetadataValue.ofFloat32(1e-6f));
            matrix(w, "token_embd.weight", s.embedding(), s.vocab(), rnd, 1.0f);
            for (int l = 0; l < s.layers(); l++) {
                String p = "blk." + l + ".";
                vector(w, p + "attn_norm.weight", s.embedding(), rnd, 1f, 0.2f);
                matrix(w, p + "attn_q.weight", s.embedding(), s.heads() * hd, rnd, 0.3f);
                matrix(w, p + "attn_k.weight", s.embedding(), s.kvHeads() * hd, rnd, 0.3f);
                matrix(w, p + "attn_v.weight", s.embedding(), s.kvHeads() * hd, rnd, 0.3f);
                if (s.biases()) {
                    vector(w, p + "attn_q.bias", s.heads() * hd, rnd, 0f, 0.2f);
                    vector(w, p + "attn_k.bias", s.kvHeads() * hd, rnd, 0f, 0.2f);
                    vector(w, p + "attn_v.bias", s.kvHeads() * hd, rnd, 0f, 0.2f);
                }
                if (s.qkNorm()) {
                    vector(w, p + "attn_q_norm.weight", hd, rnd, 1f, 0.2f);
                    vector(w, p + "attn_k_norm.weight", hd, rnd, 1f, 0.2f);
                }
                matrix(w, p + "attn_output.weight", s.heads() * hd, s.embedding(), rnd, 0.2f);
                vector(w, p + "ffn_norm.weight", s.embedding(), rnd, 1f, 0.2f);
                matrix(w, p + "ffn_gate.weight", s.embedding(), s.ffn(), rnd, 0.3f);
                matrix(w, p + "ffn_up.weight", s.embedding(), s.ffn(), rnd, 0.3f);
                matrix(w, p + "ffn_down.weight", s.ffn(), s.embedding(), rnd, 0.2f);
            }
            vector(w, "output_norm.weight", s.embedding(), rnd, 1f, 0.2f);
            if (!s.tied()) {
                matrix(w, "output.weight", s.embedding(), s.vocab(), rnd, 0.3f);
            }
            w.finish();
        }
        return file;
    }

    private static void matrix(GgufWriter w, String name, int cols, int rows, Random rnd, float std) {
        float[] v = new float[cols * rows];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian() * std;
        }
        w.addTensor(name, GgmlType.F32, new long[] {cols, rows}, sink -> sink.write(bytes(v)));
    }

    private static void vector(GgufWriter w, String name, int n, Random rnd, float mean, float std) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = mean + (float) rnd.nextGaussian() * std;
        }
        w.addTensor(name, GgmlType.F32, new long[] {n}, sink -> sink.write(bytes(v)));
    }

    private static ByteBuffer bytes(float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b;
    }
}
