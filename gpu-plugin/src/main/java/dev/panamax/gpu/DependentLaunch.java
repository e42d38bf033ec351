package dev.panamax.gpu;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

/**
 * Kernel launches that may overlap their predecessor in the stream (programmatic dependent launch,
 * compute capability 9.0+): cuLaunchKernelEx with the programmatic stream serialization attribute,
 * which JCuda 12.6 does not bind, called through the FFM API in the libcuda JCuda has loaded.
 * Such a kernel lets its successor launch at once and waits for its predecessor itself before it
 * touches what that one writes (allow_dependent_launch / grid_dependency_wait in common.cuh), so
 * a kernel's launch and its first weight loads overlap the tail of the one before. Only kernels
 * that do so are launched this way ({@link #waitsForPredecessor}); in a recorded graph the overlap
 * becomes a programmatic edge.
 */
final class DependentLaunch {
    /** CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION (cuda.h). */
    private static final int PROGRAMMATIC_STREAM_SERIALIZATION = 6;
    /** sizeof(CUlaunchAttribute): the id, padding to 8, a 64-byte value union. */
    private static final long ATTRIBUTE_BYTES = 72;
    /** sizeof(CUlaunchConfig): seven unsigned ints, the stream at 32, the attributes at 40, their count at 48. */
    private static final long CONFIG_BYTES = 56;

    private final MethodHandle launchEx;

    private DependentLaunch(MethodHandle launchEx) {
        this.launchEx = launchEx;
    }

    /** The launcher, or null where libcuda has no cuLaunchKernelEx (drivers before CUDA 11.8). */
    static DependentLaunch find() {
        try {
            return SymbolLookup.libraryLookup("libcuda.so.1", Arena.global()).find("cuLaunchKernelEx")
                    .map(a -> new DependentLaunch(Linker.nativeLinker().downcallHandle(a,
                            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, ADDRESS))))
                    .orElse(null);
        } catch (IllegalArgumentException | IllegalCallerException e) {
            return null;  // no libcuda.so.1 by that name, or native access denied: plain launches
        }
    }

    /** The kernels that call grid_dependency_wait before touching memory other kernels write: the decode step's. */
    static boolean waitsForPredecessor(String kernel) {
        return kernel.startsWith("matvec_") || kernel.startsWith("attention_gqa") || kernel.equals("rmsnorm_split")
                || kernel.equals("qkv_post") || kernel.equals("swiglu");
    }

    /** Queues {@code function} on {@code stream} (raw driver handles) with arguments as {@link Gpu.Stream#launch}. */
    void launch(String name, long function, long stream, int gx, int gy, int gz, int block, Object... args) {
        int rc;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment attribute = a.allocate(ATTRIBUTE_BYTES, 8);
            attribute.set(JAVA_INT, 0, PROGRAMMATIC_STREAM_SERIALIZATION);
            attribute.set(JAVA_INT, 8, 1);  // programmaticStreamSerializationAllowed
            MemorySegment config = a.allocate(CONFIG_BYTES, 8);
            int[] dims = {gx, gy, gz, block, 1, 1, 0};  // grid, block, dynamic shared memory
            for (int i = 0; i < dims.length; i++) {
                config.set(JAVA_INT, 4L * i, dims[i]);
            }
            config.set(JAVA_LONG, 32, stream);
            config.set(ADDRESS, 40, attribute);
            config.set(JAVA_INT, 48, 1);
            MemorySegment params = a.allocate(ADDRESS, args.length);
            for (int i = 0; i < args.length; i++) {
                MemorySegment v = a.allocate(8, 8);
                switch (args[i]) {
                    case Long l -> v.set(JAVA_LONG, 0, l);
                    case Integer n -> v.set(JAVA_INT, 0, n);
                    case Float f -> v.set(JAVA_FLOAT, 0, f);
                    default -> throw new IllegalArgumentException("kernel argument " + args[i]);
                }
                params.setAtIndex(ADDRESS, i, v);
            }
            rc = (int) launchEx.invokeExact(config, MemorySegment.ofAddress(function), params, MemorySegment.NULL);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new GpuException("launch of " + name + " failed: " + t, t);
        }
        if (rc != 0) {
            throw new GpuException("launch of " + name + " (" + gx + "x" + gy + "x" + gz + " blocks of " + block
                    + ", dependent) failed: CUDA error " + rc);
        }
    }
}
