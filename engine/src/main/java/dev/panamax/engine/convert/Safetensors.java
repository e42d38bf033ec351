package dev.panamax.engine.convert;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.stream.Stream;

/**
 * Hugging Face safetensors checkpoints mapped with the FFM API: one {@code model.safetensors}, or
 * shards listed by {@code model.safetensors.index.json} (else every {@code model*.safetensors}, as
 * llama.cpp's converter globs them). Each tensor is a read-only slice of its file's mapping; nothing
 * is copied to the heap. The format: an 8-byte little-endian header length, a JSON header
 * {@code {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}}},
 * then the data, offsets relative to the end of the header.
 */
public final class Safetensors implements AutoCloseable {

    /** Element types a checkpoint may hold; Panamax converts the floating ones. */
    public enum DType {
        F32(4), F16(2), BF16(2);

        final int bytes;

        DType(int bytes) {
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }
    }

    /** One tensor: HF shape (outermost first, row-major), dtype, data. */
    public record Tensor(String name, DType dtype, long[] shape, MemorySegment data, Path file) {
        public long elements() {
            long n = 1;
            for (long d : shape) {
                n *= d;
            }
            return n;
        }

        /** HF shape rendered as in error messages: [out, in]. */
        public String shapeString() {
            return Arrays.toString(shape);
        }

        public float get(long index) {
            return switch (dtype) {
                case F32 -> data.get(F32_LE, 4 * index);
                case F16 -> Float.float16ToFloat(data.get(I16_LE, 2 * index));
                case BF16 -> Float.intBitsToFloat(data.get(I16_LE, 2 * index) << 16);
            };
        }
    }

    static final ValueLayout.OfFloat F32_LE = ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfShort I16_LE = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final long MAX_HEADER = 100L << 20;

    private final Arena arena;
    private final Map<String, Tensor> tensors;
    private final List<Path> files;

    private Safetensors(Arena arena, Map<String, Tensor> tensors, List<Path> files) {
        this.arena = arena;
        this.tensors = tensors;
        this.files = files;
    }

    /** Opens the checkpoint in a Hugging Face model folder. */
    public static Safetensors openDirectory(Path dir) {
        Path single = dir.resolve("model.safetensors");
        Path index = dir.resolve("model.safetensors.index.json");
        List<Path> parts = new ArrayList<>();
        Map<String, String> weightMap = null;
        if (Files.isRegularFile(index)) {
            weightMap = readIndex(index);
            for (String part : new TreeSet<>(weightMap.values())) {
                parts.add(dir.resolve(part));
            }
        } else if (Files.isRegularFile(single)) {
            parts.add(single);
        } else {
            try (Stream<Path> s = Files.list(dir)) {
                s.filter(p -> p.getFileName().toString().startsWith("model")
                        && p.getFileName().toString().endsWith(".safetensors")).sorted().forEach(parts::add);
            } catch (IOException e) {
                throw new PanamaxException(dir + ": cannot list the folder (" + e.getMessage() + ")");
            }
        }
        if (parts.isEmpty()) {
            boolean bin = Files.isRegularFile(dir.resolve("pytorch_model.bin"))
                    || Files.isRegularFile(dir.resolve("pytorch_model.bin.index.json"));
            throw new PanamaxException(dir + ": no model.safetensors, model.safetensors.index.json or model*.safetensors"
                    + (bin ? " (only pytorch_model.bin, which Panamax does not read: save the model with safe_serialization)" : ""));
        }
        Safetensors s = open(parts);
        if (weightMap != null) {
            List<String> missing = new ArrayList<>();
            for (Map.Entry<String, String> e : weightMap.entrySet()) {
                Tensor t = s.tensors.get(e.getKey());
                if (t == null || !t.file().getFileName().toString().equals(e.getValue())) {
                    missing.add(e.getKey() + " (in " + e.getValue() + ")");
                }
            }
            Map<String, String> map = weightMap;
            List<String> extra = s.tensors.keySet().stream().filter(n -> !map.containsKey(n)).toList();
            if (!missing.isEmpty() || !extra.isEmpty()) {
                s.close();
                throw new PanamaxException(index + ": the weight map and the shards disagree"
                        + (missing.isEmpty() ? "" : "; missing from the shards: " + shorten(missing))
                        + (extra.isEmpty() ? "" : "; in the shards but not the map: " + shorten(extra)));
            }
        }
        return s;
    }

    private static String shorten(List<String> l) {
        return l.size() <= 5 ? l.toString() : l.subList(0, 5) + " and " + (l.size() - 5) + " more";
    }

    @SuppressWarnings("unchecked")
    private static Map<String, String> readIndex(Path index) {
        Object root;
        try {
            root = JSON.std.anyFrom(Files.readString(index));
        } catch (IOException e) {
            throw new PanamaxException(index + ": not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ")");
        }
        if (!(root instanceof Map<?, ?> m) || !(m.get("weight_map") instanceof Map<?, ?> wm)) {
            throw new PanamaxException(index + ": expected an object with a \"weight_map\" of tensor name -> shard file");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : wm.entrySet()) {
            if (!(e.getValue() instanceof String f) || f.contains("/") || f.contains("\\")) {
                throw new PanamaxException(index + ": weight_map[\"" + e.getKey() + "\"] should be a shard file name");
            }
            out.put((String) e.getKey(), f);
        }
        return out;
    }

    /** Opens and validates these files; tensor names must be unique across them. */
    public static Safetensors open(List<Path> files) {
        Arena arena = Arena.ofShared();
        try {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            for (Path f : files) {
                readFile(f, arena, tensors);
            }
            return new Safetensors(arena, tensors, List.copyOf(files));
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    private static void readFile(Path f, Arena arena, Map<String, Tensor> into) {
        MemorySegment file;
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.READ)) {
            if (ch.size() < 8) {
                throw new PanamaxException(f + ": not a safetensors file (" + ch.size() + " bytes)");
            }
            file = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size(), arena);
        } catch (NoSuchFileException e) {
            throw new PanamaxException(f + ": no such file");
        } catch (AccessDeniedException e) {
            throw new PanamaxException(f + ": permission denied");
        } catch (IOException e) {
            throw new PanamaxException(f + ": cannot read (" + e.getMessage() + ")");
        }
        long headerLength = file.get(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN), 0);
        if (headerLength <= 1 || headerLength > MAX_HEADER || 8 + headerLength > file.byteSize()) {
            throw new PanamaxException(f + ": not a safetensors file (header length " + headerLength + " in a file of "
                    + file.byteSize() + " bytes)");
        }
        String json = new String(file.asSlice(8, headerLength).toArray(ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        Object root;
        try {
            root = JSON.std.anyFrom(json);
        } catch (IOException e) {
            throw new PanamaxException(f + ": safetensors header is not valid JSON (" + e.getMessage().lines().findFirst()
                    .orElse("") + ")");
        }
        if (!(root instanceof Map<?, ?> header)) {
            throw new PanamaxException(f + ": safetensors header should be a JSON object");
        }
        long dataStart = 8 + headerLength;
        long dataBytes = file.byteSize() - dataStart;
        for (Map.Entry<?, ?> e : header.entrySet()) {
            String name = (String) e.getKey();
            if (name.equals("__metadata__")) {
                continue;
            }
            String what = f + ": tensor '" + name + "'";
            if (!(e.getValue() instanceof Map<?, ?> t) || !(t.get("dtype") instanceof String dtype)
                    || !(t.get("shape") instanceof List<?> shape) || !(t.get("data_offsets") instanceof List<?> offs)
                    || offs.size() != 2) {
                throw new PanamaxException(what + ": expected {\"dtype\", \"shape\", \"data_offsets\": [begin, end]}");
            }
            DType dt;
            try {
                dt = DType.valueOf(dtype);
            } catch (IllegalArgumentException x) {
                throw new PanamaxException(what + " has dtype " + dtype + "; Panamax converts F32, F16 and BF16 checkpoints");
            }
            long[] dims = new long[shape.size()];
            long elements = 1;
            for (int i = 0; i < dims.length; i++) {
                if (!(shape.get(i) instanceof Number n) || n.longValue() < 0) {
                    throw new PanamaxException(what + ": shape " + shape + " should hold non-negative whole numbers");
                }
                dims[i] = n.longValue();
                elements = Math.multiplyExact(elements, dims[i]);
            }
            if (!(offs.get(0) instanceof Number b) || !(offs.get(1) instanceof Number en)) {
                throw new PanamaxException(what + ": data_offsets should be two numbers");
            }
            long begin = b.longValue();
            long end = en.longValue();
            if (begin < 0 || end < begin || end > dataBytes) {
                throw new PanamaxException(what + ": data_offsets [" + begin + ", " + end + "] fall outside the file's "
                        + dataBytes + " data bytes (truncated download?)");
            }
            if (end - begin != elements * dt.bytes) {
                throw new PanamaxException(what + ": " + (end - begin) + " data bytes for shape " + shape + " of " + dtype
                        + ", expected " + elements * dt.bytes);
            }
            if (into.containsKey(name)) {
                throw new PanamaxException(what + " also appears in " + into.get(name).file());
            }
            into.put(name, new Tensor(name, dt, dims, file.asSlice(dataStart + begin, end - begin).asReadOnly(), f));
        }
    }

    public Map<String, Tensor> tensors() {
        return tensors;
    }

    public List<Path> files() {
        return files;
    }

    @Override
    public void close() {
        arena.close();
    }
}
