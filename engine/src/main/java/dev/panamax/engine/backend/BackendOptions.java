package dev.panamax.engine.backend;

/**
 * What the user asked of accelerators.
 *
 * @param disabled --no-gpu
 * @param layers -ngl: layers to offload, or -1 for auto (as many as fit)
 * @param mainDevice --main-gpu
 * @param reserveBytes --vram-reserve: memory left free for the driver and other programs
 * @param limitBytes --vram-limit: pretend the device has at most this much free (0: no limit)
 */
public record BackendOptions(boolean disabled, int layers, int mainDevice, long reserveBytes, long limitBytes) {
    public static final long DEFAULT_RESERVE = 512L << 20;

    public static BackendOptions auto() {
        return new BackendOptions(false, -1, 0, DEFAULT_RESERVE, 0);
    }

    public static BackendOptions cpuOnly() {
        return new BackendOptions(true, 0, 0, DEFAULT_RESERVE, 0);
    }
}
