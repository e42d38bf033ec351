package dev.panamax.engine;

import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.RopeOverrides;
import dev.panamax.engine.model.Weights;
import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.gguf.GgufFile;
import dev.panamax.kernels.WorkerPool;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.util.Objects;

/**
 * A model: its mapped GGUF file, configuration and weights. Weights stay in the mapping; one
 * shared arena owns it and everything derived, and closing the model releases all of it.
 */
public final class Model implements AutoCloseable {
    private final Arena arena;
    private final GgufFile file;
    private final ModelConfig config;
    private final Weights weights;
    private Tokenizer tokenizer;

    private Model(Arena arena, GgufFile file, ModelConfig config, Weights weights) {
        this.arena = arena;
        this.file = file;
        this.config = config;
        this.weights = weights;
    }

    public static Model open(Path path, RopeOverrides rope) {
        Arena arena = Arena.ofShared();
        try {
            GgufFile file = GgufFile.open(path, arena);
            ModelConfig config = ModelConfig.from(file, rope);
            Weights weights = Weights.bind(file, config, arena);
            return new Model(arena, file, config, weights);
        } catch (RuntimeException e) {
            arena.close();
            throw e;
        }
    }

    public static Model open(Path path) {
        return open(path, RopeOverrides.NONE);
    }

    public GgufFile file() {
        return file;
    }

    public ModelConfig config() {
        return config;
    }

    public Weights weights() {
        return weights;
    }

    /** The model's tokenizer, built from its metadata on first use. */
    public synchronized Tokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = Tokenizer.fromMetadata(file.metadata());
        }
        return tokenizer;
    }

    /** A short name for messages: general.name, else the file name. */
    public String displayName() {
        return file.metadata().optString("general.name").orElse(file.paths().isEmpty() ? file.name()
                : file.paths().get(0).getFileName().toString());
    }

    public Session newSession(SessionOptions options) {
        return new Session(this, options, null, null);
    }

    /**
     * A session computing on a pool shared with other sessions (of this or other models): concurrent
     * sessions then take turns per parallel loop instead of oversubscribing the cores. The pool's
     * thread count replaces {@code options.threads()}; closing the session leaves the pool open.
     */
    public Session newSession(SessionOptions options, WorkerPool sharedPool) {
        return new Session(this, options, Objects.requireNonNull(sharedPool, "sharedPool"), null);
    }

    /**
     * A session that offloads to {@code backend} (as {@link SessionOptions#backend()} plans) instead of
     * the accelerator found by detection; null means detect as usual.
     */
    public Session newSession(SessionOptions options, dev.panamax.engine.backend.Backend backend) {
        return new Session(this, options, null, Objects.requireNonNull(backend, "backend"));
    }

    @Override
    public void close() {
        arena.close();
    }
}
