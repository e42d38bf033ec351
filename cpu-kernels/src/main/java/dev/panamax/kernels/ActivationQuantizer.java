package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;
import static dev.panamax.kernels.VectorShapes.I32;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Quantizes activations to the int8 block forms of {@link Activations}. Q8_K follows ggml's
 * reference quantize_row_q8_K exactly; Q8_0 keeps its scale as a float (more precise than ggml's
 * fp16 activation scale).
 */
final class ActivationQuantizer {
    private ActivationQuantizer() {}

    /**
     * Q8_0 form of x[off .. off+n): one float scale and one int sum per 32 values, each value
     * {@code Math.round(x * (127 / amax))}. Vectorized: the rounding is Math.round's (ties toward
     * positive infinity) from a truncating conversion and the exact remainder (|x * id| <= 127, so
     * x * id minus its truncation is exact in float).
     */
    static void q8_0(float[] x, int off, int n, byte[] q, float[] scale, int[] sum) {
        for (int b = 0; b < n / 32; b++) {
            int base = off + b * 32;
            float d = absMax(x, base, 32) / 127f;
            float id = d != 0 ? 1f / d : 0f;
            scale[base / 32] = d;
            if (Float.isInfinite(id) || F32.length() < 8) {
                // a subnormal maximum: x * id overflows, which the vector rounding does not follow;
                // at 128 bits a vector's four bytes are no byte species
                sum[base / 32] = q8_0Scalar(x, base, id, q);
                continue;
            }
            FloatVector idv = FloatVector.broadcast(F32, id);
            IntVector s = IntVector.zero(I32);
            for (int j = 0; j < 32; j += F32.length()) {
                FloatVector v = FloatVector.fromArray(F32, x, base + j).mul(idv);
                IntVector t = (IntVector) v.convertShape(VectorOperators.F2I, I32, 0);
                FloatVector frac = v.sub((FloatVector) t.convertShape(VectorOperators.I2F, F32, 0));
                IntVector r = t.add(1, frac.compare(VectorOperators.GE, 0.5f).cast(I32))
                        .sub(1, frac.compare(VectorOperators.LT, -0.5f).cast(I32));
                s = s.add(r);
                ((ByteVector) r.convertShape(VectorOperators.I2B, Q_BYTES, 0)).intoArray(q, base + j);
            }
            sum[base / 32] = s.reduceLanes(VectorOperators.ADD);
        }
    }

    /** The largest |x| of x[from .. from+n) (n a multiple of the lanes; NaN if one is NaN). */
    private static float absMax(float[] x, int from, int n) {
        FloatVector m = FloatVector.zero(F32);
        for (int j = from; j < from + n; j += F32.length()) {
            m = m.max(FloatVector.fromArray(F32, x, j).abs());
        }
        return m.reduceLanes(VectorOperators.MAX);
    }

    /** Bytes as many as {@link VectorShapes#F32} has lanes (at least 8): one vector's rounded values narrowed. */
    private static final VectorSpecies<Byte> Q_BYTES = VectorSpecies.of(byte.class,
            VectorShape.forBitSize(Math.max(64, F32.length() * 8)));

    /** One block the plain way: {@code Math.round(x * id)}; returns the block's sum. */
    static int q8_0Scalar(float[] x, int base, float id, byte[] q) {
        int s = 0;
        for (int j = 0; j < 32; j++) {
            int v = Math.round(x[base + j] * id);
            q[base + j] = (byte) v;
            s += v;
        }
        return s;
    }

    /**
     * ggml's Q8_K: d = max/-127 of the signed value with largest magnitude (the first of them),
     * each value {@code min(127, rint(x * -127 / max))}, sums per 16. Vectorized as {@link #q8_0}:
     * rint (ties to even) from a truncating conversion and the exact remainder.
     */
    static void q8_K(float[] x, int off, int n, byte[] q, float[] scale, int[] sum16) {
        int lanes = F32.length();
        for (int b = 0; b < n / 256; b++) {
            int base = off + b * 256;
            float amax = absMax(x, base, 256);
            if (!(amax > 0) || lanes < 8) {
                // an all-zero block, a NaN (the scalar scan skips it), or 128-bit vectors (four
                // bytes are no byte species): the plain way
                q8_KScalar(x, base, q, scale, sum16);
                continue;
            }
            float max = 0;
            for (int j = 0; j < 256; j += lanes) {
                FloatVector v = FloatVector.fromArray(F32, x, base + j);
                VectorMask<Float> at = v.abs().compare(VectorOperators.EQ, amax);
                if (at.anyTrue()) {
                    max = v.lane(at.firstTrue());
                    break;
                }
            }
            float iscale = -127f / max;
            if (Float.isInfinite(iscale)) {
                // a subnormal maximum: x * iscale overflows, which the vector rounding does not follow
                q8_KScalar(x, base, q, scale, sum16);
                continue;
            }
            FloatVector is = FloatVector.broadcast(F32, iscale);
            for (int g = 0; g < 16; g++) {
                IntVector s = IntVector.zero(I32);
                for (int j = 16 * g; j < 16 * g + 16; j += lanes) {
                    FloatVector v = FloatVector.fromArray(F32, x, base + j).mul(is);
                    IntVector t = (IntVector) v.convertShape(VectorOperators.F2I, I32, 0);
                    FloatVector frac = v.sub((FloatVector) t.convertShape(VectorOperators.I2F, F32, 0));
                    VectorMask<Integer> odd = t.and(1).compare(VectorOperators.NE, 0);
                    VectorMask<Integer> up = frac.compare(VectorOperators.GT, 0.5f).cast(I32)
                            .or(frac.compare(VectorOperators.EQ, 0.5f).cast(I32).and(odd));
                    VectorMask<Integer> down = frac.compare(VectorOperators.LT, -0.5f).cast(I32)
                            .or(frac.compare(VectorOperators.EQ, -0.5f).cast(I32).and(odd));
                    IntVector r = t.add(1, up).sub(1, down).min(127);
                    s = s.add(r);
                    ((ByteVector) r.convertShape(VectorOperators.I2B, Q_BYTES, 0)).intoArray(q, base + j);
                }
                sum16[base / 16 + g] = s.reduceLanes(VectorOperators.ADD);
            }
            scale[base / 256] = 1 / iscale;
        }
    }

    /** One Q8_K super-block the plain way (ggml's quantize_row_q8_K_ref). */
    static void q8_KScalar(float[] x, int base, byte[] q, float[] scale, int[] sum16) {
        float max = QuantMath.largestMagnitude(x, base, 256);
        if (max == 0) {
            scale[base / 256] = 0;
            java.util.Arrays.fill(q, base, base + 256, (byte) 0);
            java.util.Arrays.fill(sum16, base / 16, base / 16 + 16, 0);
            return;
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
