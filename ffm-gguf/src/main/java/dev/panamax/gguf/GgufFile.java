package dev.panamax.gguf;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.channels.FileChannel;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A GGUF model mapped into memory. The whole file is mapped read-only with
 * {@link FileChannel#map(FileChannel.MapMode, long, long, Arena)} into an {@link Arena}; every
 * tensor is a slice of that mapping, so no weight byte is copied to the heap, files over 4 GiB
 * and tensors over 2 GiB work, and closing the arena unmaps everything.
 *
 * <p>Opening the first part of a split model ({@code name-00001-of-00003.gguf}) opens all
 * parts; metadata comes from the first part and tensors from all of them.
 */
public final class GgufFile implements AutoCloseable {
    private static final Pattern SPLIT_NAME = Pattern.compile("(.*)-(\\d{5})-of-(\\d{5})\\.gguf");
    public static final String SPLIT_COUNT_KEY = "split.count";
    public static final String SPLIT_NO_KEY = "split.no";
    public static final String SPLIT_TENSORS_KEY = "split.tensors.count";

    private final List<Path> paths;
    private final GgufHeader header;
    private final Map<String, GgufTensor> tensors;
    private final long totalBytes;
    private final Arena ownedArena;

    private GgufFile(List<Path> paths, GgufHeader header, Map<String, GgufTensor> tensors, long totalBytes,
            Arena ownedArena) {
        this.paths = List.copyOf(paths);
        this.header = header;
        this.tensors = Collections.unmodifiableMap(tensors);
        this.totalBytes = totalBytes;
        this.ownedArena = ownedArena;
    }

    /** Opens a GGUF file in an arena this object owns; {@link #close()} unmaps it. */
    public static GgufFile open(Path path) {
        Arena arena = Arena.ofShared();
        try {
            return open(path, arena, arena);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    /**
     * Opens a GGUF file mapped into the caller's arena: the mapping lives until the caller closes
     * the arena, and {@link #close()} does nothing. Use a shared arena when several threads read.
     */
    public static GgufFile open(Path path, Arena arena) {
        return open(path, arena, null);
    }

    private static GgufFile open(Path path, Arena arena, Arena owned) {
        MemorySegment first = map(path, arena);
        GgufHeader header = GgufHeader.parse(first, path.toString());
        Map<String, GgufTensor> tensors = new LinkedHashMap<>();
        bind(path, first, header, tensors);
        List<Path> paths = new ArrayList<>(List.of(path));
        long total = first.byteSize();

        int splits = header.metadata().optInt(SPLIT_COUNT_KEY).orElse(1);
        if (splits > 1) {
            Matcher m = SPLIT_NAME.matcher(path.getFileName().toString());
            if (!m.matches() || Integer.parseInt(m.group(2)) != 1) {
                throw new GgufFormatException(path.toString(), "metadata says this is part of a " + splits
                        + "-part split model; open the first part, named like NAME-00001-of-"
                        + String.format("%05d", splits) + ".gguf");
            }
            for (int i = 2; i <= splits; i++) {
                Path part = path.resolveSibling(String.format("%s-%05d-of-%05d.gguf", m.group(1), i, splits));
                MemorySegment seg = map(part, arena);
                GgufHeader h = GgufHeader.parse(seg, part.toString());
                int no = h.metadata().optInt(SPLIT_NO_KEY).orElse(-1);
                if (no != i - 1) {
                    throw new GgufFormatException(part.toString(), "'" + SPLIT_NO_KEY + "' is " + no
                            + ", expected " + (i - 1));
                }
                bind(part, seg, h, tensors);
                paths.add(part);
                total += seg.byteSize();
            }
            int expected = header.metadata().optInt(SPLIT_TENSORS_KEY).orElse(tensors.size());
            if (expected != tensors.size()) {
                throw new GgufFormatException(path.toString(), "'" + SPLIT_TENSORS_KEY + "' says " + expected
                        + " tensors but the " + splits + " parts hold " + tensors.size());
            }
        }
        return new GgufFile(paths, header, tensors, total, owned);
    }

    /**
     * Parses a GGUF image already in memory (tests, embedded resources). Tensors are read-only
     * slices of {@code bytes}.
     */
    public static GgufFile parse(MemorySegment bytes, String name) {
        GgufHeader header = GgufHeader.parse(bytes, name);
        Map<String, GgufTensor> tensors = new LinkedHashMap<>();
        bind(Path.of(name), bytes, header, tensors);
        return new GgufFile(List.of(), header, tensors, bytes.byteSize(), null);
    }

    private static void bind(Path path, MemorySegment file, GgufHeader header, Map<String, GgufTensor> into) {
        MemorySegment readOnly = file.asReadOnly();
        for (TensorInfo info : header.tensors()) {
            if (into.containsKey(info.name())) {
                throw new GgufFormatException(path.toString(), "tensor '" + info.name()
                        + "' appears in more than one part of the split model");
            }
            into.put(info.name(), new GgufTensor(info,
                    readOnly.asSlice(header.dataOffset() + info.offset(), info.byteSize())));
        }
    }

    private static MemorySegment map(Path path, Arena arena) {
        String name = path.toString();
        if (Files.isDirectory(path)) {
            throw new PanamaxException(name + ": is a directory, expected a .gguf file");
        }
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size == 0) {
                throw new GgufFormatException(name, 0, "file is empty");
            }
            MemorySegment mapped = ch.map(FileChannel.MapMode.READ_ONLY, 0, size, arena);
            PageHints.hugePages(mapped);
            return mapped;
        } catch (NoSuchFileException e) {
            throw new PanamaxException(name + ": no such file");
        } catch (AccessDeniedException e) {
            throw new PanamaxException(name + ": permission denied");
        } catch (IOException e) {
            throw new PanamaxException(name + ": cannot read (" + e.getMessage() + ")", e);
        }
    }

    public List<Path> paths() {
        return paths;
    }

    /** Name used in messages: the first part's path. */
    public String name() {
        return paths.isEmpty() ? header.metadata().source() : paths.get(0).toString();
    }

    public int version() {
        return header.version();
    }

    public GgufHeader header() {
        return header;
    }

    public Metadata metadata() {
        return header.metadata();
    }

    public int alignment() {
        return header.alignment();
    }

    /** Tensors in file order (parts in order for split models). */
    public Collection<GgufTensor> tensors() {
        return tensors.values();
    }

    public Optional<GgufTensor> findTensor(String name) {
        return Optional.ofNullable(tensors.get(name));
    }

    /** The tensor with this name, or an error that names it and the file. */
    public GgufTensor tensor(String name) {
        GgufTensor t = tensors.get(name);
        if (t == null) {
            throw new PanamaxException(name() + ": tensor '" + name + "' is missing");
        }
        return t;
    }

    /** Total size of the mapped file(s). */
    public long fileBytes() {
        return totalBytes;
    }

    /** Total number of weights over all tensors. */
    public long parameterCount() {
        long n = 0;
        for (GgufTensor t : tensors.values()) {
            n += t.info().elementCount();
        }
        return n;
    }

    /** Unmaps the file when this object owns its arena; otherwise the caller's arena does. */
    @Override
    public void close() {
        if (ownedArena != null) {
            ownedArena.close();
        }
    }
}
