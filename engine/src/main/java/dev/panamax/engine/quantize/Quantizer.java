package dev.panamax.engine.quantize;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.gguf.FileType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.GgufHeader;
import dev.panamax.gguf.GgufTensor;
import dev.panamax.gguf.GgufWriter;
import dev.panamax.gguf.Metadata;
import dev.panamax.gguf.MetadataValue;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.gguf.TensorInfo;
import dev.panamax.gguf.TensorSink;
import dev.panamax.kernels.Kernels;
import dev.panamax.kernels.QuantFormat;
import dev.panamax.kernels.WorkerPool;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * llama-quantize in Java: plans every tensor's type ({@link QuantPlanner}), then streams the input
 * GGUF to a new one tensor by tensor, converting batches of rows in parallel with the kernels'
 * byte-exact reference quantizers. Nothing larger than a batch of rows (a few MiB) is held in memory;
 * the output is written to a temporary file that replaces the target only when complete.
 *
 * <p>Output conventions follow llama.cpp's quantizer: the input's metadata with
 * {@code general.quantization_version} = 2 and {@code general.file_type} = the base mix's file type,
 * split keys removed, --override-kv applied last; tensors in llama.cpp's order; 32-byte alignment.
 * Panamax adds {@value #RECIPE_KEY}, a JSON record of the recipe.
 */
public final class Quantizer {
    /** Metadata key holding the JSON record of the recipe a file was made with. */
    public static final String RECIPE_KEY = "panamax.quantize.recipe";

    /** Input values converted per batch (spread over the threads). */
    private static final int BATCH_VALUES = 1 << 23;

    private Quantizer() {}

    /**
     * @param threads worker threads (the caller's thread included)
     * @param allowRequantize convert already-quantized tensors (quality loss) instead of refusing
     * @param overrides --override-kv, applied in order after everything else
     */
    public record Options(int threads, boolean allowRequantize, List<KvOverride> overrides) {
        public Options {
            if (threads < 1) {
                throw new PanamaxException("-t/--threads must be at least 1, got " + threads);
            }
            overrides = List.copyOf(overrides);
        }

        public static Options defaults() {
            return new Options(WorkerPool.defaultThreads(), false, List.of());
        }
    }

    /** Hears about a run; calls come from the thread that runs {@link #write}. */
    public interface Listener {
        default void warning(String message) {}

        /** Before the first tensor: total input bytes of the tensors that will be read. */
        default void started(Job job) {}

        default void tensorStarted(int index, TensorPlan plan) {}

        /** Input bytes of all tensors processed so far (monotonic). */
        default void progress(long inputBytesDone) {}

        default void tensorFinished(int index, TensorPlan plan) {}
    }

    /**
     * Everything decided before any data moves: the plan in output order, the model facts the rules
     * used, the output metadata and the sizes.
     */
    public record Job(String inputName, Recipe recipe, MixRules.ModelFacts facts, String architecture,
            List<TensorPlan> plan, Map<String, MetadataValue> metadata, long inputTensorBytes, long outputTensorBytes,
            int requantized) {

        /** Tensors whose data changes type. */
        public long converted() {
            return plan.stream().filter(TensorPlan::converts).count();
        }

        public long parameters() {
            return plan.stream().mapToLong(p -> p.input().elementCount()).sum();
        }

        /** Bits per weight of the output tensor data. */
        public double bitsPerWeight() {
            return 8.0 * outputTensorBytes / Math.max(1, parameters());
        }
    }

    /** What {@link #write} produced. */
    public record Result(Path output, long fileBytes, long inputTensorBytes, long outputTensorBytes, double seconds) {
        /** Input tensor megabytes (10^6) per second. */
        public double inputMBps() {
            return inputTensorBytes / 1e6 / Math.max(seconds, 1e-9);
        }
    }

    /** Model facts the mix rules need, from GGUF metadata. */
    public static MixRules.ModelFacts facts(GgufFile in) {
        Metadata m = in.metadata();
        String arch = architecture(in);
        String a = arch + ".";
        if (m.optInt(a + "expert_count").orElse(0) > 1) {
            throw new PanamaxException(in.name() + ": mixture-of-experts models are not supported by the quantizer "
                    + "(its rules are llama.cpp's for dense models)");
        }
        int layers = m.optInt(a + "block_count").orElseThrow(() -> new PanamaxException(in.name()
                + ": metadata key '" + a + "block_count' is missing"));
        int heads = m.optInt(a + "attention.head_count").orElseThrow(() -> new PanamaxException(in.name()
                + ": metadata key '" + a + "attention.head_count' is missing"));
        int kv = m.optInt(a + "attention.head_count_kv").orElse(heads);
        if (layers <= 0 || heads <= 0 || kv <= 0) {
            throw new PanamaxException(in.name() + ": block_count, head_count and head_count_kv must be positive");
        }
        boolean hasOutput = in.findTensor("output.weight").isPresent();
        return new MixRules.ModelFacts(layers, heads / kv, hasOutput, MixRules.ModelFacts.is70B(arch, layers, heads, kv));
    }

    private static String architecture(GgufFile in) {
        String arch = in.metadata().optString("general.architecture").orElseThrow(() -> new PanamaxException(
                in.name() + ": metadata key 'general.architecture' is missing"));
        if (!Set.of("qwen2", "qwen3", "llama").contains(arch)) {
            throw new PanamaxException(in.name() + ": architecture '" + arch + "' is not supported by the quantizer "
                    + "(supported: qwen2, qwen3, llama)");
        }
        return arch;
    }

    /** The number of layers the metadata declares (for resolving recipes before planning). */
    public static int layers(GgufFile in) {
        return facts(in).layers();
    }

    /** Plans a run and checks that it can be done; reads no tensor data. */
    public static Job prepare(GgufFile in, Recipe recipe, Options o) {
        String arch = architecture(in);
        MixRules.ModelFacts facts = facts(in);
        for (int layer : recipe.layerTypes().keySet()) {
            if (layer >= facts.layers()) {
                throw new PanamaxException("layer types name layer " + layer + ", but " + in.name() + " has "
                        + facts.layers() + " layers");
            }
        }
        List<TensorInfo> infos = new ArrayList<>();
        for (GgufTensor t : in.tensors()) {
            infos.add(t.info());
        }
        List<TensorPlan> plan = QuantPlanner.plan(infos, recipe, facts);
        long inBytes = 0;
        long outBytes = 0;
        int requantized = 0;
        for (TensorPlan p : plan) {
            TensorInfo t = p.input();
            inBytes += t.byteSize();
            outBytes += p.outputBytes();
            if (!p.converts()) {
                continue;
            }
            if (Kernels.find(t.type()).isEmpty()) {
                throw new PanamaxException(in.name() + ": tensor '" + t.name() + "' is " + t.type()
                        + ", which Panamax cannot read to convert it to " + p.outputType());
            }
            if (t.type().isQuantized()) {
                if (!o.allowRequantize()) {
                    throw new PanamaxException(in.name() + ": tensor '" + t.name() + "' is already quantized ("
                            + t.type() + "); requantizing to " + p.outputType() + " loses quality, so it needs "
                            + "--allow-requantize (better: quantize from the F16/BF16/F32 model)");
                }
                requantized++;
            }
        }
        Map<String, MetadataValue> md = new LinkedHashMap<>();
        in.metadata().asMap().forEach((k, v) -> {
            if (!k.equals(GgufHeader.ALIGNMENT_KEY)) {
                md.put(k, v);
            }
        });
        md.put("general.quantization_version", MetadataValue.ofUInt32(2));
        md.put(FileType.KEY, MetadataValue.ofUInt32(recipe.base().fileType().id()));
        md.remove(GgufFile.SPLIT_NO_KEY);
        md.remove(GgufFile.SPLIT_COUNT_KEY);
        md.remove(GgufFile.SPLIT_TENSORS_KEY);
        try {
            md.put(RECIPE_KEY, MetadataValue.of(JSON.std.asString(recipe.describe())));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
        for (KvOverride kv : o.overrides()) {
            kv.apply(md);
        }
        return new Job(in.name(), recipe, facts, arch, plan, md, inBytes, outBytes, requantized);
    }

    /**
     * Writes the planned file to {@code out}. On any error (or Ctrl-C) nothing appears at
     * {@code out} (an existing file there is left as it was), and the input is never written to.
     */
    public static Result write(GgufFile in, Job job, Path out, Options o, Listener listener) throws IOException {
        for (Path p : in.paths()) {
            if (Files.exists(out) && Files.isSameFile(p, out)) {
                throw new PanamaxException(out + ": the output would overwrite the input; choose another file name");
            }
        }
        if (job.requantized() > 0) {
            listener.warning("requantizing " + job.requantized() + " already-quantized tensor"
                    + (job.requantized() == 1 ? "" : "s") + ": the result is worse than quantizing from F16/BF16/F32");
        }
        long start = System.nanoTime();
        long[] done = {0};
        long maxBatchOut = 0;
        for (TensorPlan p : job.plan()) {
            if (p.converts()) {
                maxBatchOut = Math.max(maxBatchOut, batchRows(p.input(), o.threads()) * p.outputType().bytesFor(
                        p.input().rowLength()));
            }
        }
        try (Arena arena = Arena.ofShared();
                WorkerPool pool = new WorkerPool(o.threads());
                GgufWriter w = GgufWriter.create(out)) {
            MemorySegment buffer = maxBatchOut == 0 ? MemorySegment.NULL : arena.allocate(maxBatchOut, 64);
            job.metadata().forEach(w::put);
            listener.started(job);
            for (int i = 0; i < job.plan().size(); i++) {
                TensorPlan p = job.plan().get(i);
                GgufTensor t = in.tensor(p.input().name());
                int index = i;
                w.addTensor(p.input().name(), p.outputType(), p.input().ne(), sink -> {
                    listener.tensorStarted(index, p);
                    if (p.converts()) {
                        convert(in.name(), t, p.outputType(), sink, buffer, pool, bytes -> {
                            done[0] += bytes;
                            listener.progress(done[0]);
                        });
                    } else {
                        copy(t.data(), sink, bytes -> {
                            done[0] += bytes;
                            listener.progress(done[0]);
                        });
                    }
                    listener.tensorFinished(index, p);
                });
            }
            w.finish();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        return new Result(out, Files.size(out), job.inputTensorBytes(), job.outputTensorBytes(), seconds);
    }

    /** Rows per batch: about {@link #BATCH_VALUES} values, at least one row per thread. */
    private static long batchRows(TensorInfo t, int threads) {
        long rows = Math.max(threads, BATCH_VALUES / Math.max(1, t.rowLength()));
        return Math.min(rows, t.rowCount());
    }

    private interface Advance {
        void bytes(long n);
    }

    private static void copy(MemorySegment data, TensorSink sink, Advance advance) throws IOException {
        long step = 64L << 20;
        for (long off = 0; off < data.byteSize(); off += step) {
            long n = Math.min(step, data.byteSize() - off);
            sink.write(data.asSlice(off, n));
            advance.bytes(n);
        }
    }

    private static void convert(String file, GgufTensor t, GgmlType outType, TensorSink sink, MemorySegment buffer,
            WorkerPool pool, Advance advance) throws IOException {
        TensorInfo info = t.info();
        QuantFormat from = Kernels.of(info.type());
        QuantFormat to = Kernels.of(outType);
        int rowLength = Math.toIntExact(info.rowLength());
        long inRow = info.type().bytesFor(rowLength);
        long outRow = outType.bytesFor(rowLength);
        long rows = info.rowCount();
        long batch = batchRows(info, pool.threads());
        float[][] scratch = new float[pool.threads()][rowLength];
        MemorySegment src = t.data();
        int grain = (int) Math.max(1, Math.min(batch / pool.threads(), 16));
        for (long r0 = 0; r0 < rows; r0 += batch) {
            long first = r0;
            int n = (int) Math.min(batch, rows - r0);
            pool.parallelFor(n, grain, (worker, start, end) -> {
                float[] x = scratch[worker];
                for (int r = start; r < end; r++) {
                    long row = first + r;
                    from.dequantize(src, row * inRow, x, 0, rowLength);
                    int bad = firstNonFinite(x, rowLength);
                    if (bad >= 0) {
                        throw new PanamaxException(file + ": tensor '" + info.name() + "' has a non-finite value ("
                                + x[bad] + ") in row " + row + " at column " + bad + "; refusing to write a broken file");
                    }
                    to.quantize(x, 0, buffer, (long) r * outRow, rowLength);
                }
            });
            sink.write(buffer.asSlice(0, n * outRow));
            advance.bytes(n * inRow);
        }
    }

    /** Index of the first NaN or infinity, or -1 (an int-min reduction C2 vectorizes). */
    static int firstNonFinite(float[] x, int n) {
        int acc = Integer.MAX_VALUE;
        for (int i = 0; i < n; i++) {
            acc = Math.min(acc, (Float.floatToRawIntBits(x[i]) & 0x7f80_0000) ^ 0x7f80_0000);
        }
        if (acc != 0) {
            return -1;
        }
        for (int i = 0; i < n; i++) {
            if (!Float.isFinite(x[i])) {
                return i;
            }
        }
        return -1;
    }
}
