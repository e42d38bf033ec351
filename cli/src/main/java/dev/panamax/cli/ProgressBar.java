package dev.panamax.cli;

import java.io.PrintWriter;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * A one-line progress bar on standard error: percentage, bytes done of total, MB/s and ETA, and a
 * detail (e.g. the tensor being converted). It redraws in place with a carriage return at most ten
 * times a second, and only when enabled: by default when standard error is a terminal, so
 * redirected output stays clean for scripts ({@code --progress} / {@code --no-progress} force it).
 */
final class ProgressBar {
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintWriter err;
    private final String label;
    private final long total;
    private final boolean enabled;
    private final int width;
    private final long start = System.nanoTime();
    private long lastDraw;
    private int lastLength;
    private long done;
    private String detail = "";

    ProgressBar(PrintWriter err, String label, long total, boolean enabled) {
        this.err = err;
        this.label = label;
        this.total = Math.max(1, total);
        this.enabled = enabled;
        this.width = terminalWidth();
    }

    /** --progress / --no-progress, else whether standard error is a terminal. */
    static boolean wanted(Boolean option) {
        return option != null ? option : stderrIsTerminal();
    }

    void detail(String d) {
        detail = d;
        draw(false);
    }

    void update(long doneBytes) {
        done = doneBytes;
        draw(false);
    }

    /** Draws the final state and ends the line (the bar's last state stays visible). */
    void finish() {
        if (enabled) {
            done = Math.min(done, total);
            draw(true);
            err.println();
            err.flush();
        }
    }

    /** Removes the bar (before an error message). */
    void clear() {
        if (enabled && lastLength > 0) {
            err.print("\r" + " ".repeat(lastLength) + "\r");
            err.flush();
            lastLength = 0;
        }
    }

    private void draw(boolean force) {
        if (!enabled) {
            return;
        }
        long now = System.nanoTime();
        if (!force && now - lastDraw < REDRAW_NANOS) {
            return;
        }
        lastDraw = now;
        String line = render(label, done, total, (now - start) / 1e9, detail, width);
        err.print("\r" + line + (line.length() < lastLength ? " ".repeat(lastLength - line.length()) : ""));
        err.flush();
        lastLength = line.length();
    }

    /** The bar's text for a state (for tests): label, percentage, bar, bytes, MB/s, ETA, detail. */
    static String render(String label, long done, long total, double seconds, String detail, int width) {
        double frac = Math.min(1, done / (double) Math.max(1, total));
        double mbps = seconds > 0 ? done / 1e6 / seconds : 0;
        String eta = done >= total ? "done" : done > 0 && seconds > 0.5 ? clock((total - done) / (done / seconds)) : "--:--";
        String stats = String.format(Locale.ROOT, " %s/%s %4.0f MB/s ETA %s", size(done), size(total), mbps, eta);
        String head = String.format(Locale.ROOT, "%s %3d%% ", label, (int) Math.floor(frac * 100));
        String d = detail == null ? "" : detail;
        int fixed = head.length() + stats.length() + 2;
        int barWidth = Math.max(10, Math.min(30, width - 1 - fixed - (d.isEmpty() ? 0 : d.length() + 2)));
        int filled = (int) Math.round(frac * barWidth);
        String line = head + "[" + "#".repeat(filled) + "-".repeat(barWidth - filled) + "]" + stats;
        int room = width - 1 - line.length() - 2;
        if (!d.isEmpty() && room >= 8) {
            line += "  " + (d.length() > room ? d.substring(0, room - 3) + "..." : d);
        }
        return line;
    }

    static String clock(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    /** Decimal sizes as download tools show them: 8.58 GB. */
    static String size(long bytes) {
        if (bytes >= 1_000_000_000L) {
            return String.format(Locale.ROOT, "%.2f GB", bytes / 1e9);
        }
        if (bytes >= 1_000_000L) {
            return String.format(Locale.ROOT, "%.1f MB", bytes / 1e6);
        }
        return String.format(Locale.ROOT, "%.1f kB", bytes / 1e3);
    }

    private static int terminalWidth() {
        try {
            String c = System.getenv("COLUMNS");
            if (c != null) {
                return Math.max(40, Integer.parseInt(c.strip()));
            }
        } catch (NumberFormatException ignored) {
            // fall through
        }
        return 100;
    }

    /** isatty(2) through the FFM API; falls back to whether Java sees a console. */
    static boolean stderrIsTerminal() {
        try {
            Linker linker = Linker.nativeLinker();
            MethodHandle isatty = linker.downcallHandle(linker.defaultLookup().find("isatty").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
            return (int) isatty.invokeExact(2) == 1;
        } catch (Throwable t) {
            return System.console() != null;
        }
    }
}
