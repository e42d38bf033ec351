package dev.panamax.gpu;

import java.lang.foreign.MemorySegment;

/**
 * The device operations the CUDA backend needs: JCuda's driver API on a real GPU
 * ({@link JcudaGpu}), or a CPU emulator of the same kernels in tests. Device memory is addressed by
 * plain {@code long} device addresses; kernel arguments are {@code Long} (pointers), {@code Integer}
 * and {@code Float}. Calls are made with the device's context current on the calling thread
 * ({@link #makeCurrent()}).
 */
public interface Gpu extends AutoCloseable {

    /** e.g. "NVIDIA H100 80GB HBM3". */
    String name();

    /** Compute capability as major*10 + minor, e.g. 90. */
    int capability();

    /** Streaming multiprocessors (132 on an H100 SXM): how many blocks run side by side. */
    int multiprocessors();

    long totalBytes();

    long freeBytes();

    /** Makes this device's context current on the calling thread. */
    void makeCurrent();

    /** Device memory, at least 256-byte aligned; throws {@link GpuException} when the device is full. */
    long alloc(long bytes);

    void free(long address);

    /** Synchronous copy from any host memory (a mapped file slice, too) to the device. */
    void upload(long dst, MemorySegment src);

    /** Synchronous copy from the device into host memory. */
    void download(MemorySegment dst, long src);

    /** Page-locked host memory for asynchronous copies; released by {@link #freeHost}. */
    MemorySegment allocHost(long bytes);

    void freeHost(MemorySegment host);

    /** A kernel of the Panamax module by name. */
    Kernel kernel(String name);

    /** A new stream (queue of copies and launches). */
    Stream stream();

    @Override
    void close();

    /** A function of the loaded module. */
    interface Kernel {
        String name();
    }

    /** An in-order queue of work on the device. */
    interface Stream extends AutoCloseable {
        /** Queues a copy from page-locked host memory ({@link #allocHost}) to the device. */
        void upload(long dst, MemorySegment host, long bytes);

        /** Queues a copy from the device to page-locked host memory. */
        void download(MemorySegment host, long src, long bytes);

        void memset(long dst, long bytes);

        /** Queues a kernel over a grid of blocks of {@code block} threads. */
        void launch(Kernel k, int gx, int gy, int gz, int block, Object... args);

        /** Waits until everything queued has run. */
        void synchronize();

        /** Starts recording the queued work into a graph instead of running it. */
        void beginCapture();

        /** Stops recording; the graph replays the recorded work with {@link Graph#launch}. */
        Graph endCapture();

        /** Queues a timestamp (a CUDA event): profiles measure device time between two marks. */
        Gpu.Mark mark();

        /**
         * Queues a wait: what is queued after it runs once the stream of {@code m} has passed that
         * mark. Forks work onto a second stream and joins it back, also while recording a graph (the
         * second stream's work becomes a parallel branch of the graph).
         */
        void waitFor(Gpu.Mark m);

        @Override
        void close();
    }

    /** A point in a stream's work. */
    interface Mark extends AutoCloseable {
        /** Device milliseconds from {@code earlier} to this mark, once the stream has passed both. */
        float millisSince(Mark earlier);

        /** Blocks until the stream has passed this mark (the work queued before it is done). */
        void await();

        @Override
        void close();
    }

    /** Recorded work that can be replayed on the stream it was recorded from. */
    interface Graph extends AutoCloseable {
        void launch();

        @Override
        void close();
    }
}
