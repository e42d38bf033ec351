package dev.panamax.gguf;

/** A GGUF file (or a byte range claiming to be one) is malformed. Names the file and byte offset. */
public final class GgufFormatException extends PanamaxException {
    private final String file;
    private final long offset;

    public GgufFormatException(String file, long offset, String problem) {
        super(file + " at byte " + offset + ": " + problem);
        this.file = file;
        this.offset = offset;
    }

    /** A problem that is about the file as a whole rather than one byte position. */
    public GgufFormatException(String file, String problem) {
        super(file + ": " + problem);
        this.file = file;
        this.offset = -1;
    }

    public String file() {
        return file;
    }

    /** Byte offset of the problem, or -1 when it concerns the whole file. */
    public long offset() {
        return offset;
    }
}
