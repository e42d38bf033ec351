package dev.panamax.kernels;

import dev.panamax.gguf.GgmlType;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Collection;
import java.util.SplittableRandom;

/**
 * Runs the kernels a model will use on small synthetic matrices before its first prompt, so that
 * the JIT compiles them while the prompt is read instead of while it is computed.
 *
 * <p>Why: until C2 has compiled a Vector API kernel it runs as boxed objects, 30-100x slower, and
 * it only gets compiled once it has run hot: on a 14B model the first prompt ran its matrix
 * kernels boxed for about 1.5 s and the first generated tokens their decode kernels for about 6 s
 * (every weight type's dot, one after the other, on multi-megabyte matrices). Here each kernel
 * runs some hundreds of times on the first rows of the model's own matrices, a small fraction of
 * that work, and C2 compiles it in the background. The model's own: warmed on arena memory, C2
 * speculated on that segment class and deoptimized every kernel at the first mapped row, back to
 * boxed code for seconds. The CLI launcher lowers these classes' compile thresholds
 * (CompileThresholdScaling) so that these rounds reach C2; without it they leave them C1-compiled.
 */
public final class KernelWarmUp {
    private KernelWarmUp() {}

    /** Rows of each matrix used: two row units of the matvec, so both threads of a pool take part. */
    private static final int ROWS = 32;
    /**
     * Tokens of the warm-up's multi-token products (and of {@code bench}'s prompt warm-up): enough
     * for the multi-token float panels ({@link MatOps#panelMinTokens}), and for both
     * of their kernels at every width: a whole block of token vectors and a vector left over
     * (a warm-up of 24 tokens, all left over at 512 bits, had C2 compile the panels without their
     * main kernel, which the first long prompt then deoptimized).
     */
    public static final int TOKENS = 80;
    /**
     * Tokens of the warm-up's few-token products: prompts shorter than the panels' start
     * ({@link MatOps#panelMinTokens}) and speculative checks of a draft's tokens go through the
     * formats' multi-token dots, which take tokens in pairs: three run a pair and the leftover.
     * Without them a 14B file's 2-token first prompt compiled them as it ran (1.4-1.8 s, then 1.15-1.3).
     */
    private static final int FEW_TOKENS = 3;
    private static final int ROUNDS = 12;
    /** Query tokens of the warm-up's prompt attention (over the last of its 64 cached positions). */
    private static final int PROMPT = 16;
    /** At most this long in rounds beyond {@link #ROUNDS} waiting for the JIT (a slow or busy machine). */
    private static final long MAX_SETTLE_NANOS = 8_000_000_000L;
    /**
     * Speeds (GFLOP/s, on the pool, rounds back to back) that separate a compiled kernel from its
     * boxed form. Measured on the 2-core VM with a 14B file's first 32 rows: one token's product
     * boxed 0.01-0.12, compiled 1.3-15 (its 0.3 MFLOP are mostly the pool's hand-off); 24 tokens'
     * (the count then) boxed 1.1-5.3 (parts compile first), compiled 12-25; the attention boxed 0.04-0.35, compiled
     * 1.6-16. Sleeping between rounds, to leave the cores to the compiler threads, settled later
     * (7.0-7.3 s against 4.5-6.0 s), and the pool's wake-ups then blur these small calls' speeds.
     */
    private static final double MATVEC_FLOOR_GFLOPS = 0.5;
    private static final double MATMUL_FLOOR_GFLOPS = 8.0;
    private static final double ATTENTION_FLOOR_GFLOPS = 1.0;
    /** Calls shorter than this count as settled whatever their speed: a small model's, boxed or not. */
    private static final long SMALL_CALL_NANOS = 100_000;

    /**
     * What the warm-up takes from the model besides its matrices: the attention's shape and cache
     * types, one of its norm weight vectors and one of its bias vectors (null when it has none: the
     * mapped file's own segments, as for the matrices), and its rope (rotated dimensions of a head,
     * NEOX pairing or not).
     */
    public record ModelShape(int heads, int kvHeads, int headDim, int valueDim, GgmlType keyType, GgmlType valueType,
            MemorySegment norm, MemorySegment bias, int ropeDims, boolean neoxRope) {}

    /**
     * Runs one token's, a few tokens' and a prompt's products with the first rows of each of
     * {@code matrices} (one per weight type: the model's own, so that the segment class and the row
     * lengths the JIT profiles are the ones it will see), one token's and a prompt's attention over
     * a small cache of the model's shape and types, and the element-wise steps of a layer (norm,
     * rope, bias, residual, SwiGLU), {@link #ROUNDS} times or more on {@code pool}.
     */
    public static void run(Collection<QuantMatrix> matrices, ModelShape shape, WorkerPool pool) {
        int heads = shape.heads();
        int kvHeads = shape.kvHeads();
        int headDim = shape.headDim();
        int valueDim = shape.valueDim();
        try (Arena arena = Arena.ofShared()) {
            SplittableRandom rnd = new SplittableRandom(7);
            int n = matrices.size();
            QuantMatrix[] ms = new QuantMatrix[n];
            Activations[] one = new Activations[n];
            Activations[] few = new Activations[n];
            Activations[] many = new Activations[n];
            int i = 0;
            for (QuantMatrix m : matrices) {
                int rows = Math.min(ROWS, m.rows());
                ms[i] = new QuantMatrix(m.format(), m.data().asSlice(0, rows * m.rowBytes()), rows, m.cols());
                one[i] = new Activations(1, m.cols());
                few[i] = new Activations(FEW_TOKENS, m.cols());
                many[i] = new Activations(TOKENS, m.cols());
                fill(one[i].f32(), rnd);
                fill(few[i].f32(), rnd);
                fill(many[i].f32(), rnd);
                i++;
            }
            float[] out = new float[ROWS * TOKENS];
            float[][] fewOut = {new float[ROWS * FEW_TOKENS]};
            Layer layer = new Layer(shape, rnd);

            int positions = 64;
            QuantFormat kf = Kernels.of(shape.keyType());
            QuantFormat vf = Kernels.of(shape.valueType());
            MemorySegment keys = arena.allocate(kf.rowBytes(headDim) * kvHeads * positions, 64);
            MemorySegment values = arena.allocate(vf.rowBytes(valueDim) * kvHeads * positions, 64);
            float[] k = new float[headDim];
            float[] v = new float[valueDim];
            for (int r = 0; r < kvHeads * positions; r++) {
                fill(k, rnd);
                fill(v, rnd);
                kf.quantize(k, 0, keys, r * kf.rowBytes(headDim), headDim);
                vf.quantize(v, 0, values, r * vf.rowBytes(valueDim), valueDim);
            }
            DecodeAttention attention = new DecodeAttention(heads, kvHeads, headDim, valueDim, pool.threads());
            float[] q = new float[heads * headDim];
            fill(q, rnd);
            float[] attended = new float[heads * valueDim];
            // a prompt's attention too: the last PROMPT tokens of the small cache
            PromptAttention promptAttention = new PromptAttention(heads, kvHeads, headDim, valueDim, positions, PROMPT,
                    pool.threads());
            float[] promptQ = new float[PROMPT * heads * headDim];
            fill(promptQ, rnd);
            float[] promptOut = new float[PROMPT * heads * valueDim];

            // fixed rounds, then more until every product and the attention run compiled: a kernel
            // still boxed is 30-100x slower, far below these floors, and C2's queue on a small machine
            // can hold a kernel past the fixed rounds, which then left the first prompt to run it boxed
            long deadline = System.nanoTime() + MAX_SETTLE_NANOS;
            for (int round = 0; ; round++) {
                boolean settled = true;
                for (int m = 0; m < n; m++) {
                    double flops = 2.0 * ms[m].rows() * ms[m].cols();
                    long t0 = System.nanoTime();
                    one[m].invalidate();
                    MatOps.matvec(ms[m], one[m], out, 0, pool);
                    long t1 = System.nanoTime();
                    many[m].invalidate();
                    MatOps.matmul(ms[m], many[m], out, pool);
                    long t2 = System.nanoTime();
                    few[m].invalidate();
                    MatOps.matmul(new QuantMatrix[] {ms[m]}, few[m], fewOut, pool);
                    long t3 = System.nanoTime();
                    settled &= fastEnough(flops, t1 - t0, MATVEC_FLOOR_GFLOPS) && fastEnough(TOKENS * flops, t2 - t1, MATMUL_FLOOR_GFLOPS)
                            && fastEnough(FEW_TOKENS * flops, t3 - t2, MATVEC_FLOOR_GFLOPS);
                }
                layer.run();
                long t0 = System.nanoTime();
                attention.run(q, 0, kf, keys, vf, values, positions, 0.1f, attended, 0, pool);
                double attentionFlops = 4.0 * heads * positions * Math.max(headDim, valueDim);
                settled &= fastEnough(attentionFlops, System.nanoTime() - t0, ATTENTION_FLOOR_GFLOPS);
                t0 = System.nanoTime();
                promptAttention.run(promptQ, PROMPT, positions - PROMPT, kf, keys, vf, values, 0.1f, promptOut, pool);
                settled &= fastEnough(PROMPT * attentionFlops, System.nanoTime() - t0, ATTENTION_FLOOR_GFLOPS);
                if (round + 1 >= ROUNDS && (settled || System.nanoTime() > deadline)) {
                    return;
                }
            }
        }
    }

    /**
     * The element-wise steps of a layer on arrays of the model's sizes, with its own norm and bias
     * segments: cheap even boxed, so they only run, they do not gate the settling.
     */
    private static final class Layer {
        private final ModelShape shape;
        private final int dim;
        private final int biasDim;
        private final float[] hidden;
        private final float[] normed;
        private final float[] residual;
        private final float[] gate;
        private final float[] up;
        private final float[] head;
        private final float[] cos;
        private final float[] sin;

        Layer(ModelShape shape, SplittableRandom rnd) {
            this.shape = shape;
            this.dim = (int) (shape.norm().byteSize() / Float.BYTES);
            this.biasDim = shape.bias() == null ? 0 : (int) (shape.bias().byteSize() / Float.BYTES);
            hidden = new float[Math.max(dim, biasDim)];
            normed = new float[dim];
            residual = new float[dim];
            gate = new float[dim];
            up = new float[dim];
            head = new float[shape.headDim()];
            cos = new float[shape.ropeDims() / 2];
            sin = new float[shape.ropeDims() / 2];
            fill(hidden, rnd);
            fill(up, rnd);
            fill(head, rnd);
            for (int i = 0; i < cos.length; i++) {
                cos[i] = (float) Math.cos(i);
                sin[i] = (float) Math.sin(i);
            }
        }

        void run() {
            Ops.rmsNorm(normed, 0, hidden, 0, shape.norm(), dim, 1e-6f);
            System.arraycopy(normed, 0, gate, 0, dim);
            Ops.swiglu(gate, 0, up, 0, dim);
            System.arraycopy(normed, 0, residual, 0, dim);
            Ops.add(residual, 0, gate, 0, dim);
            if (shape.bias() != null) {
                Ops.addBias(hidden, 0, shape.bias(), biasDim);
            }
            Ops.rope(head, 0, shape.ropeDims(), cos, sin, 0, shape.neoxRope());
        }
    }

    /** A call too short to matter (a small model's), or one at a compiled kernel's speed. */
    private static boolean fastEnough(double flops, long nanos, double floorGflops) {
        return nanos < SMALL_CALL_NANOS || flops / nanos >= floorGflops;
    }

    private static void fill(float[] v, SplittableRandom rnd) {
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (rnd.nextDouble() - 0.5);
        }
    }
}
