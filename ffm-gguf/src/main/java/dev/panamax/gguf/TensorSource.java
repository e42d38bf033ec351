package dev.panamax.gguf;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Produces one tensor's data for {@link GgufWriter} when the writer reaches it, so a model is
 * streamed to disk tensor by tensor and never held whole in memory.
 */
@FunctionalInterface
public interface TensorSource {
    void writeTo(TensorSink sink) throws IOException;

    /** Copies bytes from a segment, e.g. a tensor of another mapped file. */
    static TensorSource of(MemorySegment bytes) {
        return sink -> sink.write(bytes);
    }

    /** An all-zero tensor (sparse on disk where the file system allows). */
    static TensorSource zeros(long bytes) {
        return sink -> sink.zeros(bytes);
    }
}
