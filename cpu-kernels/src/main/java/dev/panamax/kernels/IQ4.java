package dev.panamax.kernels;

import java.lang.foreign.MemorySegment;

/**
 * The non-linear 4-bit grid shared by IQ4_NL and IQ4_XS, and llama.cpp's reference search for
 * them (quantize_row_iq4_nl_impl without an importance matrix).
 */
final class IQ4 {
    private IQ4() {}

    /** ggml's kvalues_iq4nl, sorted. */
    static final byte[] VALUES = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

    /** ggml's GROUP_MAX_EPS: a sub-block with a smaller largest magnitude counts as all zero. */
    private static final float GROUP_MAX_EPS = 1e-15f;

    /**
     * Index of the grid value nearest to {@code x}; a midpoint picks the upper value. Compares
     * 2x with the (exact, integer) sum of neighbours, as ggml's best_index_int8 does.
     */
    static int bestIndex(float x) {
        float x2 = x + x;
        int idx = 0;
        for (int step = 8; step > 0; step >>= 1) {
            int j = idx + step;
            if (x2 >= (float) (VALUES[j - 1] + VALUES[j])) {
                idx = j;
            }
        }
        return idx;
    }

    /**
     * Quantizes {@code superBlock} values (32 for IQ4_NL, 256 for IQ4_XS) in sub-blocks of 32.
     * Writes the fp16 scale at {@code dOff}, the nibbles (16 bytes per 32 values: low nibble value
     * j, high nibble value j+16) at {@code qsOff} and, for super-blocks, the 6-bit sub-block
     * scales at {@code scalesHOff} (u16) and {@code scalesLOff} (4 bytes).
     *
     * @param ntry the scale search range: 7 for both types (llama.cpp's quantize_iq4_nl and
     *     quantize_iq4_xs; the golden vectors were made so). Newer llama.cpp's
     *     quantize_row_iq4_nl_ref passes -1 (no search, quants from the first pass).
     */
    static void quantize(float[] x, int xo, int superBlock, int ntry, MemorySegment dst, long dOff, long qsOff,
            long scalesHOff, long scalesLOff) {
        int nb = superBlock / 32;
        float[] scales = new float[nb];
        float[] weight = new float[32];
        byte[] lq = new byte[superBlock];
        float maxScale = 0;
        float amaxScale = 0;
        for (int ib = 0; ib < nb; ib++) {
            int xb = xo + 32 * ib;
            for (int j = 0; j < 32; j++) {
                weight[j] = x[xb + j] * x[xb + j];
            }
            float max = QuantMath.largestMagnitude(x, xb, 32);
            if (Math.abs(max) < GROUP_MAX_EPS) {
                scales[ib] = 0;
                continue; // lq stays 0 for this sub-block
            }
            float d = ntry > 0 ? -max / VALUES[0] : max / VALUES[0];
            float id = 1 / d;
            float sumqx = 0;
            float sumq2 = 0;
            for (int j = 0; j < 32; j++) {
                float al = id * x[xb + j];
                int l = bestIndex(al);
                lq[32 * ib + j] = (byte) l;
                float q = VALUES[l];
                float w = weight[j];
                sumqx += w * q * x[xb + j];
                sumq2 += w * q * q;
            }
            d = sumq2 > 0 ? sumqx / sumq2 : 0f;
            float best = d * sumqx;
            for (int itry = -ntry; itry <= ntry; itry++) {
                id = (itry + VALUES[0]) / max;
                sumqx = 0;
                sumq2 = 0;
                for (int j = 0; j < 32; j++) {
                    float al = id * x[xb + j];
                    int l = bestIndex(al);
                    float q = VALUES[l];
                    float w = weight[j];
                    sumqx += w * q * x[xb + j];
                    sumq2 += w * q * q;
                }
                if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
                    d = sumqx / sumq2;
                    best = d * sumqx;
                }
            }
            scales[ib] = d;
            float absD = Math.abs(d);
            if (absD > amaxScale) {
                amaxScale = absD;
                maxScale = d;
            }
        }

        if (nb > 1) {
            int scalesH = 0;
            float d = -maxScale / 32;
            QuantMath.putFp16(dst, dOff, d);
            float id = d != 0 ? 1 / d : 0f;
            for (int ib = 0; ib < nb; ib++) {
                int l = QuantMath.nearestInt(id * scales[ib]);
                l = Math.max(-32, Math.min(31, l));
                float dl = d * l;
                float idl = dl != 0 ? 1 / dl : 0f;
                int xb = xo + 32 * ib;
                for (int j = 0; j < 32; j++) {
                    lq[32 * ib + j] = (byte) bestIndex(idl * x[xb + j]);
                }
                l += 32;
                int ll = l & 0xF;
                int lh = l >> 4;
                long sl = scalesLOff + ib / 2;
                if (ib % 2 == 0) {
                    dst.set(java.lang.foreign.ValueLayout.JAVA_BYTE, sl, (byte) ll);
                } else {
                    dst.set(java.lang.foreign.ValueLayout.JAVA_BYTE, sl, (byte) (QuantMath.u8(dst, sl) | ll << 4));
                }
                scalesH |= lh << (2 * ib);
            }
            dst.set(QuantMath.SHORT_LE, scalesHOff, (short) scalesH);
        } else {
            QuantMath.putFp16(dst, dOff, scales[0]);
            if (ntry > 0) {
                float id = scales[0] != 0 ? 1 / scales[0] : 0;
                for (int j = 0; j < superBlock; j++) {
                    lq[j] = (byte) bestIndex(id * x[xo + j]);
                }
            }
        }
        for (int i = 0; i < superBlock / 32; i++) {
            for (int j = 0; j < 16; j++) {
                dst.set(java.lang.foreign.ValueLayout.JAVA_BYTE, qsOff + 16 * i + j,
                        (byte) (lq[32 * i + j] | lq[32 * i + 16 + j] << 4));
            }
        }
    }
}
