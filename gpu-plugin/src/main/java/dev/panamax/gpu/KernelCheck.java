package dev.panamax.gpu;

import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.Kernels;
import dev.panamax.kernels.Ops;
import dev.panamax.kernels.QuantFormat;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Per-type kernel checks against the CPU kernels: dequantization (exact), matrix-vector products
 * (1 to 8 tokens, int8 activations: compared with the exact product of the same quantized
 * activations), tensor-core matrix products (f16 activations, weights decoded to f16: compared with
 * the exact product of the same f16 activations and the exact weights, so that what is measured is
 * the weights' rounding to f16, however the kernel computes it), and the element-wise kernels.
 * Weights are random blocks: half the rows quantized from Gaussian noise by the reference
 * quantizers, half random bytes with sane fp16 scales, so every bit of every field is exercised.
 * Runs on a real GPU (device check) and on the emulator (CI).
 */
final class KernelCheck {
    /** Relative error (max |diff| / rms of the expected product) allowed. */
    static final double TOL_EXACT = 1e-5;
    static final double TOL_DOT = 2e-4;
    /**
     * Tensor-core products: rounding each weight to f16 (2^-12 of it, rms) comes to 1-2e-3 of the
     * product at most here; the products' rms error may exceed that of the f16-rounded weights by a
     * quarter (float sums aside: 1e-5 of the product), or 2.5 times for the K-quants whose offset
     * is dmin times a 4- or 6-bit min (Q2_K, Q4_K, Q5_K): the kernels round it to f16 once per 16
     * weights (matmul.cuh, to_halves), an error the unit's weights share.
     */
    static final double TOL_MMA = 4e-3;
    static final double TOL_MMA_RMS = 1.25;
    static final double TOL_MMA_RMS_OFFSET = 2.5;
    private static final Set<GgmlType> UNIT_OFFSET = EnumSet.of(GgmlType.Q2_K, GgmlType.Q4_K, GgmlType.Q5_K);

    private final Gpu gpu;
    private final Report report;
    private final SplittableRandom rnd = new SplittableRandom(42);

    KernelCheck(Gpu gpu, Report report) {
        this.gpu = gpu;
        this.report = report;
    }

    /** Byte offsets of the fp16 scale fields of a block (patched to sane values in random blocks). */
    static int[] halfFields(GgmlType t) {
        return switch (t) {
            case Q4_0, Q5_0, Q8_0, IQ4_NL, IQ4_XS -> new int[] {0};
            case Q4_1, Q5_1, Q4_K, Q5_K -> new int[] {0, 2};
            case Q2_K -> new int[] {80, 82};
            case Q3_K -> new int[] {108};
            case Q6_K -> new int[] {208};
            default -> new int[0];
        };
    }

    /** rows x k weights of the type: even rows quantized from noise, odd rows random valid blocks. */
    MemorySegment randomWeights(GgmlType type, int rows, int k, Arena arena) {
        QuantFormat f = Kernels.of(type);
        long rowBytes = type.bytesFor(k);
        MemorySegment w = arena.allocate(rowBytes * rows, 64);
        float[] src = new float[k];
        for (int r = 0; r < rows; r++) {
            boolean noise = r % 2 == 0 || DeviceTypes.isFloat(type);
            if (noise) {
                for (int i = 0; i < k; i++) {
                    src[i] = (float) rnd.nextGaussian() * 0.05f;
                }
                f.quantize(src, 0, w, r * rowBytes, k);
            } else {
                for (long i = 0; i < rowBytes; i++) {
                    w.set(ValueLayout.JAVA_BYTE, r * rowBytes + i, (byte) rnd.nextInt(256));
                }
                int bb = type.blockBytes();
                for (long b = 0; b < rowBytes / bb; b++) {
                    for (int off : halfFields(type)) {
                        float v = (float) (rnd.nextDouble(0.0002, 0.004) * (rnd.nextBoolean() ? 1 : -1));
                        w.set(ValueLayout.JAVA_SHORT_UNALIGNED, r * rowBytes + b * bb + off, Float.floatToFloat16(v));
                    }
                }
            }
        }
        return w;
    }

    private long upload(MemorySegment s, Arena keep) {
        long p = gpu.alloc(s.byteSize() + 256);  // block loads may read a few bytes past the end
        MemorySegment native_ = s.isNative() ? s : keep.allocate(s.byteSize(), 64).copyFrom(s);
        gpu.upload(p, native_);
        return p;
    }

    private long upload(float[] v, Arena a) {
        MemorySegment s = a.allocate(4L * Math.max(1, v.length), 64);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_FLOAT, 0, v.length);
        return upload(s, a);
    }

    private float[] downloadFloats(long p, int n, Arena a) {
        MemorySegment s = a.allocate(4L * n, 64);
        gpu.download(s, p);
        return s.toArray(ValueLayout.JAVA_FLOAT);
    }

    private float[] gaussian(int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) (rnd.nextGaussian() * scale);
        }
        return v;
    }

    /** max |got - want| / rms(want - base) over all entries. */
    static double relError(float[] got, double[] want, double[] base) {
        double max = 0;
        double ss = 0;
        for (int i = 0; i < want.length; i++) {
            max = Math.max(max, Math.abs(got[i] - want[i]));
            double d = want[i] - (base == null ? 0 : base[i]);
            ss += d * d;
        }
        if (Double.isNaN(max) || hasNaN(got)) {
            return Double.POSITIVE_INFINITY;
        }
        return max / Math.max(Math.sqrt(ss / want.length), 1e-30);
    }

    /** The rms of got(i) - want[i]. */
    static double rmsError(java.util.function.IntToDoubleFunction got, double[] want) {
        double ss = 0;
        for (int i = 0; i < want.length; i++) {
            double d = got.applyAsDouble(i) - want[i];
            ss += d * d;
        }
        return Math.sqrt(ss / want.length);
    }

    private static boolean hasNaN(float[] v) {
        for (float f : v) {
            if (!Float.isFinite(f)) {
                return true;
            }
        }
        return false;
    }

    static String fmt(double e) {
        return String.format(Locale.ROOT, "rel err %.2e", e);
    }

    /** All checks of one weight type. */
    void check(GgmlType type, int rows, int k, int[] vecTokens, int[] mmTokens) {
        String name = DeviceTypes.suffix(type);
        try (Arena a = Arena.ofConfined()) {
            gpu.makeCurrent();
            Gpu.Stream st = gpu.stream();
            long[] owned = new long[16];
            int nOwned = 0;
            try {
                QuantFormat f = Kernels.of(type);
                MemorySegment w = randomWeights(type, rows, k, a);
                float[] wf = new float[rows * k];
                f.dequantizeReference(w, 0, wf, 0, rows * k);
                long wDev = upload(w, a);
                owned[nOwned++] = wDev;
                boolean quant = !DeviceTypes.isFloat(type);
                if (quant) {
                    long out = gpu.alloc(4L * rows * k);
                    owned[nOwned++] = out;
                    int units = rows * k / 16;
                    st.launch(gpu.kernel("dequant_" + name), (units + 255) / 256, 1, 1, 256, wDev, units, out);
                    st.synchronize();
                    float[] got = downloadFloats(out, rows * k, a);
                    double[] want = new double[wf.length];
                    for (int i = 0; i < wf.length; i++) {
                        want[i] = wf[i];
                    }
                    double e = relError(got, want, null);
                    int firstBad = -1;
                    for (int i = 0; i < wf.length && firstBad < 0; i++) {
                        if (Math.abs(got[i] - wf[i]) > 1e-6 * Math.max(1e-3, Math.abs(wf[i]))) {
                            firstBad = i;
                        }
                    }
                    report.check(e <= TOL_EXACT, "dequant " + name, fmt(e) + (firstBad < 0 ? "" : String.format(Locale.ROOT,
                            " (first difference at row %d value %d: %g vs %g)", firstBad / k, firstBad % k,
                            got[firstBad], wf[firstBad])));
                }
                int maxT = 1;
                for (int t : vecTokens) {
                    maxT = Math.max(maxT, t);
                }
                for (int t : mmTokens) {
                    maxT = Math.max(maxT, t);
                }
                float[] x = gaussian(maxT * k, 1.0);
                long xDev = upload(x, a);
                long xq = gpu.alloc((long) maxT * k);
                long xd = gpu.alloc(4L * maxT * k / 32);
                long xs = gpu.alloc(4L * maxT * k / 16);
                long xh = gpu.alloc(2L * maxT * k);
                owned[nOwned++] = xDev;
                owned[nOwned++] = xq;
                owned[nOwned++] = xd;
                owned[nOwned++] = xs;
                owned[nOwned++] = xh;
                st.launch(gpu.kernel("quantize_rows"), maxT, 1, 1, 256, xDev, k, k, xq, xd, xs, xh);
                st.synchronize();
                MemorySegment q8 = a.allocate((long) maxT * k);
                gpu.download(q8, xq);
                float[] d8 = downloadFloats(xd, maxT * k / 32, a);
                MemorySegment h16 = a.allocate(2L * maxT * k, 64);
                gpu.download(h16, xh);
                // the quantized activations must be a valid Q8 rounding of x
                double qerr = 0;
                for (int i = 0; i < maxT * k; i++) {
                    float d = d8[i / 32];
                    qerr = Math.max(qerr, Math.abs(d * q8.get(ValueLayout.JAVA_BYTE, i) - x[i]) / Math.max(d, 1e-30));
                }
                double herr = 0;
                for (int i = 0; i < maxT * k; i++) {
                    herr = Math.max(herr, Math.abs(Float.float16ToFloat(h16.getAtIndex(ValueLayout.JAVA_SHORT, i)) - x[i]));
                }
                // the activations each kernel actually multiplies, as plain arrays for the references
                float[] xv = new float[maxT * k];   // int8 path: d * q
                float[] xhf = new float[maxT * k];  // tensor-core path: f16(x)
                for (int i = 0; i < maxT * k; i++) {
                    xv[i] = quant ? d8[i / 32] * q8.get(ValueLayout.JAVA_BYTE, i) : x[i];
                    xhf[i] = Float.float16ToFloat(h16.getAtIndex(ValueLayout.JAVA_SHORT, i));
                }
                report.check(qerr <= 0.5001 && herr < 5e-3, "quantize_rows (" + name + " run)",
                        String.format(Locale.ROOT, "max |x - d*q|/d = %.4f, max |x - f16(x)| = %.1e", qerr, herr));
                float[] bias = gaussian(rows, 1.0);
                long biasDev = upload(bias, a);
                owned[nOwned++] = biasDev;
                long yDev = gpu.alloc(4L * maxT * rows);
                owned[nOwned++] = yDev;
                java.util.List<int[]> vecRuns = new java.util.ArrayList<>();  // (tokens, rows per warp)
                for (int t : vecTokens) {
                    vecRuns.add(new int[] {t, 2});
                    if (t == 1 && quant) {
                        vecRuns.add(new int[] {1, 1});
                        vecRuns.add(new int[] {1, 4});
                    }
                }
                for (int[] run : vecRuns) {
                    int t = run[0];
                    float[] y0 = gaussian(t * rows, 1.0);
                    gpu.upload(yDev, seg(y0, a));
                    String kn = DeviceTypes.matvec(type, t, run[1]);
                    int per = DeviceTypes.matvecRowsPerBlock(type, t, run[1]);
                    if (quant) {
                        st.launch(gpu.kernel(kn), (rows + per - 1) / per, 1, 1, 128, wDev, rows, k, xq, xd, xs, yDev, rows,
                                biasDev, 1, t);
                    } else {
                        st.launch(gpu.kernel(kn), (rows + per - 1) / per, 1, 1, 128, wDev, rows, k, xDev, yDev, rows, biasDev,
                                1, t);
                    }
                    st.synchronize();
                    float[] got = downloadFloats(yDev, t * rows, a);
                    double[] want = new double[t * rows];
                    double[] base = new double[t * rows];
                    for (int tt = 0; tt < t; tt++) {
                        for (int r = 0; r < rows; r++) {
                            double s = 0;
                            for (int j = 0, wo = r * k, xo = tt * k; j < k; j++) {
                                s += (double) wf[wo + j] * xv[xo + j];
                            }
                            base[tt * rows + r] = y0[tt * rows + r] + bias[r];
                            want[tt * rows + r] = base[tt * rows + r] + s;
                        }
                    }
                    double e = relError(got, want, base);
                    report.check(e <= TOL_DOT, kn + " " + rows + "x" + k + " x" + t + " tokens (+bias, accumulate)", fmt(e));
                }
                for (int t : mmTokens) {
                    float[] y0 = gaussian(t * rows, 1.0);
                    gpu.upload(yDev, seg(y0, a));
                    String kn = DeviceTypes.matmul(type, t);
                    int bn = DeviceTypes.matmulTile(t);
                    st.launch(gpu.kernel(kn), (rows + 127) / 128, (t + bn - 1) / bn, 1, 256, wDev, rows, k, xh, t, yDev, rows,
                            biasDev, 1);
                    st.synchronize();
                    float[] got = downloadFloats(yDev, t * rows, a);
                    double[] want = new double[t * rows];
                    double[] base = new double[t * rows];
                    double[] rounded = new double[t * rows];  // the same with each weight rounded to f16
                    for (int r = 0; r < rows; r++) {
                        for (int tt = 0; tt < t; tt++) {
                            double s = 0;
                            double sh = 0;
                            for (int j = 0, wo = r * k, xo = tt * k; j < k; j++) {
                                s += (double) wf[wo + j] * xhf[xo + j];
                                sh += (double) Float.float16ToFloat(Float.floatToFloat16(wf[wo + j])) * xhf[xo + j];
                            }
                            base[tt * rows + r] = y0[tt * rows + r] + bias[r];
                            want[tt * rows + r] = base[tt * rows + r] + s;
                            rounded[tt * rows + r] = base[tt * rows + r] + sh;
                        }
                    }
                    double e = relError(got, want, base);
                    double rms = rmsError(i -> got[i], want);
                    double rmsRounded = rmsError(i -> rounded[i], want);
                    double floor = 1e-5 * rmsError(i -> base[i], want);  // float sums: 1e-5 of the product
                    double rmsBound = (UNIT_OFFSET.contains(type) ? TOL_MMA_RMS_OFFSET : TOL_MMA_RMS) * rmsRounded + floor;
                    report.check(e <= TOL_MMA && rms <= rmsBound,
                            kn + " " + rows + "x" + k + " x" + t + " tokens (+bias, accumulate)", fmt(e)
                                    + (rmsRounded > floor ? String.format(Locale.ROOT,
                                            ", rms err %.2fx that of f16-rounded weights", rms / rmsRounded)
                                            : ", weights exact in f16"));
                }
            } catch (RuntimeException e) {
                report.error("kernels " + name, e);
            } finally {
                try {
                    st.synchronize();
                } catch (RuntimeException ignored) {
                    // reported above
                }
                for (int i = 0; i < nOwned; i++) {
                    gpu.free(owned[i]);
                }
                st.close();
            }
        }
    }

    private static MemorySegment seg(float[] v, Arena a) {
        MemorySegment s = a.allocate(4L * v.length, 64);
        MemorySegment.copy(v, 0, s, ValueLayout.JAVA_FLOAT, 0, v.length);
        return s;
    }

    /** rmsnorm, swiglu and argmax against the CPU's Ops. */
    void checkOps(int tokens, int k) {
        try (Arena a = Arena.ofConfined()) {
            gpu.makeCurrent();
            Gpu.Stream st = gpu.stream();
            long[] owned = new long[8];
            int n = 0;
            try {
                float[] x = gaussian(tokens * k, 2.0);
                float[] w = gaussian(k, 1.0);
                long xDev = upload(x, a);
                long wDev = upload(w, a);
                long out = gpu.alloc(4L * tokens * 2 * k);
                long xq = gpu.alloc((long) tokens * 2 * k);
                long xd = gpu.alloc(4L * tokens * 2 * k / 32);
                long xs = gpu.alloc(4L * tokens * 2 * k / 16);
                long idx = gpu.alloc(4L * tokens);
                owned[n++] = xDev;
                owned[n++] = wDev;
                owned[n++] = out;
                owned[n++] = xq;
                owned[n++] = xd;
                owned[n++] = xs;
                owned[n++] = idx;
                st.launch(gpu.kernel("rmsnorm"), tokens, 1, 1, 256, xDev, k, k, wDev, 1e-5f, out, xq, xd, xs, 0L);
                st.synchronize();
                float[] got = downloadFloats(out, tokens * k, a);
                double[] want = new double[tokens * k];
                float[] ref = new float[tokens * k];
                MemorySegment wSeg = seg(w, a);
                for (int t = 0; t < tokens; t++) {
                    Ops.rmsNorm(ref, t * k, x, t * k, wSeg, k, 1e-5f);
                }
                for (int i = 0; i < ref.length; i++) {
                    want[i] = ref[i];
                }
                double e = relError(got, want, null);
                report.check(e <= TOL_EXACT, "rmsnorm " + tokens + "x" + k, fmt(e));
                // the decode form: each row over blocks of 256 values
                st.memset(out, 4L * tokens * k);
                st.launch(gpu.kernel("rmsnorm_split"), (k + 255) / 256, tokens, 1, 256, xDev, k, k, wDev, 1e-5f, out, xq, xd, xs,
                        0L);
                st.synchronize();
                e = relError(downloadFloats(out, tokens * k, a), want, null);
                report.check(e <= TOL_EXACT, "rmsnorm_split " + tokens + "x" + k, fmt(e));
                // swiglu: gate = x rows, up = the same rows shifted, side by side with stride 2k
                float[] gu = gaussian(tokens * 2 * k, 3.0);
                long guDev = upload(gu, a);
                owned[n++] = guDev;
                st.launch(gpu.kernel("swiglu"), (k + 255) / 256, tokens, 1, 256, guDev, guDev + 4L * k, 2 * k, k, out, xq, xd,
                        xs, 0L);
                st.synchronize();
                got = downloadFloats(out, tokens * k, a);
                for (int t = 0; t < tokens; t++) {
                    float[] g = new float[k];
                    float[] u = new float[k];
                    System.arraycopy(gu, t * 2 * k, g, 0, k);
                    System.arraycopy(gu, t * 2 * k + k, u, 0, k);
                    Ops.swiglu(g, 0, u, 0, k);
                    for (int i = 0; i < k; i++) {
                        want[t * k + i] = g[i];
                    }
                }
                e = relError(got, want, null);
                report.check(e <= 1e-5, "swiglu " + tokens + "x" + k, fmt(e));
                st.launch(gpu.kernel("argmax"), tokens, 1, 1, 1024, xDev, k, idx);
                st.synchronize();
                MemorySegment is = a.allocate(4L * tokens, 64);
                gpu.download(is, idx);
                boolean ok = true;
                for (int t = 0; t < tokens; t++) {
                    ok &= is.getAtIndex(ValueLayout.JAVA_INT, t) == Ops.argmax(x, t * k, k);
                }
                report.check(ok, "argmax " + tokens + "x" + k, "");
            } catch (RuntimeException e) {
                report.error("element-wise kernels", e);
            } finally {
                for (int i = 0; i < n; i++) {
                    gpu.free(owned[i]);
                }
                st.close();
            }
        }
    }

    /**
     * Speed of one type's kernels on a large matrix: matrix-vector GB/s (weight bytes per second,
     * one token) and matrix-matrix TFLOP/s for {@code tokens} tokens.
     */
    String speed(GgmlType type, int rows, int k, int tokens, int reps) {
        try (Arena a = Arena.ofConfined()) {
            gpu.makeCurrent();
            Gpu.Stream st = gpu.stream();
            long bytes = type.bytesFor((long) rows * k);
            long w = tiledWeights(type, k, bytes, a);
            Inputs in = inputs(st, tokens, k, a);
            long x = in.x(), xq = in.xq(), xd = in.xd(), xs = in.xs(), xh = in.xh();
            long y = gpu.alloc(4L * tokens * rows);
            try {
                boolean quant = !DeviceTypes.isFloat(type);
                int[] rpw = {2};
                Runnable mv = () -> {
                    int per = DeviceTypes.matvecRowsPerBlock(type, 1, rpw[0]);
                    String kn = DeviceTypes.matvec(type, 1, rpw[0]);
                    if (quant) {
                        st.launch(gpu.kernel(kn), (rows + per - 1) / per, 1, 1, 128, w, rows, k, xq, xd, xs, y, rows, 0L, 0, 1);
                    } else {
                        st.launch(gpu.kernel(kn), (rows + per - 1) / per, 1, 1, 128, w, rows, k, x, y, rows, 0L, 0, 1);
                    }
                };
                int bn = DeviceTypes.matmulTile(tokens);
                Runnable mm = () -> st.launch(gpu.kernel(DeviceTypes.matmul(type, tokens)), (rows + 127) / 128,
                        (tokens + bn - 1) / bn, 1, 256, w, rows, k, xh, tokens, y, rows, 0L, 0);
                mv.run();
                mm.run();
                st.synchronize();
                double[] mvSecs = new double[3];
                int[] variants = quant ? new int[] {1, 2, 4} : new int[] {2};
                for (int vi = 0; vi < variants.length; vi++) {
                    rpw[0] = variants[vi];
                    mv.run();
                    st.synchronize();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < reps; i++) {
                        mv.run();
                    }
                    st.synchronize();
                    mvSecs[vi] = (System.nanoTime() - t0) / 1e9 / reps;
                }
                // the headline: the rows per warp decode uses for this type
                double mvSec = quant ? mvSecs[DeviceTypes.matvecRows(type, rows) / 2] : mvSecs[0];
                long t0;
                t0 = System.nanoTime();
                for (int i = 0; i < Math.max(1, reps / 10); i++) {
                    mm.run();
                }
                st.synchronize();
                double mmSec = (System.nanoTime() - t0) / 1e9 / Math.max(1, reps / 10);
                String rowsCmp = quant ? String.format(Locale.ROOT, " [rows/warp 1: %.0f, 2: %.0f, 4: %.0f GB/s]",
                        bytes / mvSecs[0] / 1e9, bytes / mvSecs[1] / 1e9, bytes / mvSecs[2] / 1e9) : "";
                return String.format(Locale.ROOT, "%-7s matvec %6.0f GB/s (%6.1f us)%s   matmul x%d %6.1f TFLOP/s (%7.1f us)",
                        DeviceTypes.suffix(type), bytes / mvSec / 1e9, mvSec * 1e6, rowsCmp, tokens,
                        2.0 * rows * k * tokens / mmSec / 1e12, mmSec * 1e6);
            } finally {
                st.synchronize();
                in.free();
                gpu.free(w);
                gpu.free(y);
                st.close();
            }
        }
    }

    /** A token batch on the device in every input form of the products (f32, int8 with scales, f16). */
    private record Inputs(Gpu gpu, long x, long xq, long xd, long xs, long xh) {
        void free() {
            for (long p : new long[] {x, xq, xd, xs, xh}) {
                gpu.free(p);
            }
        }
    }

    /** {@code tokens} random activations of width k, quantized on the device by quantize_rows. */
    private Inputs inputs(Gpu.Stream st, int tokens, int k, Arena a) {
        Inputs in = new Inputs(gpu, gpu.alloc(4L * tokens * k), gpu.alloc((long) tokens * k), gpu.alloc(4L * tokens * k / 32),
                gpu.alloc(4L * tokens * k / 16), gpu.alloc(2L * tokens * k));
        gpu.upload(in.x(), seg(gaussian(tokens * k, 1.0), a));
        st.launch(gpu.kernel("quantize_rows"), tokens, 1, 1, 256, in.x(), k, k, in.xq(), in.xd(), in.xs(), in.xh());
        return in;
    }

    /** {@code bytes} of weights of rows of width k: a tiled random pattern, enough for timing (valid scales not needed). */
    private long tiledWeights(GgmlType type, int k, long bytes, Arena a) {
        long w = gpu.alloc(bytes + 256);
        MemorySegment tile = randomWeights(type, 64, k, a);
        for (long o = 0; o < bytes; o += tile.byteSize()) {
            gpu.upload(w + o, tile.asSlice(0, Math.min(tile.byteSize(), bytes - o)));
        }
        return w;
    }

    /** Device seconds of the work {@code enqueue} queues on {@code st}, between two marks. */
    private static double timed(Gpu.Stream st, Runnable enqueue) {
        Gpu.Mark before = st.mark();
        enqueue.run();
        Gpu.Mark after = st.mark();
        st.synchronize();
        double s = after.millisSince(before) / 1e3;
        before.close();
        after.close();
        return s;
    }

    /**
     * The device's read bandwidth in GB/s (the matrix-vector products' roofline): {@code bytes} (at
     * most a quarter of the free memory) read by the read_bandwidth kernel, the best of {@code reps}
     * timed passes after a warm-up.
     */
    double readBandwidth(long bytes, int reps) {
        gpu.makeCurrent();
        Gpu.Stream st = gpu.stream();
        long n16 = Math.min(Math.min(bytes, gpu.freeBytes() / 4) / 16, Integer.MAX_VALUE);
        long p = gpu.alloc(16 * n16);
        long out = gpu.alloc(256);
        try {
            st.memset(p, 16 * n16);
            int grid = gpu.multiprocessors() * 8;
            double best = Double.MAX_VALUE;
            for (int i = 0; i <= reps; i++) {
                double sec = timed(st, () -> st.launch(gpu.kernel("read_bandwidth"), grid, 1, 1, 256, p, (int) n16, out));
                if (i > 0) {  // after a warm-up
                    best = Math.min(best, sec);
                }
            }
            return 16.0 * n16 / best / 1e9;
        } finally {
            st.synchronize();
            gpu.free(p);
            gpu.free(out);
            st.close();
        }
    }

    /**
     * One-token matrix-vector GB/s of a type at one shape for 1, 2 and 4 rows per warp, each variant's
     * launches recorded as a graph (as decode runs them) and the variants alternated {@code rounds}
     * times (best of each), the weights beyond the L2 cache by cycling through {@code copies} copies.
     */
    String matvecVariants(GgmlType type, int rows, int k, int copies, int rounds) {
        try (Arena a = Arena.ofConfined()) {
            gpu.makeCurrent();
            Gpu.Stream st = gpu.stream();
            long bytes = type.bytesFor((long) rows * k);
            long[] w = new long[copies];
            Inputs in = inputs(st, 1, k, a);
            long y = gpu.alloc(4L * rows);
            try {
                for (int c = 0; c < copies; c++) {
                    w[c] = tiledWeights(type, k, bytes, a);
                }
                int[] variants = {1, 2, 4};
                double[] best = new double[variants.length];
                java.util.Arrays.fill(best, Double.MAX_VALUE);
                // launched one by one from the host, a small product would measure the host
                Gpu.Graph[] graphs = new Gpu.Graph[variants.length];
                for (int v = 0; v < variants.length; v++) {
                    int per = DeviceTypes.matvecRowsPerBlock(type, 1, variants[v]);
                    Gpu.Kernel kn = gpu.kernel(DeviceTypes.matvec(type, 1, variants[v]));
                    st.beginCapture();
                    for (int c = 0; c < copies; c++) {
                        st.launch(kn, (rows + per - 1) / per, 1, 1, 128, w[c], rows, k, in.xq(), in.xd(), in.xs(), y, rows, 0L, 0,
                                1);
                    }
                    graphs[v] = st.endCapture();
                }
                try {
                    for (int round = 0; round <= rounds; round++) {
                        for (int v = 0; v < variants.length; v++) {
                            double sec = timed(st, graphs[v]::launch) / copies;
                            if (round > 0) {  // after a warm-up
                                best[v] = Math.min(best[v], sec);
                            }
                        }
                    }
                } finally {
                    for (Gpu.Graph g : graphs) {
                        g.close();
                    }
                }
                StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "%-5s %5d x %5d (%5.1f MB):",
                        DeviceTypes.suffix(type), rows, k, bytes / 1e6));
                for (int v = 0; v < variants.length; v++) {
                    sb.append(String.format(Locale.ROOT, "  r%d %5.0f", variants[v], bytes / best[v] / 1e9));
                }
                return sb.append(" GB/s").toString();
            } finally {
                st.synchronize();
                for (long p : w) {
                    if (p != 0) {
                        gpu.free(p);
                    }
                }
                in.free();
                gpu.free(y);
                st.close();
            }
        }
    }
}
