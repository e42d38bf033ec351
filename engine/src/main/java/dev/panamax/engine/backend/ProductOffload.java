package dev.panamax.engine.backend;

import dev.panamax.kernels.QuantMatrix;
import dev.panamax.kernels.WorkerPool;

/**
 * Matrix products of the layers that stay on the CPU, computed on a device for big batches: the
 * prompt of a partly offloaded model. The weights cross to the device on every call (they do not
 * fit there, or they would be offloaded), which pays once {@link #MIN_TOKENS} or more tokens share
 * them: the device multiplies far faster than the CPU, and the bus moves weights faster than the
 * CPU's kernels consume them. Offered by the runner of the offloaded layers
 * ({@link LayerRunner#products()}); the planner reserves the device room for one matrix.
 */
public interface ProductOffload {
    /** Fewest tokens of a product sent to the device (fewer stay on the CPU: the bus would dominate). */
    int MIN_TOKENS = 32;

    /** Whether the device can compute products with this matrix (its type has a device kernel). */
    boolean supports(QuantMatrix w);

    /**
     * For each i, {@code outs[i][t * ws[i].rows() + r]} = row r of {@code ws[i]} . {@code x[t * cols ..
     * + cols)} for {@code t < tokens}, every matrix having {@code cols} columns.
     *
     * @param pool the CPU's workers, idle meanwhile: they copy the weights toward the device
     */
    void products(QuantMatrix[] ws, float[] x, int tokens, float[][] outs, WorkerPool pool);
}
