package dev.panamax.engine.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.model.Architecture;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.RopeConfig;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Planner arithmetic: whole layers from the end, head first, KV and scratch budgeted. */
class OffloadPlanTest {
    private static final long MIB = 1 << 20;
    // 10 layers of 100 MiB, head 50 MiB, 10 KiB of KV per token over all layers (1 KiB per layer)
    private static final ModelConfig CONFIG = new ModelConfig(Architecture.QWEN2, 10, 256, 512, 4, 2, 64, 64, 1000, 4096,
            1e-6f, RopeConfig.plain(64, 10000f));

    private static OffloadPlan.ModelSizes sizes() {
        long[] layers = new long[10];
        Arrays.fill(layers, 100 * MIB);
        return new OffloadPlan.ModelSizes(layers, 50 * MIB, 10 * 1024, CONFIG);
    }

    // 16 tokens: below LayerOffload.MIN_TOKENS, so these plans reserve nothing to stream the CPU's layers
    private static final long SCRATCH = OffloadPlan.scratchBytes(CONFIG, 1024, 16);

    @Test
    void offloadsWholeLayersFromTheEndAfterTheHead() {
        // budget = scratch + head + 3.5 layers (with their 1 MiB of KV each at context 1024)
        long free = SCRATCH + 50 * MIB + 3 * (100 * MIB + MIB) + 60 * MIB + 256 * MIB;
        OffloadPlan p = OffloadPlan.plan(sizes(), 1024, 16, free, 256 * MIB, -1, 0);
        assertEquals(3, p.layersOnDevice());
        assertTrue(p.headOnDevice());
        assertEquals(50 * MIB + 300 * MIB, p.weightBytes());
        assertEquals(3 * MIB, p.kvBytes());
        assertEquals(60 * MIB, p.budget() - p.usedBytes());
        assertTrue(p.describe().startsWith("3/10 layers + output head on the device (layers 7-9)"), p.describe());
    }

    @Test
    void requestedLayersCapTheOffloadAndADraftTakesItsShare() {
        long free = 10L << 30;
        assertEquals(10, OffloadPlan.plan(sizes(), 1024, 16, free, 0, -1, 0).layersOnDevice());
        assertEquals(4, OffloadPlan.plan(sizes(), 1024, 16, free, 0, 4, 0).layersOnDevice());
        long tight = SCRATCH + 50 * MIB + 5 * 101 * MIB;
        assertEquals(5, OffloadPlan.plan(sizes(), 1024, 16, tight, 0, -1, 0).layersOnDevice());
        assertEquals(3, OffloadPlan.plan(sizes(), 1024, 16, tight, 0, -1, 202 * MIB).layersOnDevice());
    }

    @Test
    void nothingFitsMeansCpuOnly() {
        OffloadPlan p = OffloadPlan.plan(sizes(), 1024, 16, SCRATCH + 10 * MIB, 0, -1, 0);
        assertEquals(0, p.layersOnDevice());
        assertFalse(p.headOnDevice());
        assertEquals("nothing fits on the device: running on the CPU", p.describe());
        assertEquals(0, OffloadPlan.plan(sizes(), 1024, 16, 10L << 30, 0, 0, 0).layersOnDevice(), "-ngl 0");
    }

    @Test
    void largestContextGrowsWithMemoryAndShrinksWithADraft() {
        long free = 1200 * MIB;
        int full = OffloadPlan.largestFullContext(sizes(), 16, free, 0, 0, 0, 65536);
        // weights 1050 MiB; each 256 positions add 2.5 MiB of KV and scratch grows with the context
        assertTrue(full > 4096 && full < 65536, "context " + full);
        assertEquals(0, full % 256);
        int withDraft = OffloadPlan.largestFullContext(sizes(), 16, free, 0, 5 * 1024, 40 * MIB, 65536);
        assertTrue(withDraft < full, withDraft + " < " + full);
        assertEquals(0, OffloadPlan.largestFullContext(sizes(), 16, 900 * MIB, 0, 0, 0, 65536), "weights alone do not fit");
    }

    @Test
    void aPartialOffloadReservesRoomToRunTheCpuLayersOnTheDeviceForPrompts() {
        long scratch = OffloadPlan.scratchBytes(CONFIG, 1024, 32);
        long stream = OffloadPlan.streamBytes(sizes(), 1024, 32);
        assertEquals(100 * MIB + OffloadPlan.STREAM_SLACK + MIB, stream, "the largest layer, slack, one layer's KV");
        assertEquals(0, OffloadPlan.streamBytes(sizes(), 1024, LayerOffload.MIN_TOKENS - 1), "batches too small to stream");
        // 3 layers and the stream fit, a fourth layer does not
        long free = scratch + 50 * MIB + 3 * 101 * MIB + stream + 60 * MIB;
        OffloadPlan p = OffloadPlan.plan(sizes(), 1024, 32, free, 0, -1, 0);
        assertEquals(3, p.layersOnDevice());
        assertEquals(scratch + stream, p.scratchBytes());
        // the room (a layer, its KV and slack) costs two layers where exactly four fit without it: prompts gain
        // far more than those layers give
        long four = scratch + 50 * MIB + 4 * 101 * MIB;
        assertEquals(2, OffloadPlan.plan(sizes(), 1024, 32, four, 0, -1, 0).layersOnDevice());
        assertEquals(4, OffloadPlan.plan(sizes(), 1024, 16, SCRATCH + 50 * MIB + 4 * 101 * MIB, 0, -1, 0).layersOnDevice(),
                "no streaming below MIN_TOKENS");
        // every layer fits: nothing is reserved
        OffloadPlan all = OffloadPlan.plan(sizes(), 1024, 32, 10L << 30, 0, -1, 0);
        assertEquals(10, all.layersOnDevice());
        assertEquals(scratch, all.scratchBytes());
    }
}
