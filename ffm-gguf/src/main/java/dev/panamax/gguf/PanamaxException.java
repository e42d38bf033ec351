package dev.panamax.gguf;

/**
 * Base of every error Panamax reports to a user. Its message names the thing that was wrong (a
 * file, a field, an option) and what was expected, so the CLI can print it as one line.
 */
public class PanamaxException extends RuntimeException {
    public PanamaxException(String message) {
        super(message);
    }

    public PanamaxException(String message, Throwable cause) {
        super(message, cause);
    }
}
