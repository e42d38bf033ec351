package dev.panamax.gguf;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.util.Locale;

/**
 * Asks Linux to back a mapped model file with 2 MiB pages where it can (MADV_HUGEPAGE): on
 * filesystems with large folios (ext4, xfs on recent kernels) the reads that first fill the page
 * cache then use 2 MiB folios and the mapping maps them whole, so a forward pass over a 9 GB file
 * walks 4,600 page-table entries instead of 2.3 million (on a VM each TLB miss is a two-level walk).
 * Pages already cached in 4 KiB folios stay as they are. A hint: nothing happens elsewhere or on
 * failure, and {@code -Dpanamax.hugePages=false} turns it off.
 */
final class PageHints {
    private PageHints() {}

    private static final int MADV_HUGEPAGE = 14;
    private static final MethodHandle MADVISE = madvise();

    private static MethodHandle madvise() {
        if (!System.getProperty("os.name", "").toLowerCase(Locale.ROOT).startsWith("linux")
                || !Boolean.parseBoolean(System.getProperty("panamax.hugePages", "true"))) {
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

    static void hugePages(MemorySegment mapped) {
        if (MADVISE == null) {
            return;
        }
        try {
            int ignored = (int) MADVISE.invokeExact(MemorySegment.ofAddress(mapped.address()), mapped.byteSize(), MADV_HUGEPAGE);
        } catch (Throwable t) {
            // only a hint
        }
    }
}
