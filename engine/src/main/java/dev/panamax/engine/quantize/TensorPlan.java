package dev.panamax.engine.quantize;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.TensorInfo;

/** The decision for one tensor: its input, its output type and why. */
public record TensorPlan(TensorInfo input, GgmlType outputType, String reason) {
    public boolean converts() {
        return input.type() != outputType;
    }

    public long outputBytes() {
        return outputType.bytesFor(input.elementCount());
    }
}
