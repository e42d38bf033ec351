package dev.panamax.gpu;

import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRelease;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;
import static jcuda.driver.JCudaDriver.cuGraphDestroy;
import static jcuda.driver.JCudaDriver.cuGraphExecDestroy;
import static jcuda.driver.JCudaDriver.cuGraphInstantiate;
import static jcuda.driver.JCudaDriver.cuGraphLaunch;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemAllocHost;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemFreeHost;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoH;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoD;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuStreamBeginCapture;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;
import static jcuda.driver.JCudaDriver.cuStreamEndCapture;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;
import static jcuda.driver.JCudaDriver.cuStreamWaitEvent;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.NavigableMap;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.CudaException;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUfunction;
import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUgraph;
import jcuda.driver.CUgraphExec;
import jcuda.driver.CUmodule;
import jcuda.driver.CUstream;
import jcuda.driver.CUstreamCaptureMode;
import jcuda.driver.CUstream_flags;
import jcuda.driver.JCudaDriver;

/**
 * {@link Gpu} over JCuda's binding of the CUDA driver API (libcuda only: no runtime, NVRTC or
 * cuBLAS). Uses the device's primary context, shared by everything in the process. The kernels
 * come from the plugin's resources: an sm_90 cubin on compute capability 9.0, else the PTX, which
 * the driver compiles once for the device (and caches). {@code -Dpanamax.cuda.cubin=FILE} loads a
 * gzipped sm_90 cubin from a file instead (another build's kernels, to compare them on one host:
 * the kernels' names and parameters must be this build's).
 */
final class JcudaGpu implements Gpu {
    static final String PTX = "/dev/panamax/gpu/panamax.ptx.gz";
    static final String CUBIN_SM90 = "/dev/panamax/gpu/panamax.sm_90.cubin.gz";
    /** JCuda copies through java.nio buffers, which hold at most 2 GiB. */
    private static final long CHUNK = 1L << 30;

    private final CUdevice device;
    private final CUcontext context;
    private final String name;
    private final int capability;
    private final int multiprocessors;
    private final long total;
    private final int driverVersion;
    private CUmodule module;
    private final Map<String, JKernel> kernels = new ConcurrentHashMap<>();
    private final NavigableMap<Long, CUdeviceptr> allocations = new TreeMap<>();
    private final Map<Long, Pointer> hostAllocations = new ConcurrentHashMap<>();
    private boolean closed;

    /** A kernel whose driver handle can be read (for {@link DependentLaunch}). */
    private static final class RawFunction extends CUfunction {
        long address() {
            return getNativePointer();
        }
    }

    /** A stream whose driver handle can be read (for {@link DependentLaunch}). */
    private static final class RawStream extends CUstream {
        long address() {
            return getNativePointer();
        }
    }

    /**
     * Launches the decode kernels as programmatic dependents where the loaded module has their
     * waits (the sm_90 cubin) and the driver has cuLaunchKernelEx; -Dpanamax.cuda.dependentLaunch=false
     * turns it off. Null: plain launches.
     */
    private volatile DependentLaunch dependents;

    /** A device pointer whose address can be read. */
    private static final class Addr extends CUdeviceptr {
        long address() {
            return getNativePointer() + getByteOffset();
        }
    }

    private JcudaGpu(int ordinal) {
        JCudaDriver.setExceptionsEnabled(true);
        cuInit(0);
        int[] count = new int[1];
        cuDeviceGetCount(count);
        if (count[0] == 0) {
            throw new GpuException("the NVIDIA driver reports no CUDA device");
        }
        if (ordinal < 0 || ordinal >= count[0]) {
            throw new GpuException("--main-gpu " + ordinal + ": there are " + count[0] + " CUDA devices (0-"
                    + (count[0] - 1) + ")");
        }
        device = new CUdevice();
        cuDeviceGet(device, ordinal);
        byte[] nameBytes = new byte[256];
        cuDeviceGetName(nameBytes, nameBytes.length, device);
        int len = 0;
        while (len < nameBytes.length && nameBytes[len] != 0) {
            len++;
        }
        name = new String(nameBytes, 0, len, StandardCharsets.UTF_8);
        int[] v = new int[1];
        cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, device);
        int major = v[0];
        cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, device);
        capability = major * 10 + v[0];
        cuDeviceGetAttribute(v, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT, device);
        multiprocessors = v[0];
        long[] t = new long[1];
        cuDeviceTotalMem(t, device);
        total = t[0];
        cuDriverGetVersion(v);
        driverVersion = v[0];
        context = new CUcontext();
        cuDevicePrimaryCtxRetain(context, device);
        cuCtxSetCurrent(context);
    }

    /** Opens device {@code ordinal}; throws (LinkageError, CudaException, GpuException) when impossible. */
    static JcudaGpu open(int ordinal) {
        return new JcudaGpu(ordinal);
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public int capability() {
        return capability;
    }

    @Override
    public int multiprocessors() {
        return multiprocessors;
    }

    /** e.g. "13.0". */
    String driverVersion() {
        return driverVersion / 1000 + "." + driverVersion % 1000 / 10;
    }

    @Override
    public long totalBytes() {
        return total;
    }

    @Override
    public long freeBytes() {
        makeCurrent();
        long[] free = new long[1];
        long[] tot = new long[1];
        cuMemGetInfo(free, tot);
        return free[0];
    }

    @Override
    public void makeCurrent() {
        cuCtxSetCurrent(context);
    }

    @Override
    public synchronized long alloc(long bytes) {
        makeCurrent();
        Addr p = new Addr();
        try {
            cuMemAlloc(p, Math.max(bytes, 256));
        } catch (CudaException e) {
            throw new GpuException("cannot allocate " + (bytes >> 20) + " MiB on " + name + " (" + e.getMessage()
                    + "); lower -ngl or the context size, or raise --vram-reserve", e);
        }
        allocations.put(p.address(), p);
        return p.address();
    }

    @Override
    public synchronized void free(long address) {
        CUdeviceptr p = allocations.remove(address);
        if (p != null) {
            makeCurrent();
            cuMemFree(p);
        }
    }

    /** The device pointer of an address inside an allocation. */
    private synchronized CUdeviceptr ptr(long address) {
        Map.Entry<Long, CUdeviceptr> e = allocations.floorEntry(address);
        if (e == null) {
            throw new GpuException("no device allocation holds address 0x" + Long.toHexString(address));
        }
        return e.getValue().withByteOffset(address - e.getKey());
    }

    private static Pointer host(MemorySegment s) {
        return Pointer.to(s.asByteBuffer().order(ByteOrder.nativeOrder()));
    }

    @Override
    public void upload(long dst, MemorySegment src) {
        makeCurrent();
        for (long off = 0; off < src.byteSize(); off += CHUNK) {
            long n = Math.min(CHUNK, src.byteSize() - off);
            cuMemcpyHtoD(ptr(dst + off), host(src.asSlice(off, n)), n);
        }
    }

    @Override
    public void download(MemorySegment dst, long src) {
        makeCurrent();
        for (long off = 0; off < dst.byteSize(); off += CHUNK) {
            long n = Math.min(CHUNK, dst.byteSize() - off);
            cuMemcpyDtoH(host(dst.asSlice(off, n)), ptr(src + off), n);
        }
    }

    @Override
    public MemorySegment allocHost(long bytes) {
        makeCurrent();
        Pointer p = new Pointer();
        cuMemAllocHost(p, bytes);
        ByteBuffer b = p.getByteBuffer(0, bytes);
        MemorySegment s = MemorySegment.ofBuffer(b);
        s.fill((byte) 0);
        hostAllocations.put(s.address(), p);
        return s;
    }

    @Override
    public void freeHost(MemorySegment host) {
        Pointer p = hostAllocations.remove(host.address());
        if (p != null) {
            makeCurrent();
            cuMemFreeHost(p);
        }
    }

    private synchronized CUmodule module() {
        if (module == null) {
            makeCurrent();
            CUmodule m = new CUmodule();
            String other = System.getProperty("panamax.cuda.cubin", "");
            byte[] cubin = capability != 90 ? null
                    : other.isEmpty() ? resource(CUBIN_SM90) : gunzip(java.nio.file.Path.of(other));
            if (cubin != null) {
                cuModuleLoadData(m, cubin);
                if (!"false".equalsIgnoreCase(System.getProperty("panamax.cuda.dependentLaunch"))) {
                    dependents = DependentLaunch.find();
                }
            } else {
                byte[] ptx = resource(PTX);
                if (ptx == null) {
                    throw new GpuException("the plugin has no kernels (" + PTX + " missing from its jar)");
                }
                byte[] z = java.util.Arrays.copyOf(ptx, ptx.length + 1);
                cuModuleLoadData(m, z);
            }
            module = m;
        }
        return module;
    }

    private static byte[] gunzip(java.nio.file.Path file) {
        try (InputStream in = java.nio.file.Files.newInputStream(file)) {
            return gunzip(in);
        } catch (IOException e) {
            throw new GpuException("-Dpanamax.cuda.cubin=" + file + ": not a readable gzipped cubin ("
                    + e.getMessage() + ")");
        }
    }

    /** A gzipped resource of the plugin, uncompressed; null if absent. */
    static byte[] resource(String path) {
        try (InputStream in = JcudaGpu.class.getResourceAsStream(path)) {
            if (in == null) {
                return null;
            }
            return gunzip(in);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static byte[] gunzip(InputStream in) throws IOException {
        try (InputStream z = new java.util.zip.GZIPInputStream(in)) {
            return z.readAllBytes();
        }
    }

    /** dependent: launched through {@link #dependents} when that is on. */
    private record JKernel(String name, RawFunction f, boolean dependent) implements Kernel {}

    /** Whether the decode kernels are launched as programmatic dependents (see {@link DependentLaunch}). */
    boolean dependentLaunches() {
        module();
        return dependents != null;
    }

    @Override
    public Kernel kernel(String kernelName) {
        return kernels.computeIfAbsent(kernelName, n -> {
            CUmodule m = module();
            RawFunction f = new RawFunction();
            try {
                cuModuleGetFunction(f, m, n);
            } catch (CudaException e) {
                throw new GpuException("kernel " + n + " is missing from the plugin's module (" + e.getMessage() + ")", e);
            }
            return new JKernel(n, f, DependentLaunch.waitsForPredecessor(n));
        });
    }

    @Override
    public Stream stream() {
        makeCurrent();
        RawStream s = new RawStream();
        cuStreamCreate(s, CUstream_flags.CU_STREAM_NON_BLOCKING);
        return new JStream(s);
    }

    private final class JStream implements Stream {
        private final RawStream s;
        /**
         * While recording a graph: only recorded launches go through {@link DependentLaunch} (the
         * overlap lives on as a graph edge, and decode is where it was measured to pay); a launch
         * one by one would pay its FFM call and arena on every prompt kernel for no measured gain.
         */
        private boolean capturing;

        JStream(RawStream s) {
            this.s = s;
        }

        @Override
        public void upload(long dst, MemorySegment host, long bytes) {
            cuMemcpyHtoDAsync(ptr(dst), host(host.asSlice(0, bytes)), bytes, s);
        }

        @Override
        public void download(MemorySegment host, long src, long bytes) {
            cuMemcpyDtoHAsync(host(host.asSlice(0, bytes)), ptr(src), bytes, s);
        }

        @Override
        public void memset(long dst, long bytes) {
            cuMemsetD8Async(ptr(dst), (byte) 0, bytes, s);
        }

        @Override
        public void launch(Kernel k, int gx, int gy, int gz, int block, Object... args) {
            JKernel jk = (JKernel) k;
            if (jk.dependent() && dependents != null && capturing) {
                dependents.launch(jk.name(), jk.f().address(), s.address(), gx, gy, gz, block, args);
                return;
            }
            Pointer[] ps = new Pointer[args.length];
            for (int i = 0; i < args.length; i++) {
                ps[i] = switch (args[i]) {
                    case Long l -> Pointer.to(new long[] {l});
                    case Integer n -> Pointer.to(new int[] {n});
                    case Float f -> Pointer.to(new float[] {f});
                    default -> throw new IllegalArgumentException("kernel argument " + args[i]);
                };
            }
            try {
                cuLaunchKernel(((JKernel) k).f(), gx, gy, gz, block, 1, 1, 0, s, Pointer.to(ps), null);
            } catch (CudaException e) {
                throw new GpuException("launch of " + k.name() + " (" + gx + "x" + gy + "x" + gz + " blocks of " + block
                        + ") failed: " + e.getMessage(), e);
            }
        }

        @Override
        public void synchronize() {
            try {
                cuStreamSynchronize(s);
            } catch (CudaException e) {
                throw new GpuException("device error: " + e.getMessage(), e);
            }
        }

        @Override
        public void beginCapture() {
            cuStreamBeginCapture(s, CUstreamCaptureMode.CU_STREAM_CAPTURE_MODE_THREAD_LOCAL);
            capturing = true;
        }

        @Override
        public Graph endCapture() {
            capturing = false;
            CUgraph g = new CUgraph();
            cuStreamEndCapture(s, g);
            CUgraphExec e = new CUgraphExec();
            cuGraphInstantiate(e, g, 0);
            return new Graph() {
                @Override
                public void launch() {
                    cuGraphLaunch(e, s);
                }

                @Override
                public void close() {
                    cuGraphExecDestroy(e);
                    cuGraphDestroy(g);
                }
            };
        }

        @Override
        public Mark mark() {
            CUevent e = new CUevent();
            cuEventCreate(e, CUevent_flags.CU_EVENT_DEFAULT);
            cuEventRecord(e, s);
            return new JMark(e);
        }

        @Override
        public void waitFor(Mark m) {
            cuStreamWaitEvent(s, ((JMark) m).e(), 0);
        }

        @Override
        public void close() {
            cuStreamDestroy(s);
        }
    }

    private record JMark(CUevent e) implements Mark {
        @Override
        public float millisSince(Mark earlier) {
            float[] ms = new float[1];
            cuEventElapsedTime(ms, ((JMark) earlier).e, e);
            return ms[0];
        }

        @Override
        public void await() {
            cuEventSynchronize(e);
        }

        @Override
        public void close() {
            cuEventDestroy(e);
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            for (long a : allocations.keySet().toArray(new Long[0])) {
                free(a);
            }
            cuDevicePrimaryCtxRelease(device);
        }
    }
}
