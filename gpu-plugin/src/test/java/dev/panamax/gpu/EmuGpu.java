package dev.panamax.gpu;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;


/**
 * A {@link Gpu} that runs the plugin's CUDA kernels on the CPU: src/main/cuda compiled by the host
 * C++ compiler against the emulator in src/test/cuda (fibers for threads, see emu.h), called
 * through FFM. Device memory is host memory with guard bytes around every allocation, checked after
 * each launch, so an out-of-bounds write fails the launch that made it. Everything is synchronous;
 * a captured graph is the list of recorded operations.
 */
final class EmuGpu implements Gpu {
    private static final long GUARD = 256;
    private static final byte PATTERN = (byte) 0xA5;

    private final MethodHandle launch;
    private final MethodHandle error;
    private final MethodHandle hasKernel;
    private final long total;
    private long used;
    private final Map<Long, MemorySegment> allocations = new TreeMap<>();
    private final Map<Long, Arena> arenas = new TreeMap<>();
    long launches;

    private EmuGpu(Path library, long totalBytes) {
        SymbolLookup lib = SymbolLookup.libraryLookup(library, Arena.global());
        Linker l = Linker.nativeLinker();
        launch = l.downcallHandle(lib.find("emu_launch").orElseThrow(), FunctionDescriptor.of(ValueLayout.JAVA_INT,
                ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        error = l.downcallHandle(lib.find("emu_error").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS));
        hasKernel = l.downcallHandle(lib.find("emu_has_kernel").orElseThrow(),
                FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
        total = totalBytes;
    }

    /** The emulator, built into target/emu on first use (needs g++); null with the reason printed if impossible. */
    static EmuGpu open(long totalBytes) {
        Path lib = build();
        return lib == null ? null : new EmuGpu(lib, totalBytes);
    }

    private static Path cached;
    private static boolean tried;

    static synchronized Path build() {
        if (tried) {
            return cached;
        }
        tried = true;
        Path module = Path.of("").toAbsolutePath();
        if (!Files.isDirectory(module.resolve("src/main/cuda"))) {
            module = module.resolve("gpu-plugin");
        }
        Path out = module.resolve("target/emu/libpanamax_emu.so");
        try {
            List<Path> sources = new ArrayList<>();
            for (String dir : new String[] {"src/main/cuda", "src/test/cuda"}) {
                try (java.util.stream.Stream<Path> s = Files.list(module.resolve(dir))) {
                    s.forEach(sources::add);
                }
            }
            FileTime newest = FileTime.fromMillis(0);
            for (Path p : sources) {
                FileTime t = Files.getLastModifiedTime(p);
                newest = t.compareTo(newest) > 0 ? t : newest;
            }
            if (Files.exists(out) && Files.getLastModifiedTime(out).compareTo(newest) >= 0) {
                cached = out;
                return out;
            }
            Files.createDirectories(out.getParent());
            Path tmp = out.resolveSibling("libpanamax_emu.so.tmp");
            List<String> cmd = new ArrayList<>(List.of("g++", "-O2", "-std=c++17", "-fPIC", "-shared",
                    "-fno-strict-aliasing", "-Wno-unknown-pragmas", "-I", module.resolve("src/main/cuda").toString(),
                    "-I", module.resolve("src/test/cuda").toString(), "-x", "c++",
                    module.resolve("src/main/cuda/panamax.cu").toString(), module.resolve("src/test/cuda/emu.cpp").toString(),
                    "-o", tmp.toString()));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String log = new String(p.getInputStream().readAllBytes());
            if (!p.waitFor(10, TimeUnit.MINUTES) || p.exitValue() != 0) {
                System.err.println("emulator build failed:\n" + log);
                return null;
            }
            Files.move(tmp, out, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            cached = out;
            return out;
        } catch (IOException e) {
            System.err.println("emulator not built (" + e.getMessage() + ")");
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    @Override
    public String name() {
        return "CUDA emulator";
    }

    @Override
    public int capability() {
        return 80;
    }

    @Override
    public int multiprocessors() {
        return 8;  // small: the emulated models' products take both token tiles
    }

    @Override
    public long totalBytes() {
        return total;
    }

    @Override
    public synchronized long freeBytes() {
        return total - used;
    }

    @Override
    public void makeCurrent() {}

    @Override
    public synchronized long alloc(long bytes) {
        if (used + bytes > total) {
            throw new GpuException("emulated device out of memory: " + bytes + " bytes asked, " + (total - used) + " free");
        }
        Arena a = Arena.ofShared();
        MemorySegment s = a.allocate(bytes + 2 * GUARD, 256);
        s.fill(PATTERN);
        s.asSlice(GUARD, bytes).fill((byte) 0x5A);  // garbage, as cuMemAlloc gives
        long address = s.address() + GUARD;
        allocations.put(address, s);
        arenas.put(address, a);
        used += bytes;
        return address;
    }

    @Override
    public synchronized void free(long address) {
        MemorySegment s = allocations.remove(address);
        if (s != null) {
            used -= s.byteSize() - 2 * GUARD;
            arenas.remove(address).close();
        }
    }

    synchronized int liveAllocations() {
        return allocations.size();
    }

    private synchronized void checkGuards(String after) {
        for (Map.Entry<Long, MemorySegment> e : allocations.entrySet()) {
            MemorySegment s = e.getValue();
            long n = s.byteSize();
            for (long i = 0; i < GUARD; i++) {
                if (s.get(ValueLayout.JAVA_BYTE, i) != PATTERN || s.get(ValueLayout.JAVA_BYTE, n - 1 - i) != PATTERN) {
                    throw new GpuException(after + " wrote outside the allocation at 0x" + Long.toHexString(e.getKey())
                            + " (" + (n - 2 * GUARD) + " bytes)");
                }
            }
        }
    }

    static MemorySegment at(long address, long bytes) {
        return MemorySegment.ofAddress(address).reinterpret(bytes);
    }

    @Override
    public void upload(long dst, MemorySegment src) {
        at(dst, src.byteSize()).copyFrom(src);
    }

    @Override
    public void download(MemorySegment dst, long src) {
        dst.copyFrom(at(src, dst.byteSize()));
    }

    @Override
    public MemorySegment allocHost(long bytes) {
        return Arena.ofAuto().allocate(bytes, 64);
    }

    @Override
    public void freeHost(MemorySegment host) {}

    private record EKernel(String name) implements Kernel {}

    @Override
    public Kernel kernel(String name) {
        try (Arena a = Arena.ofConfined()) {
            if ((int) hasKernel.invokeExact(a.allocateFrom(name)) == 0) {
                throw new GpuException("kernel " + name + " is missing from the emulated module");
            }
        } catch (GpuException e) {
            throw e;
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
        return new EKernel(name);
    }

    void run(Kernel k, int gx, int gy, int gz, int block, Object... args) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment ptrs = a.allocate(8L * Math.max(1, args.length), 8);
            for (int i = 0; i < args.length; i++) {
                MemorySegment slot = a.allocate(8, 8);
                switch (args[i]) {
                    case Long l -> slot.set(ValueLayout.JAVA_LONG, 0, l);
                    case Integer n -> slot.set(ValueLayout.JAVA_INT, 0, n);
                    case Float f -> slot.set(ValueLayout.JAVA_FLOAT, 0, f);
                    default -> throw new IllegalArgumentException("kernel argument " + args[i]);
                }
                ptrs.setAtIndex(ValueLayout.ADDRESS, i, slot);
            }
            int rc = (int) launch.invokeExact(a.allocateFrom(k.name()), gx, gy, gz, block, 1, 1, ptrs);
            launches++;
            if (rc != 0) {
                MemorySegment m = (MemorySegment) error.invokeExact();
                throw new GpuException("emulated " + k.name() + ": " + m.reinterpret(1000).getString(0));
            }
        } catch (GpuException | IllegalArgumentException e) {
            throw e;
        } catch (Throwable t) {
            throw new RuntimeException(t);
        }
        checkGuards(k.name());
    }

    @Override
    public Stream stream() {
        return new EStream();
    }

    /**
     * The operations of a graph being recorded, from every stream (the emulator runs operations in
     * the order they are queued, which is an order the streams' waits allow).
     */
    private List<Runnable> recording;
    /** Streams' waits for another stream's mark (forks and joins) so far. */
    private int waits;

    int waits() {
        return waits;
    }

    private final class EStream implements Gpu.Stream {

        private void op(Runnable r) {
            if (recording != null) {
                recording.add(r);
            } else {
                r.run();
            }
        }

        @Override
        public void upload(long dst, MemorySegment host, long bytes) {
            op(() -> at(dst, bytes).copyFrom(host.asSlice(0, bytes)));
        }

        @Override
        public void download(MemorySegment host, long src, long bytes) {
            op(() -> host.asSlice(0, bytes).copyFrom(at(src, bytes)));
        }

        @Override
        public void memset(long dst, long bytes) {
            op(() -> at(dst, bytes).fill((byte) 0));
        }

        @Override
        public void launch(Kernel k, int gx, int gy, int gz, int block, Object... args) {
            Object[] copy = args.clone();
            op(() -> run(k, gx, gy, gz, block, copy));
        }

        @Override
        public void synchronize() {}

        @Override
        public void beginCapture() {
            recording = new ArrayList<>();
        }

        @Override
        public Graph endCapture() {
            List<Runnable> ops = List.copyOf(recording);
            recording = null;
            return new Graph() {
                @Override
                public void launch() {
                    ops.forEach(Runnable::run);
                }

                @Override
                public void close() {}
            };
        }

        @Override
        public void waitFor(Mark m) {
            // operations run in the order they are queued: whatever m marks has run already
            waits++;
        }

        @Override
        public Mark mark() {
            EMark m = new EMark(new long[1]);
            op(() -> m.at()[0] = System.nanoTime());
            return m;
        }

        @Override
        public void close() {}
    }

    /** The host time at which the emulated stream passed the mark. */
    private record EMark(long[] at) implements Mark {
        @Override
        public float millisSince(Mark earlier) {
            return (at[0] - ((EMark) earlier).at[0]) / 1e6f;
        }

        @Override
        public void await() {
            // the emulated stream runs each operation as it is queued
        }

        @Override
        public void close() {}
    }

    @Override
    public void close() {
        for (Long a : List.copyOf(allocations.keySet())) {
            free(a);
        }
    }
}
