package dev.panamax.engine.tokenizer;

/** GGUF token types ({@code tokenizer.ggml.token_type}), with llama.cpp's numbering. */
public enum TokenType {
    UNDEFINED(0),
    NORMAL(1),
    UNKNOWN(2),
    /** Special tokens (e.g. {@code <|im_start|>}): matched in text only when special parsing is on. */
    CONTROL(3),
    /** Added tokens that are always matched in text before BPE (e.g. {@code <think>}). */
    USER_DEFINED(4),
    UNUSED(5),
    BYTE(6);

    private static final TokenType[] BY_CODE = values();

    private final int code;

    TokenType(int code) {
        this.code = code;
    }

    /** The value stored in {@code tokenizer.ggml.token_type}. */
    public int code() {
        return code;
    }

    /** The type with this code, or null when the code is not one of 0..6. */
    public static TokenType ofCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
