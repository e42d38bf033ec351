package dev.panamax.engine.model;

/**
 * Rotary position embedding parameters, as llama.cpp names them.
 *
 * @param dims rotated dimensions per head (n_rot; usually the head size)
 * @param freqBase theta base
 * @param scaling none, linear or YaRN
 * @param freqScale 1 / rope scale factor
 * @param origContext the context the model was trained on (YaRN)
 * @param extFactor YaRN extrapolation mix factor (0 disables the ramp)
 * @param attnFactor YaRN magnitude factor
 * @param betaFast YaRN low correction dimension parameter
 * @param betaSlow YaRN high correction dimension parameter
 */
public record RopeConfig(int dims, float freqBase, RopeScaling scaling, float freqScale, int origContext,
        float extFactor, float attnFactor, float betaFast, float betaSlow) {

    public static RopeConfig plain(int dims, float freqBase) {
        return new RopeConfig(dims, freqBase, RopeScaling.NONE, 1f, 0, 0f, 1f, 32f, 1f);
    }
}
