package dev.panamax.gpu;

import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.engine.backend.BackendProvider;
import dev.panamax.engine.backend.Detection;
import java.util.Locale;

/**
 * Finds an NVIDIA GPU through JCuda's driver API. Without JCuda's native library for this platform,
 * without an NVIDIA driver, or without a device, detection says so in one line and the engine runs
 * on the CPU; it never throws. Set {@code -Dpanamax.cuda.graphs=false} to launch decode steps
 * kernel by kernel instead of replaying a recorded graph.
 */
public final class CudaBackendProvider implements BackendProvider {
    /** Why the first detection in this process failed (JCuda's classes cannot retry a failed load). */
    private static volatile String failure;

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public Detection detect(BackendOptions options) {
        if (options.disabled()) {
            return Detection.none("GPU: disabled (--no-gpu); running on the CPU");
        }
        if (failure != null) {
            return Detection.none(failure);
        }
        try {
            JcudaGpu gpu = JcudaGpu.open(options.mainDevice());
            boolean graphs = !"false".equalsIgnoreCase(System.getProperty("panamax.cuda.graphs"));
            CudaBackend b = new CudaBackend(gpu, graphs);
            return Detection.found(b, String.format(Locale.ROOT, "GPU: %s, driver %s", b.device(), gpu.driverVersion()));
        } catch (Throwable e) {
            String why = "GPU: " + reason(e) + "; running on the CPU";
            if (e instanceof LinkageError) {
                failure = why;
            }
            return Detection.none(why);
        }
    }

    /** One line for why no GPU can be used. */
    static String reason(Throwable e) {
        String m = String.valueOf(e.getMessage());
        if (e instanceof UnsatisfiedLinkError || e instanceof NoClassDefFoundError
                || e instanceof ExceptionInInitializerError) {
            if (m.contains("libcuda")) {
                return "no NVIDIA driver found (libcuda.so.1 is not installed)";
            }
            return "JCuda's native library could not be loaded on " + System.getProperty("os.name") + "/"
                    + System.getProperty("os.arch") + " (" + firstLine(m) + ")";
        }
        if (m.contains("CUDA_ERROR_NO_DEVICE")) {
            return "no CUDA device found";
        }
        if (m.contains("CUDA_ERROR_INSUFFICIENT_DRIVER")) {
            return "the NVIDIA driver is too old for CUDA 12";
        }
        return "CUDA unavailable (" + firstLine(m) + ")";
    }

    private static String firstLine(String s) {
        int nl = s.indexOf('\n');
        String f = (nl < 0 ? s : s.substring(0, nl)).strip();
        return f.length() > 160 ? f.substring(0, 160) + "..." : f;
    }
}
