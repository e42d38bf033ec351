package dev.panamax.cli.serve;

import dev.panamax.engine.generate.Generator;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * One admitted generation: the prompt and settings going in, a queue of events coming out. The
 * request's (virtual) thread reads the events and writes the response; a slot's (platform) thread
 * runs the generation and fills the queue, so a slow or vanished client never blocks a slot.
 */
final class Job {
    /** What a generation reports, in order: text pieces, then exactly one Done or Failed. */
    sealed interface Event {}

    record Text(String text) implements Event {}

    record Done(Generator.Result result, int slot) implements Event {}

    record Failed(Throwable error) implements Event {}

    final int[] prompt;
    final Generator.Settings settings;
    private final LinkedBlockingQueue<Event> events = new LinkedBlockingQueue<>();
    private volatile boolean cancelled;

    Job(int[] prompt, Generator.Settings settings) {
        this.prompt = prompt;
        this.settings = settings;
    }

    /** Asks the generation to stop: it checks between prompt micro-batches and before each token. */
    void cancel() {
        cancelled = true;
    }

    boolean cancelled() {
        return cancelled;
    }

    void emit(Event e) {
        events.add(e);
    }

    /** The next event, or null after {@code millis} without one. */
    Event poll(long millis) throws InterruptedException {
        return events.poll(millis, TimeUnit.MILLISECONDS);
    }

    /** The next event if one is waiting. */
    Event poll() {
        return events.poll();
    }
}
