package dev.panamax.gguf;

import java.lang.foreign.MemorySegment;

/**
 * A tensor of a mapped GGUF file: its info and a read-only slice of the mapping (no copy).
 */
public record GgufTensor(TensorInfo info, MemorySegment data) {
    public String name() {
        return info.name();
    }

    public GgmlType type() {
        return info.type();
    }
}
