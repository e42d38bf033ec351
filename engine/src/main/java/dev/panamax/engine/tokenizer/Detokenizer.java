package dev.panamax.engine.tokenizer;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Streaming decoder: feed ids one at a time as they are generated; each call returns only text
 * that is complete. Bytes of a character split across tokens (an emoji spread over byte tokens)
 * are held back until the character is complete; bytes that can never become valid UTF-8 come
 * out as U+FFFD right away. The concatenation of every {@link #feed} and the final {@link #flush}
 * equals {@link Tokenizer#decode} of the same ids. Not thread-safe: one per generation.
 */
public final class Detokenizer {
    private final Tokenizer tokenizer;
    private final boolean renderSpecial;
    private byte[] pending = new byte[16];
    private int length;

    Detokenizer(Tokenizer tokenizer, boolean renderSpecial) {
        this.tokenizer = tokenizer;
        this.renderSpecial = renderSpecial;
    }

    /** Adds one token; returns the text that became complete (often empty while a character is split). */
    public String feed(int id) {
        if (!renderSpecial) {
            TokenType t = tokenizer.tokenType(id);
            if (t == TokenType.CONTROL || t == TokenType.UNKNOWN) {
                return "";
            }
        }
        byte[] b = tokenizer.tokenBytes(id);
        if (length + b.length > pending.length) {
            pending = Arrays.copyOf(pending, Math.max(pending.length * 2, length + b.length));
        }
        System.arraycopy(b, 0, pending, length, b.length);
        length += b.length;
        int complete = Utf8.completePrefix(pending, length);
        if (complete == 0) {
            return "";
        }
        String text = new String(pending, 0, complete, StandardCharsets.UTF_8);
        System.arraycopy(pending, complete, pending, 0, length - complete);
        length -= complete;
        return text;
    }

    /** Bytes held back (at most 3: the start of an unfinished character). */
    public int pendingBytes() {
        return length;
    }

    /** Ends the stream: whatever is held back comes out, an unfinished character as U+FFFD. */
    public String flush() {
        String text = new String(pending, 0, length, StandardCharsets.UTF_8);
        length = 0;
        return text;
    }

    /** Drops anything held back. */
    public void reset() {
        length = 0;
    }
}
