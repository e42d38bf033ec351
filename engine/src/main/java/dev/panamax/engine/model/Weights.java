package dev.panamax.engine.model;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.GgufTensor;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.gguf.TensorInfo;
import dev.panamax.kernels.Kernels;
import dev.panamax.kernels.QuantFormat;
import dev.panamax.kernels.QuantMatrix;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * All weights of a model bound to the mapped file's tensors (no copies), validated against the
 * configuration: a missing tensor or a shape that disagrees with the metadata is an error that
 * names both.
 *
 * @param output the output head; the token embedding itself when the model ties them
 */
public record Weights(QuantMatrix tokenEmbedding, LayerWeights[] layers, Vec outputNorm, QuantMatrix output,
        boolean tiedOutput) {

    /**
     * Has the system map the layers' matrices and the output head in, in the order a forward pass
     * reads them, on a background thread (see {@link ZeroPages#populateAsync}): the first prompt
     * then finds them mapped instead of faulting them in.
     */
    public void prefault() {
        List<MemorySegment> ranges = new ArrayList<>();
        for (LayerWeights w : layers) {
            for (QuantMatrix m : w.matrices()) {
                ranges.add(m.data());
            }
        }
        ranges.add(output.data());
        ZeroPages.populateAsync(ranges);
    }

    public static Weights bind(GgufFile file, ModelConfig c, Arena arena) {
        Binder b = new Binder(file, arena);
        QuantMatrix embd = b.matrix("token_embd.weight", c.embedding(), c.vocab());
        LayerWeights[] layers = new LayerWeights[c.layers()];
        for (int i = 0; i < c.layers(); i++) {
            String p = "blk." + i + ".";
            layers[i] = new LayerWeights(
                    b.vec(p + "attn_norm.weight", c.embedding()),
                    b.matrix(p + "attn_q.weight", c.embedding(), c.queryDim()), b.optVec(p + "attn_q.bias", c.queryDim()),
                    b.matrix(p + "attn_k.weight", c.embedding(), c.kvDim()), b.optVec(p + "attn_k.bias", c.kvDim()),
                    b.matrix(p + "attn_v.weight", c.embedding(), c.kvValueDim()), b.optVec(p + "attn_v.bias", c.kvValueDim()),
                    b.optVec(p + "attn_q_norm.weight", c.headDim()), b.optVec(p + "attn_k_norm.weight", c.headDim()),
                    b.matrix(p + "attn_output.weight", c.heads() * c.valueDim(), c.embedding()),
                    b.vec(p + "ffn_norm.weight", c.embedding()),
                    b.matrix(p + "ffn_gate.weight", c.embedding(), c.feedForward()),
                    b.matrix(p + "ffn_up.weight", c.embedding(), c.feedForward()),
                    b.matrix(p + "ffn_down.weight", c.feedForward(), c.embedding()));
        }
        Vec norm = b.vec("output_norm.weight", c.embedding());
        boolean tied = file.findTensor("output.weight").isEmpty();
        QuantMatrix output = tied ? embd : b.matrix("output.weight", c.embedding(), c.vocab());
        return new Weights(embd, layers, norm, output, tied);
    }

    /** Looks tensors up and checks them. */
    private record Binder(GgufFile file, Arena arena) {
        QuantMatrix matrix(String name, int cols, int rows) {
            GgufTensor t = file.tensor(name);
            TensorInfo i = t.info();
            if (i.dims() > 2 && Arrays.stream(i.ne()).skip(2).anyMatch(d -> d != 1) || i.ne(0) != cols || i.ne(1) != rows) {
                throw new PanamaxException(file.name() + ": tensor '" + name + "' has shape " + i.shapeString()
                        + ", expected [" + cols + ", " + rows + "] from the metadata");
            }
            QuantFormat f = Kernels.find(i.type()).orElseThrow(() -> new PanamaxException(file.name() + ": tensor '"
                    + name + "' has type " + i.type() + ", which this build cannot compute with"));
            return new QuantMatrix(f, t.data(), rows, cols);
        }

        Vec vec(String name, int size) {
            GgufTensor t = file.tensor(name);
            TensorInfo i = t.info();
            if (i.elementCount() != size) {
                throw new PanamaxException(file.name() + ": tensor '" + name + "' has shape " + i.shapeString()
                        + ", expected [" + size + "] from the metadata");
            }
            if (i.type() == GgmlType.F32) {
                return new Vec(t.data(), size);
            }
            // rare: a norm stored in another type; convert once into off-heap F32
            float[] tmp = new float[size];
            Kernels.of(i.type()).dequantize(t.data(), 0, tmp, 0, size);
            MemorySegment seg = arena.allocate(4L * size, 64);
            MemorySegment.copy(tmp, 0, seg, ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0, size);
            return new Vec(seg, size);
        }

        Vec optVec(String name, int size) {
            return file.findTensor(name).isPresent() ? vec(name, size) : null;
        }
    }
}
