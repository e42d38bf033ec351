package dev.panamax.engine.generate;

/**
 * Sampling settings, llama.cpp's defaults. temperature <= 0 means greedy; topK <= 0, topP >= 1,
 * minP <= 0, repeatPenalty == 1 and zero frequency/presence penalties disable those stages.
 *
 * @param repeatLastN how many recent tokens the penalties look at (-1: the whole context)
 * @param seed random seed; the same seed gives the same output
 */
public record SamplerConfig(float temperature, int topK, float topP, float minP, float repeatPenalty,
        int repeatLastN, float frequencyPenalty, float presencePenalty, long seed) {

    public static SamplerConfig defaults(long seed) {
        return new SamplerConfig(0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0f, 0f, seed);
    }

    public static SamplerConfig greedy() {
        return new SamplerConfig(0f, 40, 0.95f, 0.05f, 1.0f, 64, 0f, 0f, 0);
    }

    public boolean isGreedy() {
        return temperature <= 0;
    }

    public SamplerConfig withTemperature(float t) {
        return new SamplerConfig(t, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, seed);
    }

    public SamplerConfig withSeed(long s) {
        return new SamplerConfig(temperature, topK, topP, minP, repeatPenalty, repeatLastN, frequencyPenalty, presencePenalty, s);
    }
}
