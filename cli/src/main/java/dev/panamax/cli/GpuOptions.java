package dev.panamax.cli;

import dev.panamax.engine.Session;
import dev.panamax.engine.backend.BackendOptions;
import dev.panamax.gguf.PanamaxException;
import java.io.PrintWriter;
import java.util.Locale;
import picocli.CommandLine.Option;

/**
 * GPU offload options (llama.cpp's names where they exist), shared by every command that runs a
 * model: add {@code @Mixin GpuOptions gpu;}, pass {@link #backendOptions()} into the session options,
 * and print {@link #report} once the session exists.
 */
final class GpuOptions {
    @Option(names = {"-ngl", "--gpu-layers", "--n-gpu-layers"}, paramLabel = "N|auto", defaultValue = "auto",
            description = "Layers to run on the GPU (the last ones, with the output head); auto: as many as fit"
                    + " (default: ${DEFAULT-VALUE}).")
    String gpuLayers;

    @Option(names = "--no-gpu", description = "Run on the CPU even when a GPU is found.")
    boolean noGpu;

    @Option(names = {"-mg", "--main-gpu"}, paramLabel = "I", defaultValue = "0",
            description = "Index of the GPU to use (default: ${DEFAULT-VALUE}).")
    int mainGpu;

    @Option(names = "--vram-reserve", paramLabel = "MiB", defaultValue = "512",
            description = "GPU memory left free for the driver and other programs, in MiB or with a unit"
                    + " (default: ${DEFAULT-VALUE}).")
    String reserve;

    @Option(names = "--vram-limit", paramLabel = "MiB",
            description = "Use at most this much GPU memory, in MiB or with a unit such as 6GiB (to try partial"
                    + " offload on a big card).")
    String limit;

    BackendOptions backendOptions() {
        int layers = parseLayers(gpuLayers);
        if (mainGpu < 0) {
            throw new PanamaxException("--main-gpu must be 0 or more, got " + mainGpu);
        }
        long reserveBytes = mebibytes("--vram-reserve", reserve);
        long limitBytes = limit == null ? 0 : mebibytes("--vram-limit", limit);
        if (limit != null && limitBytes <= 0) {
            throw new PanamaxException("--vram-limit must be positive, got '" + limit + "'");
        }
        return new BackendOptions(noGpu, layers, mainGpu, reserveBytes, limitBytes);
    }

    /** -ngl: a count, or auto (-1). */
    static int parseLayers(String s) {
        if (s.strip().equalsIgnoreCase("auto")) {
            return -1;
        }
        try {
            int n = Integer.parseInt(s.strip());
            if (n < 0) {
                throw new NumberFormatException();
            }
            return n;
        } catch (NumberFormatException e) {
            throw new PanamaxException("-ngl: expected a layer count or 'auto', got '" + s + "'");
        }
    }

    /** A size in MiB ("6144") or with a unit ("6GiB", "512MiB"). */
    static long mebibytes(String option, String s) {
        String t = s.strip();
        if (t.matches("[0-9]+(\\.[0-9]+)?")) {
            return (long) (Double.parseDouble(t) * (1 << 20));
        }
        return PlanCommand.parseSize(option, t.toLowerCase(Locale.ROOT));
    }

    /** Prints where the layers run (one line on standard error). */
    static void report(Session session, PrintWriter err) {
        err.println(session.backendSummary());
        err.flush();
    }
}
