package dev.panamax.engine.model;

/**
 * Rope angles for one position, following llama.cpp's rope (with YaRN): for pair i,
 * theta_extrap = pos * base^(-2i/dims), theta_interp = freq_scale * theta_extrap, and with YaRN
 * theta = mix of both by a ramp over the correction dimensions, cos/sin scaled by
 * mscale = attn_factor * (1 + 0.1 ln(1/freq_scale)).
 */
public final class RopeTable {
    private final RopeConfig c;
    private final double[] invFreq;
    private final float[] ramp;
    private final float mscale;

    public RopeTable(RopeConfig c) {
        this.c = c;
        int half = c.dims() / 2;
        invFreq = new double[half];
        for (int i = 0; i < half; i++) {
            invFreq[i] = Math.pow(c.freqBase(), -2.0 * i / c.dims());
        }
        ramp = new float[half];
        float ms = c.attnFactor();
        if (c.scaling() == RopeScaling.YARN && c.extFactor() != 0) {
            double[] corr = correctionDims(c);
            for (int i = 0; i < half; i++) {
                double y = (i - corr[0]) / Math.max(0.001, corr[1] - corr[0]);
                ramp[i] = (float) ((1 - Math.min(1, Math.max(0, y))) * c.extFactor());
            }
            ms *= (float) (1 + 0.1 * Math.log(1 / c.freqScale()));
        }
        mscale = ms;
    }

    /** YaRN correction range [low, high] of pair indices (ggml_rope_yarn_corr_dims). */
    static double[] correctionDims(RopeConfig c) {
        double low = Math.floor(corrDim(c, c.betaFast()));
        double high = Math.ceil(corrDim(c, c.betaSlow()));
        return new double[] {Math.max(0, low), Math.min(c.dims() - 1, high)};
    }

    private static double corrDim(RopeConfig c, double rotations) {
        return c.dims() * Math.log(c.origContext() / (rotations * 2 * Math.PI)) / (2 * Math.log(c.freqBase()));
    }

    public int pairs() {
        return invFreq.length;
    }

    public float mscale() {
        return mscale;
    }

    /** Fills cos[off..off+dims/2) and sin[off..off+dims/2) for position {@code pos}. */
    public void angles(int pos, float[] cos, float[] sin, int off) {
        for (int i = 0; i < invFreq.length; i++) {
            double extrap = pos * invFreq[i];
            double theta = c.freqScale() * extrap;
            if (ramp[i] != 0) {
                theta = theta * (1 - ramp[i]) + extrap * ramp[i];
            }
            cos[off + i] = (float) Math.cos(theta) * mscale;
            sin[off + i] = (float) Math.sin(theta) * mscale;
        }
    }
}
