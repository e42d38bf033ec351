package dev.panamax.gguf;

/** A metadata key is missing or has a value of the wrong type or range. */
public final class MetadataException extends PanamaxException {
    public MetadataException(String message) {
        super(message);
    }
}
