package dev.panamax.engine.generate;

/** Why a generation ended. */
public enum StopReason {
    /** The model produced an end-of-sequence or end-of-turn token. */
    EOS("end of sequence"),
    /** A stop string appeared in the output. */
    STOP_STRING("stop string"),
    /** The token limit (-n / max_tokens) was reached. */
    LENGTH("token limit"),
    /** The context is full. */
    CONTEXT("context full"),
    /** The loop guard saw the output repeating. */
    LOOP("repetition loop"),
    /** The user or client cancelled. */
    CANCELLED("cancelled");

    private final String description;

    StopReason(String description) {
        this.description = description;
    }

    public String description() {
        return description;
    }
}
