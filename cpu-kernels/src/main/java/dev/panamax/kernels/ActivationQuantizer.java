package dev.panamax.kernels;

/**
 * Quantizes activations to the int8 block forms of {@link Activations}. Q8_K follows ggml's
 * reference quantize_row_q8_K exactly; Q8_0 keeps its scale as a float (more precise than ggml's
 * fp16 activation scale).
 */
final class ActivationQuantizer {
    private ActivationQuantizer() {}

    /** Q8_0 form of x[off .. off+n): one float scale and one int sum per 32 values. */
    static void q8_0(float[] x, int off, int n, byte[] q, float[] scale, int[] sum) {
        for (int b = 0; b < n / 32; b++) {
            int base = off + b * 32;
            float amax = 0;
            for (int j = 0; j < 32; j++) {
                amax = Math.max(amax, Math.abs(x[base + j]));
            }
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            int s = 0;
            for (int j = 0; j < 32; j++) {
                int v = Math.round(x[base + j] * id);
                q[base + j] = (byte) v;
                s += v;
            }
            scale[base / 32] = d;
            sum[base / 32] = s;
        }
    }

    /** ggml's Q8_K: d = max/-127 of the signed value with largest magnitude, sums per 16. */
    static void q8_K(float[] x, int off, int n, byte[] q, float[] scale, int[] sum16) {
        for (int b = 0; b < n / 256; b++) {
            int base = off + b * 256;
            float max = 0;
            float amax = 0;
            for (int j = 0; j < 256; j++) {
                float ax = Math.abs(x[base + j]);
                if (ax > amax) {
                    amax = ax;
                    max = x[base + j];
                }
            }
            if (amax == 0) {
                scale[base / 256] = 0;
                for (int j = 0; j < 256; j++) {
                    q[base + j] = 0;
                }
                for (int g = 0; g < 16; g++) {
                    sum16[base / 16 + g] = 0;
                }
                continue;
            }
            float iscale = -127f / max;
            for (int j = 0; j < 256; j++) {
                int v = (int) Math.rint(iscale * x[base + j]);
                q[base + j] = (byte) Math.min(127, v);
            }
            for (int g = 0; g < 16; g++) {
                int s = 0;
                for (int j = 0; j < 16; j++) {
                    s += q[base + g * 16 + j];
                }
                sum16[base / 16 + g] = s;
            }
            scale[base / 256] = 1 / iscale;
        }
    }
}
