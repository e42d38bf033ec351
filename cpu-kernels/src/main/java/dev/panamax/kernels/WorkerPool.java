package dev.panamax.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads for data-parallel loops. {@link #parallelFor} cuts a range into
 * one contiguous chunk per thread (static partition: each thread streams its own rows of a weight
 * matrix), runs the first chunk on the calling thread and returns when all are done. Nothing is
 * allocated per call; idle workers spin briefly, then park.
 */
public final class WorkerPool implements AutoCloseable {

    /** Work on the half-open range [start, end). */
    @FunctionalInterface
    public interface RangeTask {
        void run(int start, int end);
    }

    /** Work on [start, end) by worker {@code worker} (0 = the caller): index per-thread scratch with it. */
    @FunctionalInterface
    public interface WorkerRangeTask {
        void run(int worker, int start, int end);
    }

    private static final int SPIN_LIMIT = 1 << 14;

    private final Thread[] workers;
    private final int threads;
    private final AtomicInteger pending = new AtomicInteger();
    private volatile long generation;
    private volatile boolean closed;
    private volatile Thread caller;
    private WorkerRangeTask task;
    private RangeTask plainTask;
    private int[] bounds;
    private volatile Throwable failure;

    /** A pool with {@code threads} threads in total, the caller's thread included. */
    public WorkerPool(int threads) {
        if (threads < 1) {
            throw new IllegalArgumentException("threads must be at least 1: " + threads);
        }
        this.threads = threads;
        this.bounds = new int[threads + 1];
        this.workers = new Thread[threads - 1];
        for (int i = 0; i < workers.length; i++) {
            int index = i + 1;
            workers[i] = Thread.ofPlatform().daemon().name("panamax-worker-" + index).unstarted(() -> work(index));
            workers[i].start();
        }
    }

    /** Threads taking part in each loop, the caller's included. */
    public int threads() {
        return threads;
    }

    /**
     * Runs {@code body} over [0, n) in contiguous chunks whose boundaries are multiples of
     * {@code grain} (except the end), one chunk per thread.
     */
    public void parallelFor(int n, int grain, RangeTask body) {
        run(n, grain, body, null);
    }

    /** As {@link #parallelFor(int, int, RangeTask)}, telling each chunk which worker (0..threads-1) runs it. */
    public void parallelFor(int n, int grain, WorkerRangeTask body) {
        run(n, grain, null, body);
    }

    private void run(int n, int grain, RangeTask plain, WorkerRangeTask indexed) {
        if (n <= 0) {
            return;
        }
        int units = (n + grain - 1) / grain;
        int used = Math.min(threads, units);
        if (used == 1) {
            if (plain != null) {
                plain.run(0, n);
            } else {
                indexed.run(0, 0, n);
            }
            return;
        }
        synchronized (this) {
            if (closed) {
                throw new IllegalStateException("worker pool is closed");
            }
            for (int i = 0; i <= threads; i++) {
                int unit = (int) ((long) units * Math.min(i, used) / used);
                bounds[i] = Math.min(n, unit * grain);
            }
            plainTask = plain;
            task = indexed;
            failure = null;
            caller = Thread.currentThread();
            pending.set(threads - 1);
            generation++;
            for (Thread w : workers) {
                LockSupport.unpark(w);
            }
            try {
                runChunk(0);
            } finally {
                int spins = 0;
                while (pending.get() > 0) {
                    if (++spins < SPIN_LIMIT) {
                        Thread.onSpinWait();
                    } else {
                        LockSupport.park(this);
                    }
                }
                task = null;
                plainTask = null;
            }
            Throwable f = failure;
            if (f != null) {
                if (f instanceof RuntimeException r) {
                    throw r;
                }
                if (f instanceof Error e) {
                    throw e;
                }
                throw new IllegalStateException(f);
            }
        }
    }

    private void work(int index) {
        long seen = 0;
        while (true) {
            int spins = 0;
            while (generation == seen && !closed) {
                if (++spins < SPIN_LIMIT) {
                    Thread.onSpinWait();
                } else {
                    LockSupport.park(this);
                }
            }
            if (closed) {
                return;
            }
            seen = generation;
            try {
                runChunk(index);
            } catch (Throwable t) {
                failure = t;
            } finally {
                if (pending.decrementAndGet() == 0) {
                    LockSupport.unpark(caller);
                }
            }
        }
    }

    private void runChunk(int index) {
        int start = bounds[index];
        int end = bounds[index + 1];
        if (start < end) {
            if (plainTask != null) {
                plainTask.run(start, end);
            } else {
                task.run(index, start, end);
            }
        }
    }

    @Override
    public void close() {
        closed = true;
        for (Thread w : workers) {
            LockSupport.unpark(w);
        }
    }

    /** Threads to use by default: the machine's cores as the JVM sees them. */
    public static int defaultThreads() {
        return Runtime.getRuntime().availableProcessors();
    }
}
