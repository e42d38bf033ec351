package dev.panamax.engine.model;

import dev.panamax.kernels.QuantMatrix;
import java.util.List;

/**
 * One transformer block's weights. Optional parts (biases, q/k norms) are null when the
 * architecture does not have them.
 */
public record LayerWeights(
        Vec attnNorm,
        QuantMatrix wq, Vec bq,
        QuantMatrix wk, Vec bk,
        QuantMatrix wv, Vec bv,
        Vec qNorm, Vec kNorm,
        QuantMatrix wo,
        Vec ffnNorm,
        QuantMatrix gate, QuantMatrix up, QuantMatrix down) {

    /** The matrices in the order a forward pass reads them. */
    public List<QuantMatrix> matrices() {
        return List.of(wq, wk, wv, wo, gate, up, down);
    }

    /** Bytes of all matrices: what streams from memory per token. */
    public long matrixBytes() {
        long n = 0;
        for (QuantMatrix m : matrices()) {
            n += m.rowBytes() * m.rows();
        }
        return n;
    }
}
