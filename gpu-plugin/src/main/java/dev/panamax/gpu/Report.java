package dev.panamax.gpu;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** PASS/FAIL lines and tables of a device check, printed and appended to a report file. */
final class Report {
    private final PrintStream out;
    private final Path file;
    private final List<String> failures = new ArrayList<>();
    private int passed;

    Report(PrintStream out, Path file) {
        this.out = out;
        this.file = file;
    }

    synchronized void line(String s) {
        out.println(s);
        out.flush();
        if (file != null) {
            try {
                Files.writeString(file, s + "\n", StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    void printf(String format, Object... args) {
        line(String.format(Locale.ROOT, format, args));
    }

    synchronized void check(boolean ok, String what, String detail) {
        if (ok) {
            passed++;
        } else {
            failures.add(what);
        }
        line((ok ? "PASS " : "FAIL ") + what + (detail.isEmpty() ? "" : ": " + detail));
    }

    /** Records a check that could not run to the end. */
    void error(String what, Throwable e) {
        StringBuilder sb = new StringBuilder(String.valueOf(e));
        for (Throwable c = e.getCause(); c != null && c != e; c = c.getCause()) {
            sb.append(" <- ").append(c);
        }
        StackTraceElement[] st = e.getStackTrace();
        for (int i = 0; i < Math.min(4, st.length); i++) {
            sb.append(" @ ").append(st[i]);
        }
        check(false, what, sb.toString());
    }

    synchronized int passed() {
        return passed;
    }

    synchronized List<String> failures() {
        return List.copyOf(failures);
    }

    void summary() {
        line(String.format(Locale.ROOT, "SUMMARY %d passed, %d failed%s", passed(), failures().size(),
                failures().isEmpty() ? "" : ": " + String.join(", ", failures())));
    }
}
