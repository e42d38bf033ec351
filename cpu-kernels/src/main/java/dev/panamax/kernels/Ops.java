package dev.panamax.kernels;

import static dev.panamax.kernels.VectorShapes.F32;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorOperators;
import jdk.incubator.vector.VectorShuffle;

/**
 * Element-wise and reduction operations on float activations (RMSNorm, residuals, SwiGLU,
 * softmax, rope), vectorized once against {@link VectorShapes#F32} with scalar tails. Weight
 * vectors (norms, biases) are read straight from their little-endian F32 segments.
 */
public final class Ops {
    private static final int L = F32.length();
    /** Lane i to i ^ 8 (16-lane F32 only), i ^ 4 (8+ lanes), i ^ 2, i ^ 1: {@link #dot}'s in-place lane sum (see Int8Dot.FOLD4). */
    private static final VectorShuffle<Float> FOLD8 = VectorShuffle.fromOp(F32, i -> (i ^ 8) % L);
    private static final VectorShuffle<Float> FOLD4 = VectorShuffle.fromOp(F32, i -> (i ^ 4) % L);
    private static final VectorShuffle<Float> FOLD2 = VectorShuffle.fromOp(F32, i -> i ^ 2);
    private static final VectorShuffle<Float> FOLD1 = VectorShuffle.fromOp(F32, i -> i ^ 1);
    private static final ByteOrder LE = ByteOrder.LITTLE_ENDIAN;

    private Ops() {}

    private static float weight(MemorySegment w, int i) {
        return w.get(java.lang.foreign.ValueLayout.JAVA_FLOAT_UNALIGNED.withOrder(LE), 4L * i);
    }

    /** out[o..o+n) = x[xo..xo+n) / rms(x) * w, with rms = sqrt(mean(x^2) + eps). */
    public static void rmsNorm(float[] out, int o, float[] x, int xo, MemorySegment w, int n, float eps) {
        FloatVector acc = FloatVector.zero(F32);
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(F32, x, xo + i);
            acc = v.fma(v, acc);
        }
        float ss = FloatLanes.sum(acc);
        for (; i < n; i++) {
            ss += x[xo + i] * x[xo + i];
        }
        float scale = (float) (1.0 / Math.sqrt(ss / n + eps));
        i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(F32, x, xo + i).mul(scale);
            v.mul(FloatVector.fromMemorySegment(F32, w, 4L * i, LE)).intoArray(out, o + i);
        }
        for (; i < n; i++) {
            out[o + i] = x[xo + i] * scale * weight(w, i);
        }
    }

    /** x[xo..xo+n) += b (a bias vector). */
    public static void addBias(float[] x, int xo, MemorySegment b, int n) {
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F32, x, xo + i).add(FloatVector.fromMemorySegment(F32, b, 4L * i, LE))
                    .intoArray(x, xo + i);
        }
        for (; i < n; i++) {
            x[xo + i] += weight(b, i);
        }
    }

    /** x[xo..) += y[yo..) for n values (residual connection). */
    public static void add(float[] x, int xo, float[] y, int yo, int n) {
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F32, x, xo + i).add(FloatVector.fromArray(F32, y, yo + i)).intoArray(x, xo + i);
        }
        for (; i < n; i++) {
            x[xo + i] += y[yo + i];
        }
    }

    /** gate[go..) = silu(gate) * up, the SwiGLU of a feed-forward block. */
    public static void swiglu(float[] gate, int go, float[] up, int uo, int n) {
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector g = FloatVector.fromArray(F32, gate, go + i);
            FloatVector silu = g.div(FloatLanes.exp(g.neg()).add(1f));
            silu.mul(FloatVector.fromArray(F32, up, uo + i)).intoArray(gate, go + i);
        }
        for (; i < n; i++) {
            float g = gate[go + i];
            gate[go + i] = (float) (g / (1.0 + Math.exp(-g))) * up[uo + i];
        }
    }

    /** In-place softmax of x[o..o+n); returns nothing, keeps max-subtraction for stability. */
    public static void softmax(float[] x, int o, int n) {
        float max = Float.NEGATIVE_INFINITY;
        int i = 0;
        FloatVector mv = FloatVector.broadcast(F32, Float.NEGATIVE_INFINITY);
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            mv = mv.max(FloatVector.fromArray(F32, x, o + i));
        }
        max = Math.max(max, mv.reduceLanes(VectorOperators.MAX));
        for (; i < n; i++) {
            max = Math.max(max, x[o + i]);
        }
        FloatVector sumv = FloatVector.zero(F32);
        i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector e = FloatLanes.exp(FloatVector.fromArray(F32, x, o + i).sub(max));
            e.intoArray(x, o + i);
            sumv = sumv.add(e);
        }
        // the lane sum in place (see dot)
        if (L == 16) {
            sumv = sumv.add(sumv.rearrange(FOLD8));
        }
        if (L >= 8) {
            sumv = sumv.add(sumv.rearrange(FOLD4));
        }
        sumv = sumv.add(sumv.rearrange(FOLD2));
        float sum = sumv.add(sumv.rearrange(FOLD1)).lane(0);
        for (; i < n; i++) {
            float e = (float) Math.exp(x[o + i] - max);
            x[o + i] = e;
            sum += e;
        }
        scale(x, o, n, 1f / sum);
    }

    /** x[o..o+n) *= s. */
    public static void scale(float[] x, int o, int n, float s) {
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F32, x, o + i).mul(s).intoArray(x, o + i);
        }
        for (; i < n; i++) {
            x[o + i] *= s;
        }
    }

    /** y[yo..yo+n) += a * x[xo..xo+n). */
    public static void axpy(float[] y, int yo, float a, float[] x, int xo, int n) {
        int i = 0;
        FloatVector av = FloatVector.broadcast(F32, a);
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector.fromArray(F32, x, xo + i).fma(av, FloatVector.fromArray(F32, y, yo + i)).intoArray(y, yo + i);
        }
        for (; i < n; i++) {
            y[yo + i] += a * x[xo + i];
        }
    }

    /** Dot product of two float ranges. */
    public static float dot(float[] a, int ao, float[] b, int bo, int n) {
        FloatVector acc = FloatVector.zero(F32);
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            acc = FloatVector.fromArray(F32, a, ao + i).fma(FloatVector.fromArray(F32, b, bo + i), acc);
        }
        // the lane sum in place: attention calls this once per query head and cached position
        if (L == 16) {
            acc = acc.add(acc.rearrange(FOLD8));
        }
        if (L >= 8) {
            acc = acc.add(acc.rearrange(FOLD4));
        }
        acc = acc.add(acc.rearrange(FOLD2));
        float s = acc.add(acc.rearrange(FOLD1)).lane(0);
        for (; i < n; i++) {
            s += a[ao + i] * b[bo + i];
        }
        return s;
    }

    /**
     * Rotates one head in place. NEOX pairs (i, i + dims/2); NORMAL pairs (2i, 2i+1). cos/sin hold
     * dims/2 angles from {@code cs} (magnitude scaling already folded in); dimensions past
     * {@code dims} are left as is.
     */
    public static void rope(float[] x, int o, int dims, float[] cos, float[] sin, int cs, boolean neox) {
        int half = dims / 2;
        if (neox) {
            int i = 0;
            for (int bound = F32.loopBound(half); i < bound; i += L) {
                FloatVector a = FloatVector.fromArray(F32, x, o + i);
                FloatVector b = FloatVector.fromArray(F32, x, o + half + i);
                FloatVector c = FloatVector.fromArray(F32, cos, cs + i);
                FloatVector s = FloatVector.fromArray(F32, sin, cs + i);
                a.mul(c).sub(b.mul(s)).intoArray(x, o + i);
                a.mul(s).add(b.mul(c)).intoArray(x, o + half + i);
            }
            for (; i < half; i++) {
                float a = x[o + i];
                float b = x[o + half + i];
                x[o + i] = a * cos[cs + i] - b * sin[cs + i];
                x[o + half + i] = a * sin[cs + i] + b * cos[cs + i];
            }
        } else {
            for (int i = 0; i < half; i++) {
                float a = x[o + 2 * i];
                float b = x[o + 2 * i + 1];
                x[o + 2 * i] = a * cos[cs + i] - b * sin[cs + i];
                x[o + 2 * i + 1] = a * sin[cs + i] + b * cos[cs + i];
            }
        }
    }

    /**
     * Index of the largest value (the first on ties; NaNs are passed over, and a NaN at the start
     * gives 0, as a scalar loop of {@code x[i] > best} does). Two vector passes: the lane-wise
     * maxima, then the first index holding their maximum (greedy decoding scans 150k logits a token).
     */
    public static int argmax(float[] x, int o, int n) {
        float first = x[o];
        if (Float.isNaN(first)) {
            return 0;
        }
        FloatVector acc = FloatVector.broadcast(F32, first);
        int i = 0;
        for (int bound = F32.loopBound(n); i < bound; i += L) {
            FloatVector v = FloatVector.fromArray(F32, x, o + i);
            acc = acc.blend(v, v.compare(VectorOperators.GT, acc));  // NaN is never greater: skipped
        }
        float best = first;
        for (int l = 0; l < L; l++) {
            best = Math.max(best, acc.lane(l));  // no NaN lanes: plain max
        }
        for (; i < n; i++) {
            if (x[o + i] > best) {
                best = x[o + i];
            }
        }
        FloatVector target = FloatVector.broadcast(F32, best);
        int j = 0;
        for (int bound = F32.loopBound(n); j < bound; j += L) {
            var hit = FloatVector.fromArray(F32, x, o + j).compare(VectorOperators.EQ, target);
            if (hit.anyTrue()) {
                return j + hit.firstTrue();
            }
        }
        for (; j < n; j++) {
            if (x[o + j] == best) {
                return j;
            }
        }
        throw new IllegalStateException("the maximum " + best + " vanished");  // unreachable: best is one of x
    }
}
