package dev.panamax.gguf;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Hints to Linux about mapped memory (madvise), for the model file's mapping here and the engine's
 * anonymous mappings. Hints only: nothing happens on other systems or when the call fails.
 *
 * <p>The model file's mapping asks for 2 MiB pages ({@link #hugePages}): on filesystems with large
 * folios (ext4, xfs on recent kernels) the reads that first fill the page cache then use 2 MiB
 * folios and the mapping maps them whole, so a forward pass over a 9 GB file walks 4,600
 * page-table entries instead of 2.3 million (on a VM each TLB miss is a two-level walk). Pages
 * already cached in 4 KiB folios stay as they are; {@code -Dpanamax.hugePages=false} turns this one
 * off.
 */
public final class PageHints {
    private PageHints() {}

    public static final int MADV_HUGEPAGE = 14;
    public static final int MADV_POPULATE_READ = 22;
    private static final long PAGE = 4096;

    private static final MethodHandle MADVISE = madvise();
    private static final boolean FILE_HUGE_PAGES = Boolean.parseBoolean(System.getProperty("panamax.hugePages", "true"));

    private static MethodHandle madvise() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")) {
            return null;
        }
        try {
            Linker linker = Linker.nativeLinker();
            return linker.downcallHandle(linker.defaultLookup().find("madvise").orElseThrow(),
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.JAVA_INT));
        } catch (RuntimeException e) {
            return null;
        }
    }

    /** madvise {@code advice} over the pages that {@code s} spans; false where unavailable or refused. */
    public static boolean advise(MemorySegment s, int advice) {
        if (MADVISE == null) {
            return false;
        }
        long start = s.address() & ~(PAGE - 1);
        try {
            return (int) MADVISE.invokeExact(MemorySegment.ofAddress(start), s.address() + s.byteSize() - start, advice) == 0;
        } catch (Throwable t) {
            return false;
        }
    }

    static void hugePages(MemorySegment mapped) {
        if (FILE_HUGE_PAGES) {
            advise(mapped, MADV_HUGEPAGE);
        }
    }
}
