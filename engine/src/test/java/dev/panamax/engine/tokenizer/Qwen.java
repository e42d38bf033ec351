package dev.panamax.engine.tokenizer;

import dev.panamax.gguf.Metadata;
import dev.panamax.gguf.MetadataValue;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;

/** The real Qwen tokenizer in ../shared/data/qwen-tokenizer, converted once per test JVM. */
final class Qwen {
    private Qwen() {}

    private static Map<String, MetadataValue> metadata;
    private static Tokenizer tokenizer;

    static Path dir() {
        String shared = System.getProperty("panamax.sharedData");
        Path p = shared != null ? Path.of(shared, "qwen-tokenizer") : Path.of("../../shared/data/qwen-tokenizer");
        Assumptions.assumeTrue(Files.isRegularFile(p.resolve("tokenizer.json")),
                "Qwen tokenizer not found at " + p.toAbsolutePath());
        return p;
    }

    static Path tokenizerJson() {
        return dir().resolve("tokenizer.json");
    }

    static synchronized Map<String, MetadataValue> metadata() {
        if (metadata == null) {
            metadata = HfTokenizerJson.readDirectory(dir());
        }
        return metadata;
    }

    static synchronized Tokenizer tokenizer() {
        if (tokenizer == null) {
            tokenizer = Tokenizer.fromMetadata(new Metadata("qwen tokenizer.json", metadata()));
        }
        return tokenizer;
    }

    /** The Qwen vocabulary with other settings (e.g. another tokenizer.ggml.pre). */
    static Tokenizer with(Map<String, MetadataValue> overrides) {
        Map<String, MetadataValue> m = new LinkedHashMap<>(metadata());
        m.putAll(overrides);
        return Tokenizer.fromMetadata(new Metadata("qwen variant", m));
    }
}
