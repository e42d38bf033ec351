package dev.panamax.cli.serve;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.generate.Generator;
import dev.panamax.kernels.WorkerPool;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The server's sequences: {@code parallel} slots, each a session (its own KV cache) with a
 * generator and a platform thread, plus a bounded FIFO of admitted jobs waiting for a slot.
 * A job goes to the free slot whose cache shares the longest prefix with its prompt, provided that
 * prefix is most of the prompt or most of the slot's cache, else to the least recently used free
 * slot: a conversation that comes back finds its slot, and an unrelated request does not evict it
 * for the sake of a shared first token. All slots compute on
 * one shared worker pool: concurrent generations take turns per parallel loop instead of
 * oversubscribing the cores.
 */
final class Slots implements AutoCloseable {
    /** Thrown by {@link #submit} when the server is shutting down. */
    static final class ClosedException extends RuntimeException {
        ClosedException() {
            super("the server is shutting down", null, false, false);
        }
    }

    private final class Slot {
        final int id;
        final Session session;
        final Generator generator;
        final dev.panamax.engine.generate.Drafter drafter;
        final LinkedBlockingQueue<Job> inbox = new LinkedBlockingQueue<>();
        final Thread thread;
        Job job;
        long lastUsed;

        Slot(int id, Model model, SessionOptions options, WorkerPool pool, ServerConfig.DraftFactory drafts) {
            this.id = id;
            this.session = model.newSession(options, pool);
            this.drafter = drafts == null ? null : drafts.create(pool);
            this.generator = new Generator(session, model.tokenizer(), drafter);
            this.thread = Thread.ofPlatform().daemon().name("panamax-slot-" + id).unstarted(this::loop);
        }

        private void loop() {
            while (true) {
                Job j;
                try {
                    j = inbox.take();
                } catch (InterruptedException e) {
                    return;
                }
                if (j == STOP) {
                    return;
                }
                run(j);
                lock.lock();
                try {
                    job = null;
                    lastUsed = ++clock;
                    dispatch();
                    idle.signalAll();
                } finally {
                    lock.unlock();
                }
            }
        }

        private void run(Job j) {
            try {
                Generator.Result r = generator.generate(j.prompt, j.settings, text -> j.emit(new Job.Text(text)),
                        j::cancelled);
                generated.addAndGet(r.tokens().length);
                j.emit(new Job.Done(r, id));
            } catch (Throwable t) {
                try {
                    generator.reset();
                } catch (RuntimeException ignored) {
                    // the session is unusable either way; the next generation starts from scratch
                }
                j.emit(new Job.Failed(t));
            }
        }
    }

    private static final Job STOP = new Job(new int[0], null);

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition idle = lock.newCondition();
    private final List<Slot> slots = new ArrayList<>();
    private final ArrayDeque<Job> waiting = new ArrayDeque<>();
    private final int queueCapacity;
    private final AtomicLong generated = new AtomicLong();
    private long clock;
    private boolean closed;

    Slots(Model model, SessionOptions options, int parallel, int queueCapacity, WorkerPool pool,
            ServerConfig.DraftFactory drafts) {
        this.queueCapacity = queueCapacity;
        try {
            for (int i = 0; i < parallel; i++) {
                slots.add(new Slot(i, model, options, pool, drafts));
            }
        } catch (RuntimeException e) {
            slots.forEach(s -> {
                s.session.close();
            if (s.drafter != null) {
                s.drafter.close();
            }
                if (s.drafter != null) {
                    s.drafter.close();
                }
            });
            throw e;
        }
        slots.forEach(s -> s.thread.start());
    }

    int parallel() {
        return slots.size();
    }

    int queueCapacity() {
        return queueCapacity;
    }

    long cacheBytesPerSlot() {
        return slots.getFirst().session.cacheBytes();
    }

    /**
     * Admits a job: straight to a free slot, else to the end of the queue; false when every slot
     * is busy and the queue is full.
     */
    boolean submit(Job job) {
        lock.lock();
        try {
            if (closed) {
                throw new ClosedException();
            }
            if (waiting.size() >= queueCapacity && slots.stream().allMatch(s -> s.job != null)) {
                return false;
            }
            waiting.addLast(job);
            dispatch();
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Cancels a job: removed if still waiting (returns true; it never runs), told to stop if running. */
    boolean cancel(Job job) {
        job.cancel();
        lock.lock();
        try {
            return waiting.remove(job);
        } finally {
            lock.unlock();
        }
    }

    /** Hands waiting jobs (oldest first) to free slots. Call with the lock held. */
    private void dispatch() {
        while (!waiting.isEmpty()) {
            Job job = waiting.peekFirst();
            Slot best = null;
            int bestPrefix = 0;
            Slot oldest = null;
            for (Slot s : slots) {
                if (s.job != null) {
                    continue;
                }
                if (oldest == null || s.lastUsed < oldest.lastUsed) {
                    oldest = s;
                }
                // a slot matches when the shared prefix is most of the prompt or most of what the slot
                // holds (its conversation goes on): a short shared start is not worth evicting another
                int prefix = s.generator.cachedPrefix(job.prompt);
                int held = s.session.position();
                if (prefix > bestPrefix && (2 * prefix > job.prompt.length || 2 * prefix > held)) {
                    best = s;
                    bestPrefix = prefix;
                }
            }
            if (oldest == null) {
                return;
            }
            if (best == null) {
                best = oldest;
            }
            waiting.removeFirst();
            best.job = job;
            best.inbox.add(job);
        }
    }

    /** Slots generating now. */
    int busy() {
        lock.lock();
        try {
            return (int) slots.stream().filter(s -> s.job != null).count();
        } finally {
            lock.unlock();
        }
    }

    /** Jobs waiting for a slot. */
    int waiting() {
        lock.lock();
        try {
            return waiting.size();
        } finally {
            lock.unlock();
        }
    }

    /** Tokens generated since start. */
    long generatedTokens() {
        return generated.get();
    }

    /** Waits until no slot is busy and nothing waits, for at most {@code millis}; true if so. */
    boolean awaitIdle(long millis) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
        lock.lock();
        try {
            while (!waiting.isEmpty() || slots.stream().anyMatch(s -> s.job != null)) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                idle.awaitNanos(left);
            }
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Refuses new jobs and fails the waiting ones (they get "shutting down"). */
    void stopAdmitting() {
        lock.lock();
        try {
            closed = true;
            for (Job j : waiting) {
                j.cancel();
                j.emit(new Job.Failed(new ClosedException()));
            }
            waiting.clear();
        } finally {
            lock.unlock();
        }
    }

    /** Cancels whatever still runs, stops the slot threads and frees the KV caches. */
    @Override
    public void close() {
        stopAdmitting();
        lock.lock();
        try {
            slots.stream().filter(s -> s.job != null).forEach(s -> s.job.cancel());
        } finally {
            lock.unlock();
        }
        for (Slot s : slots) {
            try {
                // a busy slot takes STOP once its (cancelled) job is done
                s.inbox.put(STOP);
                s.thread.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return; // sessions stay open: a running thread may still use them
            }
            s.session.close();
        }
    }

    /** Compiles the kernels the slots run before the first request ({@link Session#warmUp}). */
    void warmUp() {
        slots.get(0).session.warmUp();
    }
}
