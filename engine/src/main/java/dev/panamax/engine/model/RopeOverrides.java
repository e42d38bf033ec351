package dev.panamax.engine.model;

/**
 * User overrides of the model's rope parameters (the CLI's --rope-* and --yarn-* options);
 * null means "use the GGUF metadata, else llama.cpp's default".
 */
public record RopeOverrides(Float freqBase, RopeScaling scaling, Float scale, Integer yarnOrigContext,
        Float yarnExtFactor, Float yarnAttnFactor, Float yarnBetaFast, Float yarnBetaSlow) {

    public static final RopeOverrides NONE = new RopeOverrides(null, null, null, null, null, null, null, null);
}
