package dev.panamax.engine.backend;

import dev.panamax.engine.model.KvCache;
import dev.panamax.kernels.WorkerPool;

/**
 * The layers that stay on the CPU, computed on a device for big batches: the prompt of a partly
 * offloaded model. Their weights cross to the device layer by layer on every call (they do not fit
 * there, or they would be offloaded), which pays once {@link #MIN_TOKENS} or more tokens share them:
 * the bus moves weights faster than the CPU's kernels consume them, and the device's attention and
 * element-wise work is far faster than the CPU's. Offered by the runner of the offloaded layers
 * ({@link LayerRunner#cpuLayers()}); the planner reserves the device room for one layer and its
 * cache ({@link OffloadPlan#streamBytes}).
 */
public interface LayerOffload {
    /** Fewest tokens of a batch sent to the device (fewer stay on the CPU: the bus would dominate). */
    int MIN_TOKENS = 32;

    /**
     * Applies the CPU's layers (0 up to the device runner's first layer) in place to {@code tokens}
     * hidden states at positions {@code pos0 ..}, like their CPU runner would: reads the positions
     * before {@code pos0} from {@code cache} and writes the batch's keys and values into it.
     *
     * @param pool the CPU's workers, idle meanwhile: they copy the weights toward the device
     */
    void forward(KvCache cache, float[] hidden, int tokens, int pos0, WorkerPool pool);
}
