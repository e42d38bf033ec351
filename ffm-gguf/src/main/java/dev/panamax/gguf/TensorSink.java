package dev.panamax.gguf;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;

/** Where a {@link TensorSource} writes one tensor's bytes, in order, in as many pieces as it likes. */
public interface TensorSink {
    void write(MemorySegment bytes) throws IOException;

    void write(ByteBuffer bytes) throws IOException;

    /** Writes {@code count} zero bytes; on file systems that support it they take no disk space. */
    void zeros(long count) throws IOException;
}
