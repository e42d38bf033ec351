package dev.panamax.cli;

import java.util.concurrent.atomic.AtomicBoolean;
import sun.misc.Signal;

/**
 * Ctrl-C during a chat answer stops that answer; at the prompt it quits as usual. Uses the JDK's
 * signal API (jdk.unsupported), falling back to default behaviour where it is unavailable.
 */
final class Interrupts {
    private volatile boolean generating;

    private Interrupts() {}

    static Interrupts install(AtomicBoolean cancel) {
        Interrupts i = new Interrupts();
        try {
            Signal.handle(new Signal("INT"), sig -> {
                if (i.generating) {
                    cancel.set(true);
                } else {
                    System.out.println();
                    System.exit(130);
                }
            });
        } catch (IllegalArgumentException | UnsupportedOperationException | LinkageError e) {
            // no signal support here: Ctrl-C keeps its default meaning
        }
        return i;
    }

    void generating(boolean on) {
        generating = on;
    }
}
