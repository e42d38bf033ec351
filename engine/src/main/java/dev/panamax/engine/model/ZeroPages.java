package dev.panamax.engine.model;

import dev.panamax.gguf.PageHints;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.List;

/**
 * Zero-filled off-heap memory that the operating system hands out page by page on first touch: an
 * anonymous private mapping (Linux), unmapped when its arena closes. {@link Arena#allocate} zeroes
 * the whole block up front: for a 14B model's KV cache (1.6 GB at 8K positions) that was 3 s of
 * page faults before the first prompt token on a VM, and all of it resident for a chat that used
 * a tenth. Mapped, only the pages the positions in use touch are faulted in (and count in RSS);
 * the kernel still refuses a mapping that cannot fit at all, so a hopeless size fails up front.
 * Transparent huge pages are requested where the kernel offers them on request (fewer faults and
 * TLB misses for attention streaming the cache). Elsewhere (no mmap, other systems) it falls back
 * to {@link Arena#allocate}.
 */
final class ZeroPages {
    private ZeroPages() {}

    private static final int PROT_READ_WRITE = 0x1 | 0x2;
    private static final int MAP_PRIVATE_ANONYMOUS = 0x02 | 0x20;
    private static final long HUGE_PAGE = 2L << 20;

    private static final MethodHandle MMAP;
    private static final MethodHandle MUNMAP;

    static {
        MethodHandle mmap = null;
        MethodHandle munmap = null;
        if (System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).startsWith("linux")) {
            try {
                Linker linker = Linker.nativeLinker();
                var libc = linker.defaultLookup();
                mmap = linker.downcallHandle(libc.find("mmap").orElseThrow(), FunctionDescriptor.of(ValueLayout.ADDRESS,
                        ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT,
                        ValueLayout.JAVA_INT, ValueLayout.JAVA_LONG));
                munmap = linker.downcallHandle(libc.find("munmap").orElseThrow(),
                        FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG));
            } catch (RuntimeException e) {
                mmap = null;
            }
        }
        MMAP = mmap;
        MUNMAP = munmap;
    }

    /**
     * {@code bytes} of zeroes aligned to 64 bytes, freed when {@code arena} closes.
     *
     * @throws OutOfMemoryError when the system cannot provide them
     */
    static MemorySegment allocate(Arena arena, long bytes) {
        if (MMAP == null || bytes < HUGE_PAGE) {
            return arena.allocate(bytes, 64);
        }
        MemorySegment address;
        try {
            address = (MemorySegment) MMAP.invokeExact(MemorySegment.NULL, bytes, PROT_READ_WRITE,
                    MAP_PRIVATE_ANONYMOUS, -1, 0L);
        } catch (Throwable t) {
            return arena.allocate(bytes, 64);
        }
        if (address.address() == -1L) {
            throw new OutOfMemoryError("mmap of " + bytes + " bytes failed");
        }
        PageHints.advise(address.reinterpret(bytes), PageHints.MADV_HUGEPAGE);
        return address.reinterpret(bytes, arena, s -> unmap(s, bytes));
    }

    /**
     * Has the system fill in the page tables of a mapped file range ahead of its first use
     * (MADV_POPULATE_READ), then reads a byte of each 4 KiB page, on a daemon thread, range after
     * range in the given order, skipping ranges whose arena has closed. A model's first prompt
     * otherwise takes a page fault per 64 KiB of weights as it reaches them (about 300,000 for a 14B
     * file, seconds of system time on a VM). The reads: on this project's VMs (shadow page tables)
     * a page's first access still cost about 1.3 us after the populate, 2.7 s for a 14B file, which
     * the first prompt paid with both workers stalled (a 1-token prompt 2.8-3.2 s, later tokens
     * 0.5 s); touched here, it overlaps the kernel warm-up instead. A second touch costs 30 ns a
     * page, so elsewhere this is cheap. A hint: on failure it stops.
     */
    static void populateAsync(List<MemorySegment> ranges) {
        if (ranges.isEmpty()) {
            return;
        }
        Touched touched = new Touched();
        Thread.ofPlatform().daemon().name("panamax-prefault").start(() -> {
            long sum = 0;
            for (MemorySegment r : ranges) {
                if (!r.scope().isAlive()) {
                    return;
                }
                PageHints.advise(r, PageHints.MADV_POPULATE_READ);
                try {
                    for (long off = (4096 - (r.address() & 4095L)) & 4095L; off < r.byteSize(); off += 4096) {
                        sum += r.get(ValueLayout.JAVA_BYTE, off);
                    }
                } catch (IllegalStateException e) {
                    return; // the arena closed meanwhile: only a hint
                }
            }
            touched.sum = sum;
        });
    }

    /** Where the touching reads' sum goes, so that the JIT keeps the reads. */
    private static final class Touched {
        volatile long sum;
    }

    private static void unmap(MemorySegment s, long bytes) {
        try {
            int ignored = (int) MUNMAP.invokeExact(s, bytes);
        } catch (Throwable t) {
            throw new IllegalStateException("munmap failed", t);
        }
    }
}
