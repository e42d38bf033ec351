package dev.panamax.gpu;

import dev.panamax.gguf.PanamaxException;

/** A device error (out of memory, a failed launch, a driver error), with what was being done. */
public class GpuException extends PanamaxException {
    public GpuException(String message) {
        super(message);
    }

    public GpuException(String message, Throwable cause) {
        super(message, cause);
    }
}
