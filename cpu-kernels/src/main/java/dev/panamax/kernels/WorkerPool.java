package dev.panamax.kernels;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

/**
 * A fixed set of worker threads for data-parallel loops. {@link #parallelFor} cuts a range into
 * contiguous chunks (a few per thread, boundaries on the grain) that the calling thread and the
 * workers claim one at a time from a shared counter, and returns when all are done.
 *
 * <p>Why claimed chunks rather than one fixed chunk per thread: on a machine shared with other
 * processes the scheduler takes threads off their cores at random, and a fixed partition makes
 * every loop wait for its slowest thread; with claimed chunks the threads that run take over the
 * work of the ones that don't, and a worker that wakes late simply finds nothing left. Each chunk is
 * still one contiguous range (a thread streams its own rows of a weight matrix).
 *
 * <p>Nothing is allocated per call. Idle workers spin for about {@link #SPIN_NANOS} (the gaps
 * between the kernels of one token are shorter than that) and then park; the caller wakes only
 * parked workers.
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

    /** Chunks per thread: enough to even out threads that lose their core for a while. */
    static final int CHUNKS_PER_THREAD = 8;
    /** How long an idle worker spins before parking. */
    static final long SPIN_NANOS = 200_000;
    /** Most threads: a loop's chunks (at most threads * CHUNKS_PER_THREAD) fit 16 bits of {@link #next}. */
    static final int MAX_THREADS = 0xFFFF / CHUNKS_PER_THREAD;

    private final Thread[] workers;
    private final int threads;
    private final AtomicIntegerArray parked;
    /**
     * The current loop's generation (high 32 bits), chunk count (next 16) and next unclaimed chunk
     * (low 16), in one word so that a worker compares a chunk with its own loop's count: reading the
     * count from a field let a worker still looking at the previous loop's word see the next loop's
     * larger count and claim a chunk that does not exist, running a chunk of the new loop twice and
     * counting one chunk too many (the caller then returned before its loop was done).
     */
    private final AtomicLong next = new AtomicLong();
    private final AtomicInteger done = new AtomicInteger();
    private volatile long generation;
    private volatile boolean closed;
    private long generations;
    // the current loop, published by the write of next/generation
    private WorkerRangeTask task;
    private RangeTask plainTask;
    private int n;
    private int chunkSize;
    private int chunks;
    private volatile Throwable failure;

    /** A pool with {@code threads} threads in total, the caller's thread included. */
    public WorkerPool(int threads) {
        if (threads < 1 || threads > MAX_THREADS) {
            throw new IllegalArgumentException("threads must be 1 to " + MAX_THREADS + ": " + threads);
        }
        this.threads = threads;
        this.workers = new Thread[threads - 1];
        this.parked = new AtomicIntegerArray(Math.max(1, threads));
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
     * {@code grain} (except the end).
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
        if (grain < 1) {
            throw new IllegalArgumentException("grain must be positive: " + grain);
        }
        int units = (n + grain - 1) / grain;
        if (threads == 1 || units == 1) {
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
            int wanted = Math.min(units, threads * CHUNKS_PER_THREAD);
            int unitsPerChunk = (units + wanted - 1) / wanted;
            this.n = n;
            this.chunkSize = unitsPerChunk * grain;
            this.chunks = (units + unitsPerChunk - 1) / unitsPerChunk;
            this.plainTask = plain;
            this.task = indexed;
            failure = null;
            done.set(0);
            long g = ++generations;
            next.set(g << 32 | (long) chunks << 16);
            generation = g;
            for (int i = 0; i < workers.length; i++) {
                if (parked.get(i + 1) != 0) {
                    LockSupport.unpark(workers[i]);
                }
            }
            try {
                claim(g, 0);
            } catch (Throwable t) {
                failure = t;
                // let the others finish what they claimed, then report
            }
            int spins = 0;
            while (done.get() < chunks) {
                if (++spins < 1 << 12) {
                    Thread.onSpinWait();
                } else {
                    // a worker holding a chunk lost its core: give it ours
                    Thread.yield();
                }
            }
            task = null;
            plainTask = null;
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

    /** Claims and runs chunks of generation {@code g} until none are left. */
    private void claim(long g, int worker) {
        while (true) {
            long v = next.get();
            if (v >>> 32 != g) {
                return;
            }
            int c = (int) v & 0xFFFF;
            if (c >= ((int) (v >>> 16) & 0xFFFF)) {
                return;
            }
            // a successful CAS leaves chunk c of generation g unfinished, so that loop's caller is still
            // waiting and the fields below (written before its next.set) are still its loop's
            if (next.compareAndSet(v, v + 1)) {
                try {
                    int start = c * chunkSize;
                    int end = Math.min(n, start + chunkSize);
                    if (plainTask != null) {
                        plainTask.run(start, end);
                    } else {
                        task.run(worker, start, end);
                    }
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    done.incrementAndGet();
                }
            }
        }
    }

    private void work(int index) {
        long seen = 0;
        while (true) {
            long g = generation;
            if (g == seen && !closed) {
                long spinStart = System.nanoTime();
                int spins = 0;
                while ((g = generation) == seen && !closed) {
                    if ((++spins & 255) != 0 || System.nanoTime() - spinStart < SPIN_NANOS) {
                        Thread.onSpinWait();
                    } else {
                        parked.set(index, 1);
                        if (generation == seen && !closed) {
                            LockSupport.park(this);
                        }
                        parked.set(index, 0);
                    }
                }
            }
            if (closed) {
                return;
            }
            seen = g;
            claim(g, index);
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
