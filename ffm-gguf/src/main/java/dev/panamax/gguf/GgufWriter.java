package dev.panamax.gguf;

import dev.panamax.gguf.MetadataValue.ArrayValue;
import dev.panamax.gguf.MetadataValue.BoolArray;
import dev.panamax.gguf.MetadataValue.BoolValue;
import dev.panamax.gguf.MetadataValue.FloatArray;
import dev.panamax.gguf.MetadataValue.FloatValue;
import dev.panamax.gguf.MetadataValue.IntArray;
import dev.panamax.gguf.MetadataValue.IntValue;
import dev.panamax.gguf.MetadataValue.NestedArray;
import dev.panamax.gguf.MetadataValue.StringArray;
import dev.panamax.gguf.MetadataValue.StringValue;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Streaming GGUF v3 writer. Metadata and tensor declarations are collected first (small); on
 * {@link #finish()} the header is written and each tensor's {@link TensorSource} is asked for its
 * bytes in turn, so a whole model is never held in memory. Everything goes to a hidden temporary
 * file in the target's folder that is renamed over the target only on success: an error, an
 * interrupted process or a {@link #close()} without {@code finish()} leaves no partial file.
 */
public final class GgufWriter implements AutoCloseable {
    private static final int CHUNK = 16 << 20;

    private record Pending(TensorInfo info, TensorSource source) {}

    private final Path target;
    private final Path temp;
    private final Map<String, MetadataValue> metadata = new LinkedHashMap<>();
    private final List<Pending> tensors = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private final Thread cleanup;
    private int alignment = GgufHeader.DEFAULT_ALIGNMENT;
    private long dataBytes;
    private boolean finished;
    private boolean closed;

    private GgufWriter(Path target) {
        this.target = target.toAbsolutePath();
        Path dir = this.target.getParent();
        this.temp = dir.resolve("." + this.target.getFileName() + ".tmp-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong() >>> 16));
        // Ctrl-C or a kill must not leave the temporary file behind either.
        this.cleanup = new Thread(() -> deleteQuietly(temp), "gguf-writer-cleanup");
    }

    /** Starts writing a GGUF file that will appear at {@code target} when {@link #finish()} succeeds. */
    public static GgufWriter create(Path target) {
        Path dir = target.toAbsolutePath().getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new PanamaxException(target + ": folder " + dir + " does not exist");
        }
        GgufWriter w = new GgufWriter(target);
        Runtime.getRuntime().addShutdownHook(w.cleanup);
        return w;
    }

    /** Data alignment (a power of two); written as general.alignment when not the default 32. */
    public GgufWriter alignment(int alignment) {
        if (alignment <= 0 || Integer.bitCount(alignment) != 1) {
            throw new IllegalArgumentException("alignment must be a power of two: " + alignment);
        }
        if (!tensors.isEmpty()) {
            throw new IllegalStateException("set the alignment before adding tensors");
        }
        this.alignment = alignment;
        return this;
    }

    public GgufWriter put(String key, MetadataValue value) {
        if (metadata.putIfAbsent(key, value) != null) {
            throw new IllegalArgumentException("duplicate metadata key '" + key + "'");
        }
        return this;
    }

    /** Adds or replaces a key (e.g. to override a value copied from another file). */
    public GgufWriter set(String key, MetadataValue value) {
        metadata.put(key, value);
        return this;
    }

    public GgufWriter remove(String key) {
        metadata.remove(key);
        return this;
    }

    public GgufWriter put(String key, String value) {
        return put(key, MetadataValue.of(value));
    }

    public GgufWriter putUInt32(String key, long value) {
        return put(key, MetadataValue.ofUInt32(value));
    }

    public GgufWriter putFloat32(String key, float value) {
        return put(key, MetadataValue.ofFloat32(value));
    }

    public GgufWriter put(String key, boolean value) {
        return put(key, MetadataValue.of(value));
    }

    /** Copies every key of {@code from} except the alignment, which this writer decides. */
    public GgufWriter putAll(Metadata from) {
        from.asMap().forEach((k, v) -> {
            if (!k.equals(GgufHeader.ALIGNMENT_KEY)) {
                put(k, v);
            }
        });
        return this;
    }

    /** Declares a tensor; its data is requested from {@code source} during {@link #finish()}. */
    public GgufWriter addTensor(String name, GgmlType type, long[] ne, TensorSource source) {
        if (!names.add(name)) {
            throw new IllegalArgumentException("duplicate tensor name '" + name + "'");
        }
        if (ne.length < 1 || ne.length > GgufHeader.MAX_DIMS) {
            throw new IllegalArgumentException(name + ": 1 to " + GgufHeader.MAX_DIMS + " dimensions expected");
        }
        TensorInfo info = TensorInfo.of(name, type, ne, dataBytes);
        tensors.add(new Pending(info, source));
        dataBytes = GgufHeader.align(dataBytes + info.byteSize(), alignment);
        return this;
    }

    /** Tensors declared so far, with the offsets they will have. */
    public List<TensorInfo> tensorInfos() {
        return tensors.stream().map(Pending::info).toList();
    }

    /** Writes everything and atomically moves the file into place. */
    public void finish() throws IOException {
        if (finished || closed) {
            throw new IllegalStateException("writer already finished or closed");
        }
        if (alignment != GgufHeader.DEFAULT_ALIGNMENT) {
            metadata.put(GgufHeader.ALIGNMENT_KEY, MetadataValue.ofUInt32(alignment));
        }
        try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
            ByteBuffer header = encodeHeader();
            writeFully(ch, header);
            long dataStart = GgufHeader.align(ch.position(), alignment);
            ch.position(dataStart);
            for (Pending p : tensors) {
                long start = dataStart + p.info().offset();
                ch.position(start);
                CountingSink sink = new CountingSink(ch);
                p.source().writeTo(sink);
                if (sink.written != p.info().byteSize()) {
                    throw new IllegalStateException("tensor '" + p.info().name() + "' wrote " + sink.written
                            + " bytes, expected " + p.info().byteSize());
                }
            }
            long end = tensors.isEmpty() ? ch.position()
                    : dataStart + tensors.getLast().info().offset() + tensors.getLast().info().byteSize();
            if (ch.size() < end) {
                // The last tensor ended in a hole: give the file its full length.
                ch.write(ByteBuffer.allocate(1), end - 1);
            }
            ch.force(true);
        } catch (IOException | RuntimeException e) {
            deleteQuietly(temp);
            throw e;
        }
        try {
            Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
        }
        finished = true;
        close();
    }

    /** Abandons an unfinished file (deleting the temporary one); after {@link #finish()} does nothing. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (!finished) {
            deleteQuietly(temp);
        }
        try {
            Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
            // the hook is running or will run: it deletes the temporary file itself
        }
    }

    private ByteBuffer encodeHeader() {
        Encoder e = new Encoder();
        e.u32(GgufHeader.MAGIC);
        e.u32(3);
        e.u64(tensors.size());
        e.u64(metadata.size());
        metadata.forEach((k, v) -> {
            e.string(k);
            e.u32(v.type().id());
            e.value(v);
        });
        for (Pending p : tensors) {
            TensorInfo t = p.info();
            e.string(t.name());
            e.u32(t.dims());
            for (long d : t.ne()) {
                e.u64(d);
            }
            e.u32(t.type().id());
            e.u64(t.offset());
        }
        return e.buffer.flip();
    }

    private static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // best effort: nothing more can be done about a temp file we cannot delete
        }
    }

    private static final class CountingSink implements TensorSink {
        private final FileChannel ch;
        long written;

        CountingSink(FileChannel ch) {
            this.ch = ch;
        }

        @Override
        public void write(MemorySegment bytes) throws IOException {
            for (long off = 0; off < bytes.byteSize(); off += CHUNK) {
                long n = Math.min(CHUNK, bytes.byteSize() - off);
                write(bytes.asSlice(off, n).asByteBuffer());
            }
        }

        @Override
        public void write(ByteBuffer bytes) throws IOException {
            written += bytes.remaining();
            writeFully(ch, bytes);
        }

        @Override
        public void zeros(long count) throws IOException {
            written += count;
            ch.position(ch.position() + count);
        }
    }

    /** Little-endian header encoder on a growable heap buffer (the header is small). */
    private static final class Encoder {
        ByteBuffer buffer = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        private void room(int n) {
            if (buffer.remaining() < n) {
                ByteBuffer bigger = ByteBuffer.allocate(Math.max(buffer.capacity() * 2, buffer.position() + n))
                        .order(ByteOrder.LITTLE_ENDIAN);
                bigger.put(buffer.flip());
                buffer = bigger;
            }
        }

        void u8(int v) {
            room(1);
            buffer.put((byte) v);
        }

        void u16(int v) {
            room(2);
            buffer.putShort((short) v);
        }

        void u32(long v) {
            room(4);
            buffer.putInt((int) v);
        }

        void u64(long v) {
            room(8);
            buffer.putLong(v);
        }

        void string(String s) {
            byte[] b = s.getBytes(StandardCharsets.UTF_8);
            u64(b.length);
            room(b.length);
            buffer.put(b);
        }

        void value(MetadataValue v) {
            switch (v) {
                case IntValue i -> integer(i.type(), i.value());
                case FloatValue f -> floating(f.type(), f.value());
                case BoolValue b -> u8(b.value() ? 1 : 0);
                case StringValue s -> string(s.value());
                case ArrayValue a -> array(a);
            }
        }

        private void integer(GgufValueType t, long v) {
            switch (t) {
                case UINT8, INT8 -> u8((int) v);
                case UINT16, INT16 -> u16((int) v);
                case UINT32, INT32 -> u32(v);
                default -> u64(v);
            }
        }

        private void floating(GgufValueType t, double v) {
            if (t == GgufValueType.FLOAT32) {
                u32(Float.floatToRawIntBits((float) v));
            } else {
                u64(Double.doubleToRawLongBits(v));
            }
        }

        private void array(ArrayValue a) {
            u32(a.elementType().id());
            u64(a.size());
            switch (a) {
                case IntArray i -> {
                    for (long x : i.values()) {
                        integer(i.elementType(), x);
                    }
                }
                case FloatArray f -> {
                    for (double x : f.values()) {
                        floating(f.elementType(), x);
                    }
                }
                case BoolArray b -> {
                    for (boolean x : b.values()) {
                        u8(x ? 1 : 0);
                    }
                }
                case StringArray s -> s.values().forEach(this::string);
                case NestedArray n -> n.values().forEach(this::array);
            }
        }
    }

    /** Convenience for callers that cannot throw checked exceptions. */
    public void finishUnchecked() {
        try {
            finish();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
