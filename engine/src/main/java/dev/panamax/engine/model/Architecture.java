package dev.panamax.engine.model;

import dev.panamax.gguf.PanamaxException;
import java.util.Arrays;

/**
 * The decoder-only architectures Panamax runs. They differ by data, not by code: the rope
 * layout, and which optional tensors (biases, q/k norms, an untied output) are present.
 */
public enum Architecture {
    /** Qwen2 / DeepSeek-R1-Distill-Qwen: q/k/v biases, NEOX rope. */
    QWEN2("qwen2", RopeLayout.NEOX),
    /** Qwen3: per-head q/k RMS norms, no biases, usually tied embeddings, NEOX rope. */
    QWEN3("qwen3", RopeLayout.NEOX),
    /** Llama 2/3: interleaved-pair rope. */
    LLAMA("llama", RopeLayout.NORMAL);

    /** How rope pairs dimensions: NORMAL rotates (2i, 2i+1), NEOX rotates (i, i + n/2). */
    public enum RopeLayout { NORMAL, NEOX }

    private final String ggufName;
    private final RopeLayout ropeLayout;

    Architecture(String ggufName, RopeLayout ropeLayout) {
        this.ggufName = ggufName;
        this.ropeLayout = ropeLayout;
    }

    /** The value of general.architecture, also the prefix of its hyper-parameter keys. */
    public String ggufName() {
        return ggufName;
    }

    public RopeLayout ropeLayout() {
        return ropeLayout;
    }

    public static Architecture fromGguf(String source, String name) {
        for (Architecture a : values()) {
            if (a.ggufName.equals(name)) {
                return a;
            }
        }
        throw new PanamaxException(source + ": architecture '" + name + "' is not supported (supported: "
                + Arrays.stream(values()).map(Architecture::ggufName).toList() + ")");
    }
}
