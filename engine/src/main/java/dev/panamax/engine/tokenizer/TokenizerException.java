package dev.panamax.engine.tokenizer;

import dev.panamax.gguf.PanamaxException;

/** A tokenizer could not be built (bad metadata or tokenizer.json) or was misused. */
public final class TokenizerException extends PanamaxException {
    public TokenizerException(String message) {
        super(message);
    }

    public TokenizerException(String message, Throwable cause) {
        super(message, cause);
    }
}
