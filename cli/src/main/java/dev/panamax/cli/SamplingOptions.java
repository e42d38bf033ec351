package dev.panamax.cli;

import dev.panamax.engine.generate.SamplerConfig;
import dev.panamax.gguf.PanamaxException;
import picocli.CommandLine.Option;

/** Sampling options (llama.cpp's names and defaults). */
final class SamplingOptions {
    @Option(names = "--temp", paramLabel = "T", defaultValue = "0.8", description = "Temperature; 0 = greedy (default: ${DEFAULT-VALUE}).")
    float temperature;

    @Option(names = "--top-k", paramLabel = "N", defaultValue = "40", description = "Top-k; 0 = off (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--top-p", paramLabel = "P", defaultValue = "0.95", description = "Top-p; 1 = off (default: ${DEFAULT-VALUE}).")
    float topP;

    @Option(names = "--min-p", paramLabel = "P", defaultValue = "0.05", description = "Min-p; 0 = off (default: ${DEFAULT-VALUE}).")
    float minP;

    @Option(names = "--repeat-penalty", paramLabel = "F", defaultValue = "1.0", description = "Repetition penalty; 1 = off (default: ${DEFAULT-VALUE}).")
    float repeatPenalty;

    @Option(names = "--repeat-last-n", paramLabel = "N", defaultValue = "64", description = "Tokens the penalties look back at; -1 = all (default: ${DEFAULT-VALUE}).")
    int repeatLastN;

    @Option(names = "--frequency-penalty", paramLabel = "F", defaultValue = "0", description = "Frequency penalty (default: ${DEFAULT-VALUE}).")
    float frequencyPenalty;

    @Option(names = "--presence-penalty", paramLabel = "F", defaultValue = "0", description = "Presence penalty (default: ${DEFAULT-VALUE}).")
    float presencePenalty;

    @Option(names = {"-s", "--seed"}, paramLabel = "N", defaultValue = "-1", description = "Random seed; -1 = random (default: ${DEFAULT-VALUE}).")
    long seed;

    SamplerConfig config() {
        if (!(topP > 0 && topP <= 1)) {
            throw new PanamaxException("--top-p must be in (0, 1], got " + topP);
        }
        if (minP < 0 || minP > 1) {
            throw new PanamaxException("--min-p must be in [0, 1], got " + minP);
        }
        if (repeatPenalty <= 0) {
            throw new PanamaxException("--repeat-penalty must be positive, got " + repeatPenalty);
        }
        long s = seed == -1 ? System.nanoTime() ^ 0x9E3779B97F4A7C15L : seed;
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty,
                presencePenalty, s);
    }
}
