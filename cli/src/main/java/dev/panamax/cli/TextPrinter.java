package dev.panamax.cli;

import dev.panamax.engine.chat.ReasoningSplitter;
import java.io.PrintWriter;

/**
 * Prints streamed output: reasoning dimmed (on a terminal) or hidden, answer plain. Collects both
 * parts for --json and for the chat history.
 */
final class TextPrinter {
    private static final String DIM = "\u001b[2m";
    private static final String RESET = "\u001b[0m";

    private final PrintWriter out;
    private final ReasoningSplitter splitter;
    private final boolean hideThink;
    private final boolean ansi;
    private final boolean echo;
    private final StringBuilder reasoning = new StringBuilder();
    private final StringBuilder answer = new StringBuilder();
    private boolean dimmed;

    TextPrinter(PrintWriter out, boolean startsInThink, boolean hideThink, boolean ansi, boolean echo) {
        this.out = out;
        this.splitter = new ReasoningSplitter(startsInThink);
        this.hideThink = hideThink;
        this.ansi = ansi;
        this.echo = echo;
    }

    void accept(String text) {
        splitter.feed(text).forEach(this::print);
        if (echo) {
            out.flush();
        }
    }

    void finish() {
        splitter.flush().forEach(this::print);
        if (dimmed) {
            out.print(RESET);
            dimmed = false;
        }
        out.flush();
    }

    private void print(ReasoningSplitter.Piece p) {
        (p.reasoning() ? reasoning : answer).append(p.text());
        if (!echo || (p.reasoning() && hideThink)) {
            return;
        }
        if (ansi && p.reasoning() != dimmed) {
            out.print(p.reasoning() ? DIM : RESET);
            dimmed = p.reasoning();
        }
        out.print(p.text());
    }

    String reasoning() {
        return reasoning.toString();
    }

    String answer() {
        return answer.toString();
    }
}
