package dev.panamax.kernels;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.atomic.AtomicIntegerArray;
import org.junit.jupiter.api.Test;

class WorkerPoolTest {
    @Test
    void everyIndexRunsExactlyOnceInGrainAlignedChunks() {
        for (int threads = 1; threads <= 5; threads++) {
            try (WorkerPool pool = new WorkerPool(threads)) {
                for (int n : new int[] {1, 7, 16, 17, 100, 1000, 4099}) {
                    AtomicIntegerArray hits = new AtomicIntegerArray(n);
                    for (int rep = 0; rep < 50; rep++) {
                        pool.parallelFor(n, 16, (s, e) -> {
                            if (s % 16 != 0) {
                                throw new AssertionError("chunk start " + s + " not on the grain");
                            }
                            for (int i = s; i < e; i++) {
                                hits.incrementAndGet(i);
                            }
                        });
                    }
                    for (int i = 0; i < n; i++) {
                        assertEquals(50, hits.get(i), "threads " + threads + " n " + n + " index " + i);
                    }
                }
            }
        }
    }

    @Test
    void aFailureInAWorkerReachesTheCaller() {
        try (WorkerPool pool = new WorkerPool(3)) {
            IllegalStateException e = assertThrows(IllegalStateException.class,
                    () -> pool.parallelFor(300, 1, (s, end) -> {
                        if (s > 0) {
                            throw new IllegalStateException("boom " + s);
                        }
                    }));
            assertEquals("boom", e.getMessage().substring(0, 4));
            // the pool still works afterwards
            AtomicIntegerArray hits = new AtomicIntegerArray(10);
            pool.parallelFor(10, 1, (s, end) -> {
                for (int i = s; i < end; i++) {
                    hits.incrementAndGet(i);
                }
            });
            assertEquals(1, hits.get(9));
        }
    }

    /**
     * A loop of many chunks right after one of few: a worker still leaving the first loop must not
     * claim a chunk of the second (it once could, running that chunk twice and letting the caller
     * return before the loop was done). Each loop checks, once parallelFor returns, that every index
     * ran exactly once; more threads than cores make such stragglers common.
     */
    @Test
    void aLoopRightAfterASmallerOneRunsEachChunkOnceAndCompletely() {
        int threads = 5;
        try (WorkerPool pool = new WorkerPool(threads)) {
            int big = threads * WorkerPool.CHUNKS_PER_THREAD;
            AtomicIntegerArray hits = new AtomicIntegerArray(big);
            for (int rep = 0; rep < 100_000; rep++) {
                pool.parallelFor(2, 1, (s, e) -> Thread.onSpinWait());
                pool.parallelFor(big, 1, (s, e) -> {
                    for (int i = s; i < e; i++) {
                        hits.incrementAndGet(i);
                    }
                });
                for (int i = 0; i < big; i++) {
                    int h = hits.getAndSet(i, 0);
                    if (h != 1) {
                        throw new AssertionError("loop " + rep + ": index " + i + " ran " + h + " times before the call returned");
                    }
                }
            }
        }
    }
}
