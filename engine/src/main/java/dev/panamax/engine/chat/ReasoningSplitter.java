package dev.panamax.engine.chat;

import java.util.ArrayList;
import java.util.List;

/**
 * Splits streamed model output into reasoning (inside {@code <think>...</think>}) and answer
 * text, even when a tag arrives split across chunks. R1-style templates start the assistant turn
 * inside the reasoning block; other models may open it themselves with {@code <think>}.
 */
public final class ReasoningSplitter {
    private static final String OPEN = "<think>";
    private static final String CLOSE = "</think>";

    /** A piece of output and whether it is reasoning. */
    public record Piece(String text, boolean reasoning) {}

    private boolean inThink;
    private boolean seenAnswer;
    private final StringBuilder pending = new StringBuilder();

    public ReasoningSplitter(boolean startsInThink) {
        this.inThink = startsInThink;
    }

    public boolean inReasoning() {
        return inThink;
    }

    /** Feeds a chunk; returns the pieces that are certain (a possible partial tag is held back). */
    public List<Piece> feed(String chunk) {
        pending.append(chunk);
        List<Piece> out = new ArrayList<>();
        while (true) {
            String tag = inThink ? CLOSE : OPEN;
            int at = pending.indexOf(tag);
            if (at >= 0 && (inThink || !seenAnswer || at == 0 || pending.substring(0, at).isBlank())) {
                emit(out, pending.substring(0, at));
                pending.delete(0, at + tag.length());
                if (inThink) {
                    // the answer starts after the block; drop the newlines that separate them
                    inThink = false;
                    stripLeadingNewlines = true;
                } else {
                    inThink = true;
                }
                continue;
            }
            int keep = partialTagSuffix(pending, tag);
            emit(out, pending.substring(0, pending.length() - keep));
            pending.delete(0, pending.length() - keep);
            return out;
        }
    }

    /** Whatever is still held back, at the end of the output. */
    public List<Piece> flush() {
        List<Piece> out = new ArrayList<>();
        emit(out, pending.toString());
        pending.setLength(0);
        return out;
    }

    private boolean stripLeadingNewlines;

    private void emit(List<Piece> out, String text) {
        if (!inThink && stripLeadingNewlines) {
            int i = 0;
            while (i < text.length() && (text.charAt(i) == '\n' || text.charAt(i) == '\r')) {
                i++;
            }
            text = text.substring(i);
            if (!text.isEmpty()) {
                stripLeadingNewlines = false;
            }
        }
        if (text.isEmpty()) {
            return;
        }
        if (!inThink && !text.isBlank()) {
            seenAnswer = true;
        }
        out.add(new Piece(text, inThink));
    }

    /** Length of the longest suffix of {@code s} that is a proper prefix of {@code tag}. */
    private static int partialTagSuffix(CharSequence s, String tag) {
        for (int k = Math.min(tag.length() - 1, s.length()); k > 0; k--) {
            boolean match = true;
            for (int i = 0; i < k; i++) {
                if (s.charAt(s.length() - k + i) != tag.charAt(i)) {
                    match = false;
                    break;
                }
            }
            if (match) {
                return k;
            }
        }
        return 0;
    }
}
