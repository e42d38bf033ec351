package dev.panamax.gpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.engine.backend.BackendProvider;
import dev.panamax.engine.backend.Backends;
import dev.panamax.engine.backend.Detection;
import java.util.ServiceLoader;
import org.junit.jupiter.api.Test;

/** Detection on a machine without a usable GPU (CI): one clear line, no exception, CPU. */
class DetectionTest {

    @Test
    void serviceLoaderFindsTheCudaProvider() {
        boolean found = false;
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class)) {
            found |= p instanceof CudaBackendProvider && p.name().equals("cuda");
        }
        assertTrue(found, "META-INF/services names CudaBackendProvider");
    }

    @Test
    void withoutAGpuDetectionSaysWhyInOneLine() {
        Detection d = new CudaBackendProvider().detect(BackendOptions.auto());
        if (d.backend().isPresent()) {
            d.backend().get();  // a machine with a GPU: nothing to check here
            return;
        }
        assertTrue(d.message().startsWith("GPU: "), d.message());
        assertTrue(d.message().endsWith("running on the CPU"), d.message());
        assertFalse(d.message().contains("\n"), d.message());
        // asking again gives the same answer (JCuda cannot retry a failed native load)
        assertEquals(d.message(), new CudaBackendProvider().detect(BackendOptions.auto()).message());
    }

    @Test
    void disabledMeansNoDetection() {
        Detection d = Backends.detect(BackendOptions.cpuOnly());
        assertTrue(d.backend().isEmpty());
        assertEquals("GPU: disabled (--no-gpu); running on the CPU", d.message());
    }

    @Test
    void reasonsAreShort() {
        assertEquals("no NVIDIA driver found (libcuda.so.1 is not installed)", CudaBackendProvider.reason(
                new UnsatisfiedLinkError("Error while loading native library \"JCudaDriver\"\n... libcuda.so.1: cannot open"
                        + " shared object file")));
        assertEquals("no CUDA device found", CudaBackendProvider.reason(new RuntimeException("CUDA_ERROR_NO_DEVICE")));
    }
}
