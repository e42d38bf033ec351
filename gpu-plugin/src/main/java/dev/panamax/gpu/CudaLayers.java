package dev.panamax.gpu;

import dev.panamax.engine.backend.LayerOffload;
import dev.panamax.engine.backend.LayerRunner;
import dev.panamax.engine.backend.OffloadPlan;
import dev.panamax.engine.model.Architecture.RopeLayout;
import dev.panamax.engine.model.KvCache;
import dev.panamax.engine.model.LayerWeights;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.RopeTable;
import dev.panamax.engine.model.Vec;
import dev.panamax.engine.model.Weights;
import dev.panamax.gguf.GgmlType;
import dev.panamax.kernels.QuantMatrix;
import dev.panamax.kernels.WorkerPool;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * Layers {@code [first, end)} of a model, and optionally its final norm and output head, on a GPU.
 *
 * <p>Memory: each layer's weights are one device allocation holding the GGUF blocks exactly as in
 * the file (uploaded straight from the mapped tensors); Q, K and V (and gate and up) share one
 * matrix when their types agree, so one kernel computes all three, biases concatenated alike. The
 * KV cache of a layer is one allocation ([position][kv head] rows of the cache type, like the CPU's
 * {@code KvCache}). Activations live in scratch buffers sized once for {@code maxTokens}.
 *
 * <p>Per layer: rmsnorm (writing the next product's input form), QKV product (+ bias), q/k norm +
 * rope + cache store, attention (split over positions, then merged), Wo product added into the
 * hidden state, rmsnorm, gate/up product, SwiGLU, down product added into the hidden state. Up to
 * {@link DeviceTypes#MATVEC_TOKENS} tokens use matrix-vector kernels on int8 activations, more use
 * tensor-core matrix kernels on f16 activations. A decode step (one token) is recorded once into a
 * graph and replayed, the position read from device memory, so a step costs two graph launches.
 *
 * <p>The hidden state arrives through page-locked memory; only the logits asked for return.
 *
 * <p>When layers before {@code first} run on the CPU, big batches of them can run here
 * ({@link #cpuLayers()}): each layer is copied from the mapped file into one staging allocation laid
 * out like a resident layer, with its cache's earlier positions, and computed by the same kernels
 * while this runner's scratch is idle; the batch's keys and values go back to the CPU's cache.
 */
final class CudaLayers implements LayerRunner {
    private static final int SCRATCH_ALIGN = 256;
    /**
     * Threads of a prompt's rmsnorm, a block a row: 10 values a thread at 5120 (1024 threads:
     * Qwen3-0.6B pp512 20.2k/19.5k, 512: 23.6k/24.1k tokens/s on an H200; 14B unchanged).
     */
    private static final int NORM_THREADS = 512;

    private final Gpu gpu;
    private final Gpu.Stream stream;
    /** Beside {@link #stream}: a decode product's smaller parts run here alongside its first. */
    private final Gpu.Stream side;
    private final ModelConfig c;
    private final int first;
    private final int end;
    private final boolean withHead;
    private final int context;
    private final int maxTokens;
    private final GgmlType keyType;
    private final GgmlType valueType;
    private boolean graphs;
    private final List<Long> allocations = new ArrayList<>();
    private long deviceBytes;
    private final List<MemorySegment> hostBuffers = new ArrayList<>();

    /** A weight matrix on the device (GGUF blocks as in the file). */
    record Mat(long ptr, GgmlType type, int rows, int cols) {}

    /** Matrices writing into one output row: piece i fills output rows [rowOffset[i], +rows). */
    record Proj(Mat[] parts, int[] rowOffset, long bias) {}

    private static final class Layer {
        long attnNorm;
        long ffnNorm;
        long qNorm;
        long kNorm;
        Proj qkv;
        Mat wo;
        Proj gateUp;
        Mat down;
        long keys;
        long values;
    }

    private final Layer[] layers;
    private long outNorm;
    private Mat head;

    // scratch (device)
    private final int maxK;
    private final int qkvDim;
    private final int attDim;
    private final int splitsDecode;
    private final long x;
    private final long nf;
    private final long nq;
    private final long nd;
    private final long ns;
    private final long nh;
    private final long qkv;
    private final long att;
    private final long gu;
    private final long part;
    /** Per kv head: attention_gqa's blocks done in the running layer (0 between launches). */
    private final long attentionTickets;
    private final long logitsDev;
    private final long argmaxDev;
    private final long posDev;
    private final long ropeCos;
    private final long ropeSin;
    // page-locked host buffers
    private final MemorySegment hostX;
    private final MemorySegment hostPos;
    private final MemorySegment hostLogits;
    private final MemorySegment hostArgmax;

    // running the CPU's layers for big batches (staging 0: not offered)
    private final long staging;           // device: the streamed layer, then its keys and values
    private final long stagingKeys;
    private final long stagingValues;
    private final Streamed[] streamed;    // per CPU layer: its layout in the staging allocation
    private final MemorySegment[] hostLayer;  // two page-locked buffers: a layer, then its cached rows
    private final MemorySegment hostNewKv;    // page-locked: the batch's keys and values of every CPU layer

    private final boolean anyFloatWeights;
    /**
     * Whether batches may attend with attention_tc (else attention_tiles, which the larger head sizes
     * use anyway): tests turn it off to run the shared-memory kernel on small models.
     */
    static volatile boolean attentionTensorCores = true;
    /** Head sizes attention_tc handles (hd a multiple of 16, vd of 8, both at most 128). */
    private final boolean tensorCoreAttention;
    /**
     * Whether a decode step attends with attention_gqa (each kv head's query heads together on
     * tensor cores, merged in the same launch): tensor-core head sizes, vd a multiple of 32, at most
     * 16 query heads a kv head.
     */
    private final boolean groupedDecodeAttention;
    private Gpu.Graph decodeGraph;
    private Gpu.Graph headGraph;
    private int lastTokens;
    private boolean closed;

    CudaLayers(Gpu gpu, ModelConfig c, Weights w, int first, int end, boolean withHead, int context,
            GgmlType keyType, GgmlType valueType, int maxTokens, boolean useGraphs) {
        this.gpu = gpu;
        this.c = c;
        this.first = first;
        this.end = end;
        this.withHead = withHead;
        this.context = context;
        this.maxTokens = maxTokens;
        this.keyType = keyType;
        this.valueType = valueType;
        this.graphs = useGraphs;
        checkShapes(c, w, first, end, withHead, keyType, valueType);
        gpu.makeCurrent();
        this.stream = gpu.stream();
        this.side = gpu.stream();
        this.layers = new Layer[end - first];
        boolean floats = false;
        this.qkvDim = c.queryDim() + c.kvDim() + c.kvValueDim();
        this.attDim = c.heads() * c.valueDim();
        this.maxK = Math.max(Math.max(c.embedding(), attDim), c.feedForward());
        this.splitsDecode = Math.max(1, Math.min(32, context / 256));
        this.tensorCoreAttention = attentionTensorCores && c.headDim() % 16 == 0 && c.valueDim() % 8 == 0 && c.headDim() <= 128
                && c.valueDim() <= 128;
        this.groupedDecodeAttention = tensorCoreAttention && c.valueDim() % 32 == 0 && c.heads() / c.kvHeads() <= 16;
        try {
            for (int l = first; l < end; l++) {
                layers[l - first] = upload(w.layers()[l], l);
            }
            if (withHead) {
                long size = align(4L * c.embedding()) + region(matBytes(w.output()));
                long base = alloc(size);
                outNorm = base;
                gpu.upload(outNorm, vecData(w.outputNorm()));
                head = uploadMat(w.output(), base + align(4L * c.embedding()));
            }
            for (Layer layer : layers) {
                floats |= anyFloat(layer.qkv) || anyFloat(layer.gateUp) || isFloat(layer.wo) || isFloat(layer.down);
            }
            floats |= head != null && isFloat(head);
            this.anyFloatWeights = floats;
            int t = maxTokens;
            int headTokens = DeviceTypes.MATVEC_TOKENS;
            long bytes = 0;
            long[] sizes = {
                4L * t * c.embedding(),                         // x
                4L * t * maxK,                                  // nf
                (long) t * maxK,                                // nq
                4L * t * maxK / 32,                             // nd
                4L * t * maxK / 16,                             // ns
                2L * t * maxK,                                  // nh
                4L * t * qkvDim,                                // qkv
                4L * t * attDim,                                // att
                8L * t * c.feedForward(),                       // gu
                4L * c.heads() * Math.max((long) t * OffloadPlan.attentionSplits(context), splitsDecode)
                        * (c.valueDim() + 2L),                  // part
                withHead ? 4L * headTokens * c.vocab() : 0,     // logits
                4L * headTokens,                                // argmax
                4L * c.kvHeads(),                               // attention tickets
                4,                                              // pos
                4L * context * (c.rope().dims() / 2),           // rope cos
                4L * context * (c.rope().dims() / 2),           // rope sin
            };
            for (long s : sizes) {
                bytes += align(s);
            }
            long base = alloc(bytes);
            long[] at = new long[sizes.length];
            long o = base;
            for (int i = 0; i < sizes.length; i++) {
                at[i] = o;
                o += align(sizes[i]);
            }
            x = at[0];
            nf = at[1];
            nq = at[2];
            nd = at[3];
            ns = at[4];
            nh = at[5];
            qkv = at[6];
            att = at[7];
            gu = at[8];
            part = at[9];
            logitsDev = at[10];
            argmaxDev = at[11];
            attentionTickets = at[12];
            posDev = at[13];
            ropeCos = at[14];
            ropeSin = at[15];
            stream.memset(attentionTickets, 4L * c.kvHeads());
            uploadRope();
            hostX = host(4L * t * c.embedding());
            hostPos = host(64);
            hostLogits = host(withHead ? 4L * headTokens * c.vocab() : 64);
            hostArgmax = host(4L * headTokens);
            long st = 0;
            long sk = 0;
            long sv = 0;
            Streamed[] sl = null;
            MemorySegment[] hl = null;
            MemorySegment nkv = null;
            if (first > 0 && matmul && maxTokens >= LayerOffload.MIN_TOKENS) {
                try {
                    checkShapes(c, w, 0, first, false, keyType, valueType);
                    long largest = 0;
                    for (int l = 0; l < first; l++) {
                        largest = Math.max(largest, layerSize(w.layers()[l]));
                    }
                    long kBytes = (long) context * c.kvHeads() * keyType.bytesFor(c.headDim());
                    long vBytes = (long) context * c.kvHeads() * valueType.bytesFor(c.valueDim());
                    st = alloc(largest + align(kBytes) + align(vBytes));
                    sk = st + largest;
                    sv = sk + align(kBytes);
                    sl = new Streamed[first];
                    for (int l = 0; l < first; l++) {
                        sl[l] = streamedLayout(w.layers()[l], st, sk, sv);
                    }
                    hl = new MemorySegment[] {host(largest + kBytes + vBytes), host(largest + kBytes + vBytes)};
                    nkv = host((long) first * t * c.kvHeads()
                            * (keyType.bytesFor(c.headDim()) + valueType.bytesFor(c.valueDim())));
                } catch (RuntimeException e) {
                    st = 0;  // no room (device or page-locked memory) or no kernels: the CPU keeps its layers
                }
            }
            staging = st;
            stagingKeys = sk;
            stagingValues = sv;
            streamed = st == 0 ? null : sl;
            hostLayer = st == 0 ? null : hl;
            hostNewKv = st == 0 ? null : nkv;
            resolveKernels();
        } catch (RuntimeException | Error e) {
            release();
            throw e;
        }
    }

    /** Refuses shapes the kernels do not handle (the session then stays on the CPU). */
    static void checkShapes(ModelConfig c, Weights w, int first, int end, boolean withHead, GgmlType k, GgmlType v) {
        DeviceTypes.cacheId(k);
        DeviceTypes.cacheId(v);
        if (c.headDim() % 8 != 0 || c.headDim() > 256 || c.valueDim() % 8 != 0 || c.valueDim() > 256) {
            throw new GpuException("head sizes " + c.headDim() + "/" + c.valueDim() + " are not supported on the GPU"
                    + " (multiples of 8 up to 256)");
        }
        if ((k == GgmlType.Q8_0 && c.headDim() % 32 != 0) || (v == GgmlType.Q8_0 && c.valueDim() % 32 != 0)) {
            throw new GpuException("a Q8_0 KV cache needs head sizes that are multiples of 32");
        }
        if (c.embedding() % 32 != 0 || c.feedForward() % 32 != 0 || (c.heads() * c.valueDim()) % 32 != 0) {
            throw new GpuException("GPU kernels need model dimensions that are multiples of 32");
        }
        for (int l = first; l < end; l++) {
            LayerWeights lw = w.layers()[l];
            for (QuantMatrix m : new QuantMatrix[] {lw.wq(), lw.wk(), lw.wv(), lw.wo(), lw.gate(), lw.up(), lw.down()}) {
                checkType(m, "blk." + l);
            }
        }
        if (withHead) {
            checkType(w.output(), "output");
        }
    }

    private static void checkType(QuantMatrix m, String where) {
        GgmlType t = m.format().type();
        if (!DeviceTypes.weight(t)) {
            throw new GpuException(where + ": weight type " + t + " has no GPU kernel");
        }
    }

    private static long align(long n) {
        return (n + SCRATCH_ALIGN - 1) / SCRATCH_ALIGN * SCRATCH_ALIGN;
    }

    /** Room for a weight matrix: aligned, with a tail the 2-byte-aligned block loads may read into. */
    private static long region(long matrixBytes) {
        return align(matrixBytes + 64);
    }

    private long alloc(long bytes) {
        long p = gpu.alloc(bytes);
        allocations.add(p);
        deviceBytes += bytes;
        return p;
    }

    private MemorySegment host(long bytes) {
        MemorySegment s = gpu.allocHost(bytes);
        hostBuffers.add(s);
        return s;
    }

    private static long matBytes(QuantMatrix m) {
        return m.rowBytes() * m.rows();
    }

    private static MemorySegment vecData(Vec v) {
        return v.data().asSlice(0, 4L * v.size());
    }

    private Mat uploadMat(QuantMatrix m, long at) {
        gpu.upload(at, m.data().asSlice(0, matBytes(m)));
        return new Mat(at, m.format().type(), m.rows(), m.cols());
    }

    private static boolean isFloat(Mat m) {
        return DeviceTypes.isFloat(m.type());
    }

    private static boolean anyFloat(Proj p) {
        for (Mat m : p.parts()) {
            if (isFloat(m)) {
                return true;
            }
        }
        return false;
    }

    /** Where a layout puts one piece: device address, and the host bytes that go there. */
    @FunctionalInterface
    interface Put {
        void put(long device, MemorySegment from);
    }

    /** Device bytes of one layer's layout (see {@link #layout}). */
    private long layerSize(LayerWeights lw) {
        boolean biases = lw.bq() != null || lw.bk() != null || lw.bv() != null;
        long size = 2 * align(4L * c.embedding()) + (biases ? align(4L * qkvDim) : 0)
                + (lw.qNorm() != null ? align(4L * c.headDim()) : 0) + (lw.kNorm() != null ? align(4L * c.headDim()) : 0);
        for (QuantMatrix m : new QuantMatrix[] {lw.wq(), lw.wk(), lw.wv()}) {
            size += region(matBytes(m));
        }
        for (QuantMatrix m : new QuantMatrix[] {lw.gate(), lw.up()}) {
            size += region(matBytes(m));
        }
        return size + region(matBytes(lw.wo())) + region(matBytes(lw.down()));
    }

    /** Uploads one layer and allocates its KV cache. */
    private Layer upload(LayerWeights lw, int index) {
        Layer L = layout(lw, alloc(layerSize(lw)), gpu::upload);
        long kBytes = (long) context * c.kvHeads() * keyType.bytesFor(c.headDim());
        long vBytes = (long) context * c.kvHeads() * valueType.bytesFor(c.valueDim());
        long kv = alloc(align(kBytes) + align(vBytes));
        L.keys = kv;
        L.values = kv + align(kBytes);
        return L;
    }

    /**
     * Lays out one layer from {@code base}: [norms | biases | q,k,v | wo | gate,up | down], each
     * 256-aligned, handing each piece to {@code put}; the cache pointers are left to the caller.
     */
    private Layer layout(LayerWeights lw, long base, Put put) {
        Layer L = new Layer();
        QuantMatrix[] qkvM = {lw.wq(), lw.wk(), lw.wv()};
        QuantMatrix[] guM = {lw.gate(), lw.up()};
        boolean biases = lw.bq() != null || lw.bk() != null || lw.bv() != null;
        long o = base;
        L.attnNorm = o;
        put.put(o, vecData(lw.attnNorm()));
        o += align(4L * c.embedding());
        L.ffnNorm = o;
        put.put(o, vecData(lw.ffnNorm()));
        o += align(4L * c.embedding());
        long bias = 0;
        if (biases) {
            bias = o;
            MemorySegment all = MemorySegment.ofArray(new float[qkvDim]);  // zeros where a bias is missing
            copyVec(lw.bq(), all, 0);
            copyVec(lw.bk(), all, c.queryDim());
            copyVec(lw.bv(), all, c.queryDim() + c.kvDim());
            MemorySegment off = java.lang.foreign.Arena.ofAuto().allocate(4L * qkvDim, 16);
            off.copyFrom(all);
            put.put(o, off);
            o += align(4L * qkvDim);
        }
        if (lw.qNorm() != null) {
            L.qNorm = o;
            put.put(o, vecData(lw.qNorm()));
            o += align(4L * c.headDim());
        }
        if (lw.kNorm() != null) {
            L.kNorm = o;
            put.put(o, vecData(lw.kNorm()));
            o += align(4L * c.headDim());
        }
        long[] at = {o};
        L.qkv = placeGroup(qkvM, new int[] {0, c.queryDim(), c.queryDim() + c.kvDim()}, bias, at, put);
        L.wo = placeMat(lw.wo(), at[0], put);
        at[0] += region(matBytes(lw.wo()));
        L.gateUp = placeGroup(guM, new int[] {0, c.feedForward()}, 0, at, put);
        L.down = placeMat(lw.down(), at[0], put);
        return L;
    }

    private static Mat placeMat(QuantMatrix m, long at, Put put) {
        put.put(at, m.data().asSlice(0, matBytes(m)));
        return new Mat(at, m.format().type(), m.rows(), m.cols());
    }

    /** A CPU layer's layout in the staging allocation, and the host pieces to copy there, in chunks. */
    private record Streamed(Layer layer, long bytes, MemorySegment[] from, long[] to) {}

    /** Bytes each worker copies at a time from the mapped file into page-locked memory. */
    private static final int COPY_CHUNK = 1 << 20;

    private Streamed streamedLayout(LayerWeights lw, long base, long keys, long values) {
        List<MemorySegment> from = new ArrayList<>();
        List<Long> to = new ArrayList<>();
        Layer L = layout(lw, base, (device, piece) -> {
            for (long off = 0; off < piece.byteSize(); off += COPY_CHUNK) {
                from.add(piece.asSlice(off, Math.min(COPY_CHUNK, piece.byteSize() - off)));
                to.add(device - base + off);
            }
        });
        L.keys = keys;
        L.values = values;
        long[] t = new long[to.size()];
        for (int i = 0; i < t.length; i++) {
            t[i] = to.get(i);
        }
        return new Streamed(L, layerSize(lw), from.toArray(new MemorySegment[0]), t);
    }

    private static void copyVec(Vec v, MemorySegment dst, int at) {
        if (v != null) {
            MemorySegment.copy(v.data(), 0, dst, 4L * at, 4L * v.size());
        }
    }

    /** -Dpanamax.cuda.mergeRuns=false merges only products whose parts all share a type (the previous rule). */
    static final boolean MERGE_RUNS = !"false".equalsIgnoreCase(System.getProperty("panamax.cuda.mergeRuns"));

    private static boolean allSame(QuantMatrix[] ms) {
        for (QuantMatrix m : ms) {
            if (m.format().type() != ms[0].format().type() || m.cols() != ms[0].cols()) {
                return false;
            }
        }
        return true;
    }

    /**
     * Places matrices that write one output row side by side: each run of neighbours that share a
     * type and width as a single matrix (consecutive rows, so one kernel computes them all; a mixed
     * recipe's query and key with a value of another type are two products, not three).
     */
    static Proj placeGroup(QuantMatrix[] ms, int[] rowOffsets, long bias, long[] at, Put put) {
        List<Mat> parts = new ArrayList<>();
        List<Integer> offsets = new ArrayList<>();
        boolean merge = MERGE_RUNS || allSame(ms);
        for (int i = 0; i < ms.length; ) {
            int j = i + 1;
            while (merge && j < ms.length && ms[j].format().type() == ms[i].format().type() && ms[j].cols() == ms[i].cols()) {
                j++;
            }
            long start = at[0];
            long o = start;
            int rows = 0;
            for (int k = i; k < j; k++) {
                put.put(o, ms[k].data().asSlice(0, matBytes(ms[k])));
                o += matBytes(ms[k]);
                rows += ms[k].rows();
            }
            at[0] = start + region(o - start);
            parts.add(new Mat(start, ms[i].format().type(), rows, ms[i].cols()));
            offsets.add(rowOffsets[i]);
            i = j;
        }
        return new Proj(parts.toArray(new Mat[0]), offsets.stream().mapToInt(Integer::intValue).toArray(), bias);
    }

    private void uploadRope() {
        int half = c.rope().dims() / 2;
        RopeTable table = new RopeTable(c.rope());
        float[] cos = new float[context * half];
        float[] sin = new float[context * half];
        for (int p = 0; p < context; p++) {
            table.angles(p, cos, sin, p * half);
        }
        MemorySegment buf = java.lang.foreign.Arena.ofAuto().allocate(4L * cos.length, 16);
        MemorySegment.copy(cos, 0, buf, ValueLayout.JAVA_FLOAT, 0, cos.length);
        gpu.upload(ropeCos, buf);
        MemorySegment.copy(sin, 0, buf, ValueLayout.JAVA_FLOAT, 0, sin.length);
        gpu.upload(ropeSin, buf);
    }

    /** Looks up every kernel a forward pass can use, so a missing one fails at load, not mid-generation. */
    private void resolveKernels() {
        for (String k : new String[] {"rmsnorm", "rmsnorm_split", "swiglu", "qkv_post", "attention", "attention_tiles",
                "attention_tc", "attention_tc_q8", "attention_gqa", "attention_gqa_q8", "attention_combine",
                "attention_combine_rows", "argmax"}) {
            gpu.kernel(k);
        }
        for (Layer L : layers) {
            for (Mat m : L.qkv.parts()) {
                resolve(m);
            }
            for (Mat m : L.gateUp.parts()) {
                resolve(m);
            }
            resolve(L.wo);
            resolve(L.down);
        }
        if (head != null) {
            resolve(head);
        }
    }

    private void resolve(Mat m) {
        DeviceTypes.matvecKernels(m.type()).forEach(gpu::kernel);
        gpu.kernel(DeviceTypes.matvec(m.type(), 2, 1));
        if (maxTokens > DeviceTypes.MATVEC_TOKENS) {
            gpu.kernel(DeviceTypes.matmul(m.type(), 16));
            gpu.kernel(DeviceTypes.matmul(m.type(), 128));
        }
    }

    @Override
    public int firstLayer() {
        return first;
    }

    @Override
    public int endLayer() {
        return end;
    }

    @Override
    public boolean hasHead() {
        return withHead;
    }

    /** Device bytes this runner holds. */
    long deviceBytes() {
        return deviceBytes;
    }

    @Override
    public void forward(float[] hidden, int tokens, int pos0) {
        if (tokens < 1 || tokens > maxTokens) {
            throw new IllegalArgumentException("tokens " + tokens + " outside 1.." + maxTokens);
        }
        if (pos0 + tokens > context) {
            throw new IllegalArgumentException("positions up to " + (pos0 + tokens) + " exceed the context " + context);
        }
        gpu.makeCurrent();
        stream.synchronize();  // the previous step no longer reads the page-locked buffers
        int dim = c.embedding();
        MemorySegment.copy(hidden, 0, hostX, ValueLayout.JAVA_FLOAT, 0, tokens * dim);
        hostPos.set(ValueLayout.JAVA_INT, 0, pos0);
        lastTokens = tokens;
        if (tokens == 1 && graphs) {
            if (decodeGraph == null) {
                decodeGraph = capture(() -> enqueueForward(1));
            }
        }
        if (tokens == 1 && decodeGraph != null) {
            decodeGraph.launch();
        } else {
            enqueueForward(tokens);
        }
        if (!withHead) {
            stream.download(hostX, x, 4L * tokens * dim);
            stream.synchronize();
            MemorySegment.copy(hostX, ValueLayout.JAVA_FLOAT, 0, hidden, 0, tokens * dim);
        }
    }

    @Override
    public void logits(int firstToken, int count, float[] out, int offset) {
        checkHead(firstToken, count);
        gpu.makeCurrent();
        if (count == 1 && firstToken == 0 && graphs && headGraph == null) {
            headGraph = capture(() -> enqueueHead(0, 1, false));
        }
        if (count == 1 && firstToken == 0 && headGraph != null) {
            headGraph.launch();
        } else {
            enqueueHead(firstToken, count, false);
        }
        stream.synchronize();
        MemorySegment.copy(hostLogits, ValueLayout.JAVA_FLOAT, 0, out, offset, count * c.vocab());
    }

    /**
     * Greedy sampling on the device: the index of the largest logit of each of tokens
     * {@code first .. first+count-1} of the last forward call; only token ids cross back.
     */
    int[] argmax(int firstToken, int count) {
        checkHead(firstToken, count);
        gpu.makeCurrent();
        enqueueHead(firstToken, count, true);
        stream.synchronize();
        int[] r = new int[count];
        MemorySegment.copy(hostArgmax, ValueLayout.JAVA_INT, 0, r, 0, count);
        return r;
    }

    private void checkHead(int firstToken, int count) {
        if (!withHead) {
            throw new UnsupportedOperationException("this runner has no output head");
        }
        if (count < 1 || count > DeviceTypes.MATVEC_TOKENS || firstToken < 0 || firstToken + count > lastTokens) {
            throw new IllegalArgumentException("logits of tokens " + firstToken + ".." + (firstToken + count - 1)
                    + " of the last " + lastTokens + " (at most " + DeviceTypes.MATVEC_TOKENS + " at a time)");
        }
    }

    /** Decode steps whose graph could not be recorded, in this process (they then run kernel by kernel). */
    static final java.util.concurrent.atomic.AtomicInteger GRAPH_FAILURES = new java.util.concurrent.atomic.AtomicInteger();
    static volatile String lastGraphFailure;

    /** Records work into a graph; on failure turns graphs off for this runner and returns null. */
    private Gpu.Graph capture(Runnable work) {
        try {
            stream.beginCapture();
        } catch (RuntimeException e) {
            return graphFailed(e);
        }
        try {
            work.run();
        } catch (RuntimeException e) {
            try {
                stream.endCapture().close();
            } catch (RuntimeException ignored) {
                // the capture is invalid anyway
            }
            return graphFailed(e);
        }
        try {
            return stream.endCapture();
        } catch (RuntimeException e) {
            return graphFailed(e);
        }
    }

    private Gpu.Graph graphFailed(RuntimeException e) {
        graphs = false;
        GRAPH_FAILURES.incrementAndGet();
        lastGraphFailure = String.valueOf(e.getMessage());
        return null;
    }

    // ---- enqueueing ---------------------------------------------------------------------------

    /** Rows per warp of the one-token matrix-vector kernels, 0 for each type's own (a profile tries others). */
    private int matvecRows;
    /** While a profile runs: every launch with the marks around it. */
    private List<Timed> timed;

    private record Timed(String what, Gpu.Mark before, Gpu.Mark after) {}

    /** While an ablation profile records: the kernels left out. */
    private java.util.function.Predicate<String> skipped;

    /**
     * What each group of kernels costs inside the recorded decode step, where launches overlap and
     * events would distort: the step recorded without that group, replayed {@code repeats} times,
     * against the whole step ({@code "all"}). The results of a step without some kernels are wrong, so
     * the whole step runs once more at the end (same position, same cache row as before).
     */
    Map<String, Double> profileAblation(Map<String, java.util.function.Predicate<String>> groups, int repeats) {
        gpu.makeCurrent();
        stream.synchronize();
        Map<String, Double> ms = new LinkedHashMap<>();
        ms.put("all", replayMs(null, repeats));
        groups.forEach((name, p) -> ms.put(name, replayMs(p, repeats)));
        enqueueForward(1);
        stream.synchronize();
        return ms;
    }

    private double replayMs(java.util.function.Predicate<String> skip, int repeats) {
        boolean graphsBefore = graphs;
        skipped = skip;
        Gpu.Graph g;
        try {
            g = capture(() -> enqueueForward(1));
        } finally {
            skipped = null;
        }
        if (g == null) {  // a failed recording turned graphs off: decode steps keep their own graph
            graphs = graphsBefore;
            return Double.NaN;
        }
        try (g) {
            g.launch();
            Gpu.Mark a = stream.mark();
            for (int i = 0; i < repeats; i++) {
                g.launch();
            }
            Gpu.Mark b = stream.mark();
            stream.synchronize();
            double r = b.millisSince(a) / repeats;
            a.close();
            b.close();
            return r;
        }
    }

    private void launch(String kernel, int gx, int gy, int gz, int block, Object... args) {
        launchOn(stream, kernel, gx, gy, gz, block, args);
    }

    private void launchOn(Gpu.Stream s, String kernel, int gx, int gy, int gz, int block, Object... args) {
        if (skipped != null && skipped.test(kernel)) {
            return;
        }
        Gpu.Kernel k = gpu.kernel(kernel);
        if (timed == null) {
            s.launch(k, gx, gy, gz, block, args);
            return;
        }
        Gpu.Mark before = stream.mark();
        stream.launch(k, gx, gy, gz, block, args);
        timed.add(new Timed(kernel + " " + gx + "x" + gy + "x" + gz, before, stream.mark()));
    }

    /**
     * Where a decode step's device time goes: {@code repeats} replays of the recorded step (when
     * graphs are on) timed as a whole, then the step and the head once more kernel by kernel
     * between events, with {@code rowsPerWarp} rows per warp in the one-token matrix-vector
     * kernels (0: each type's own). Re-runs the last position (same cache row, same result), so
     * call it after a decode step.
     */
    Profile profileDecode(int rowsPerWarp, int repeats) {
        gpu.makeCurrent();
        stream.synchronize();
        double graphMs = Double.NaN;
        double launchMs = Double.NaN;
        double singleMs = Double.NaN;
        if (decodeGraph != null) {
            Gpu.Mark a = stream.mark();
            for (int i = 0; i < repeats; i++) {
                decodeGraph.launch();
            }
            Gpu.Mark b = stream.mark();
            stream.synchronize();
            graphMs = b.millisSince(a) / repeats;
            a.close();
            b.close();
            // one step at a time as decode runs it: the host's launch call, and launch to completion
            long call = 0;
            long whole = 0;
            for (int i = 0; i < repeats; i++) {
                long t0 = System.nanoTime();
                decodeGraph.launch();
                long t1 = System.nanoTime();
                stream.synchronize();
                long t2 = System.nanoTime();
                call += t1 - t0;
                whole += t2 - t0;
            }
            launchMs = call / 1e6 / repeats;
            singleMs = whole / 1e6 / repeats;
        }
        int rows = matvecRows;
        matvecRows = rowsPerWarp;
        timed = new ArrayList<>();
        try {
            enqueueForward(1);
            if (withHead) {
                enqueueHead(0, 1, false);
            }
            stream.synchronize();
            return new Profile(graphMs, launchMs, singleMs, timesBy(java.util.function.Function.identity()));
        } finally {
            timed = null;
            matvecRows = rows;
        }
    }

    /**
     * Where the last forward call's device time goes (a prompt's last micro-batch, say): the same
     * tokens and positions once more, kernel by kernel between events (same cache rows, same result).
     */
    Profile profileLastForward() {
        gpu.makeCurrent();
        stream.synchronize();
        timed = new ArrayList<>();
        try {
            Gpu.Mark a = stream.mark();
            enqueueForward(lastTokens);
            Gpu.Mark b = stream.mark();
            stream.synchronize();
            double total = b.millisSince(a);
            a.close();
            b.close();
            // by kernel: a prompt's products differ only in their grids
            return new Profile(total, Double.NaN, Double.NaN, timesBy(what -> what.split(" ")[0]));
        } finally {
            timed = null;
        }
    }

    /** The timed launches' {ms, launches} grouped by {@code key} of "kernel grid", releasing their marks. */
    private Map<String, double[]> timesBy(java.util.function.Function<String, String> key) {
        Map<String, double[]> by = new LinkedHashMap<>();
        for (Timed t : timed) {
            double[] v = by.computeIfAbsent(key.apply(t.what()), w -> new double[2]);
            v[0] += t.after().millisSince(t.before());
            v[1]++;
            t.before().close();
            t.after().close();
        }
        return by;
    }

    /**
     * {@link #profileDecode}'s and {@link #profileLastForward}'s result: graphMs, the device time of a
     * recorded step (back to back) or of the forward call; launchMs, the host's launch call of one
     * recorded step on an idle device, and singleMs, from that call to the step's completion (NaN
     * without graphs and for a forward call); and per kernel and grid {ms, launches}.
     */
    record Profile(double graphMs, double launchMs, double singleMs, Map<String, double[]> byKernel) {
        double kernelsMs() {
            return byKernel.values().stream().mapToDouble(v -> v[0]).sum();
        }
    }

    /**
     * Whether prompts use the tensor-core matrix kernels (else matrix-vector kernels, 8 tokens at a
     * time): -Dpanamax.cuda.matmul=false, or the device check when those kernels fail their checks.
     */
    static volatile boolean matmul = !"false".equalsIgnoreCase(System.getProperty("panamax.cuda.matmul"));

    /** Input forms of the next product, chosen by token count. */
    private boolean small(int tokens) {
        return tokens <= DeviceTypes.MATVEC_TOKENS || !matmul;
    }

    private void enqueueForward(int tokens) {
        stream.upload(x, hostX, 4L * tokens * c.embedding());
        stream.upload(posDev, hostPos, 4);
        for (Layer L : layers) {
            enqueueLayer(L, tokens);
        }
    }

    private void enqueueLayer(Layer L, int t) {
        int dim = c.embedding();
        boolean small = small(t);
        long of = small && anyFloatWeights ? nf : 0;
        long oq = small ? nq : 0;
        long oh = small ? 0 : nh;
        norm(x, t, dim, L.attnNorm, of, oq, oh);
        product(L.qkv, t, nf, qkv, qkvDim, false);
        int heads = c.heads();
        int kvh = c.kvHeads();
        launch("qkv_post", heads + 2 * kvh, t, 1, 128, qkv, qkvDim, heads, kvh, c.headDim(), c.valueDim(),
                L.qNorm, L.kNorm, c.rmsEps(), ropeCos, ropeSin, c.rope().dims(),
                c.arch().ropeLayout() == RopeLayout.NEOX ? 1 : 0, posDev, L.keys, L.values,
                DeviceTypes.cacheId(keyType), DeviceTypes.cacheId(valueType));
        int splits = t == 1 ? splitsDecode : small || !tensorCoreAttention ? 1 : promptSplits(t);
        float scale = (float) (1.0 / Math.sqrt(c.headDim()));
        if (t == 1 && groupedDecodeAttention) {  // merges its splits itself: no attention_combine
            boolean q8 = keyType == GgmlType.Q8_0 && valueType == GgmlType.Q8_0;
            launch(q8 ? "attention_gqa_q8" : "attention_gqa", kvh, splits, 1, 128, qkv, L.keys, L.values,
                    DeviceTypes.cacheId(keyType),
                    DeviceTypes.cacheId(valueType), heads, kvh, c.headDim(), c.valueDim(), posDev, scale, splits, part,
                    attentionTickets, att, oq, nd, ns);
        } else if (small) {
            launch("attention", heads, t, splits, 128, qkv, qkvDim, L.keys, L.values, DeviceTypes.cacheId(keyType),
                    DeviceTypes.cacheId(valueType), heads, kvh, c.headDim(), c.valueDim(), posDev, scale, splits, part);
        } else if (tensorCoreAttention) {  // many tokens: 16 at a time on tensor cores
            boolean q8 = keyType == GgmlType.Q8_0 && valueType == GgmlType.Q8_0;
            launch(q8 ? "attention_tc_q8" : "attention_tc", heads, (t + 15) / 16, splits, 32, qkv, qkvDim, L.keys,
                    L.values, DeviceTypes.cacheId(keyType), DeviceTypes.cacheId(valueType), heads, kvh, c.headDim(), c.valueDim(),
                    t, posDev, scale, splits, part);
        } else {  // many tokens: each key tile is read once for 16 of them
            launch("attention_tiles", heads, (t + 15) / 16, 1, 128, qkv, qkvDim, L.keys, L.values,
                    DeviceTypes.cacheId(keyType), DeviceTypes.cacheId(valueType), heads, kvh, c.headDim(), c.valueDim(),
                    t, posDev, scale, part);
        }
        int vd = c.valueDim();
        if (t == 1 && groupedDecodeAttention) {
            // merged above
        } else if (vd % 32 == 0) {  // a block per head; each warp quantizes one block of 32
            launch("attention_combine", heads, t, 1, vd, part, heads, vd, splits, att, oq,
                    oq == 0 ? 0L : nd, oq == 0 ? 0L : ns, oh);
        } else {
            launch("attention_combine_rows", t, 1, 1, 1024, part, heads, vd, splits, att, oq,
                    oq == 0 ? 0L : nd, oq == 0 ? 0L : ns, oh);
        }
        product(new Proj(new Mat[] {L.wo}, new int[] {0}, 0), t, att, x, dim, true);
        norm(x, t, dim, L.ffnNorm, of, oq, oh);
        int ff = c.feedForward();
        product(L.gateUp, t, nf, gu, 2 * ff, false);
        launch("swiglu", (ff + 255) / 256, t, 1, 256, gu, gu + 4L * ff, 2 * ff, ff, of, oq,
                oq == 0 ? 0L : nd, oq == 0 ? 0L : ns, oh);
        product(new Proj(new Mat[] {L.down}, new int[] {0}, 0), t, nf, x, dim, true);
    }

    /**
     * rmsnorm of {@code t} rows of x (dim values each) with weight {@code w}, written in the requested
     * forms (of f32, oq int8 with nd/ns, oh f16; 0: not wanted). A few tokens spread each row over
     * blocks of 256 values (rmsnorm_split; one block a row took ~5 us on an H100), more use a block a row.
     */
    private void norm(long rows, int t, int dim, long w, long of, long oq, long oh) {
        long od = oq == 0 ? 0L : nd;
        long os = oq == 0 ? 0L : ns;
        if (t <= DeviceTypes.MATVEC_TOKENS) {
            launch("rmsnorm_split", (dim + 255) / 256, t, 1, 256, rows, dim, dim, w, c.rmsEps(), of, oq, od, os, oh);
        } else {
            launch("rmsnorm", t, 1, 1, NORM_THREADS, rows, dim, dim, w, c.rmsEps(), of, oq, od, os, oh);
        }
    }

    /** Key ranges of a batch's attention: about 128 keys a warp (attention_tc), as many as the scratch holds. */
    private int promptSplits(int t) {
        int keys = hostPos.get(ValueLayout.JAVA_INT, 0) + t;
        return Math.max(1, Math.min(OffloadPlan.attentionSplits(context), keys / 128));
    }

    /** -Dpanamax.cuda.parallelParts=false keeps a product's parts on one stream (to measure what the side stream buys). */
    static final boolean PARALLEL_PARTS = !"false".equalsIgnoreCase(System.getProperty("panamax.cuda.parallelParts"));

    /**
     * out[t*ys + row] (+)= the product's row for each token; f32 input {@code xf} (float weights with
     * few tokens), else the int8 (few tokens) or f16 forms in the shared scratch.
     */
    private void product(Proj p, int t, long xf, long y, int ys, boolean acc) {
        // the parts write different rows: with few tokens the later (smaller) parts run on the side
        // stream beside the first, their few blocks on multiprocessors the first leaves idle, and in a
        // recorded step they become a parallel branch of the graph (timed profiles keep one stream)
        boolean fork = PARALLEL_PARTS && p.parts().length > 1 && small(t) && timed == null;
        Gpu.Mark forked = fork ? stream.mark() : null;
        if (fork) {
            side.waitFor(forked);
        }
        for (int i = 0; i < p.parts().length; i++) {
            Mat m = p.parts()[i];
            Gpu.Stream s = fork && i > 0 ? side : stream;
            int off = p.rowOffset()[i];
            long out = y + 4L * off;
            long bias = p.bias() == 0 ? 0L : p.bias() + 4L * off;
            int a = acc ? 1 : 0;
            if (small(t)) {
                int K = m.cols();
                for (int c0 = 0; c0 < t; c0 += DeviceTypes.MATVEC_TOKENS) {  // one chunk unless matmul is off
                    int n = Math.min(DeviceTypes.MATVEC_TOKENS, t - c0);
                    int rpw = matvecRows > 0 ? matvecRows : DeviceTypes.matvecRows(m.type(), m.rows());
                    String kernel = DeviceTypes.matvec(m.type(), n, rpw);
                    int per = DeviceTypes.matvecRowsPerBlock(m.type(), n, rpw);
                    int grid = (m.rows() + per - 1) / per;
                    long o = out + 4L * c0 * ys;
                    if (isFloat(m)) {
                        launchOn(s, kernel, grid, 1, 1, 128, m.ptr(), m.rows(), K,
                                xf + 4L * c0 * K, o, ys, bias, a, n);
                    } else {
                        launchOn(s, kernel, grid, 1, 1, 128, m.ptr(), m.rows(), K,
                                nq + (long) c0 * K, nd + 4L * c0 * (K / 32), ns + 4L * c0 * (K / 16), o, ys, bias, a, n);
                    }
                }
            } else {
                int bn = DeviceTypes.matmulTile(m.rows(), t, gpu.multiprocessors());
                launch(DeviceTypes.matmulKernel(m.type(), bn), (m.rows() + 127) / 128, (t + bn - 1) / bn, 1, 256,
                        m.ptr(), m.rows(), m.cols(), nh, t, out, ys, bias, a);
            }
        }
        if (fork) {
            Gpu.Mark joined = side.mark();
            stream.waitFor(joined);
            forked.close();  // the driver keeps a recorded or awaited event until it is done with it
            joined.close();
        }
    }

    private void enqueueHead(int firstToken, int count, boolean argmax) {
        int dim = c.embedding();
        long of = isFloat(head) ? nf : 0;
        norm(x + 4L * firstToken * dim, count, dim, outNorm, of, nq, 0L);
        product(new Proj(new Mat[] {head}, new int[] {0}, 0), count, nf, logitsDev, c.vocab(), false);
        if (argmax) {
            launch("argmax", count, 1, 1, 1024, logitsDev, c.vocab(), argmaxDev);
            stream.download(hostArgmax, argmaxDev, 4L * count);
        } else {
            stream.download(hostLogits, logitsDev, 4L * count * c.vocab());
        }
    }

    @Override
    public void truncate(int length) {
        // attention reads positions [0, pos] only: later rows are overwritten when reached again
    }

    @Override
    public Optional<LayerOffload> cpuLayers() {
        return staging == 0 ? Optional.empty() : Optional.of(this::forwardCpuLayers);
    }

    /** CPU layers computed here so far, one per layer and batch (tests, benchmarks). */
    long streamedLayers;
    /** Where the streamed layers' time went so far: bytes, ns in calls, copying to page-locked memory, waiting. */
    final long[] streamStats = new long[4];

    /** One line on the streamed layers since {@code before} (a copy of {@link #streamStats}), per pass of {@code passes}. */
    String streamSummary(long[] before, int passes) {
        double gb = (streamStats[0] - before[0]) / 1e9 / passes;
        double total = (streamStats[1] - before[1]) / 1e9 / passes;
        double copy = (streamStats[2] - before[2]) / 1e9 / passes;
        double wait = (streamStats[3] - before[3]) / 1e9 / passes;
        return String.format(Locale.ROOT, "CPU layers on the device: %.2f GB of weights in %.3f s (%.1f GB/s): copy to "
                + "page-locked %.3f s (%.1f GB/s), waiting for the device %.3f s", gb, total, gb / total, copy, gb / copy, wait);
    }

    /**
     * The CPU's layers for one batch ({@link LayerOffload}): the workers copy layer l+1 (and its
     * cached rows) into one page-locked buffer while the device copies layer l from the other into
     * the staging allocation and computes it; each layer's new keys and values come back together.
     */
    private void forwardCpuLayers(KvCache cache, float[] hidden, int tokens, int pos0, WorkerPool pool) {
        if (tokens < LayerOffload.MIN_TOKENS || tokens > maxTokens || pos0 + tokens > context) {
            throw new IllegalArgumentException("batch of " + tokens + " at " + pos0 + " outside " + LayerOffload.MIN_TOKENS
                    + ".." + maxTokens + " tokens within " + context);
        }
        long t0 = System.nanoTime();
        gpu.makeCurrent();
        stream.synchronize();
        int dim = c.embedding();
        MemorySegment.copy(hidden, 0, hostX, ValueLayout.JAVA_FLOAT, 0, tokens * dim);
        hostPos.set(ValueLayout.JAVA_INT, 0, pos0);
        stream.upload(x, hostX, 4L * tokens * dim);
        stream.upload(posDev, hostPos, 4);
        long kRow = (long) c.kvHeads() * keyType.bytesFor(c.headDim());
        long vRow = (long) c.kvHeads() * valueType.bytesFor(c.valueDim());
        long oldK = pos0 * kRow;
        long oldV = pos0 * vRow;
        long newK = tokens * kRow;
        long newV = tokens * vRow;
        long kvSlot = (long) maxTokens * (kRow + vRow);
        Gpu.Mark[] copied = new Gpu.Mark[streamed.length];
        try {
            for (int l = 0; l < streamed.length; l++) {
                Streamed sl = streamed[l];
                MemorySegment buf = hostLayer[l % 2];
                if (l >= 2) {
                    copied[l - 2].await();  // the device has read this buffer's previous layer
                }
                long c0 = System.nanoTime();
                pool.parallelFor(sl.from().length, 1, (a, b) -> {
                    for (int i = a; i < b; i++) {
                        MemorySegment.copy(sl.from()[i], 0, buf, sl.to()[i], sl.from()[i].byteSize());
                    }
                });
                long lb = sl.bytes();
                MemorySegment.copy(cache.keys(l), 0, buf, lb, oldK);
                MemorySegment.copy(cache.values(l), 0, buf, lb + oldK, oldV);
                streamStats[2] += System.nanoTime() - c0;
                streamStats[0] += lb;
                // in stream order: the previous layer's kernels are done with the staging allocation
                stream.upload(staging, buf, lb);
                if (pos0 > 0) {
                    stream.upload(stagingKeys, buf.asSlice(lb), oldK);
                    stream.upload(stagingValues, buf.asSlice(lb + oldK), oldV);
                }
                copied[l] = stream.mark();
                enqueueLayer(sl.layer(), tokens);
                stream.download(hostNewKv.asSlice(l * kvSlot), stagingKeys + oldK, newK);
                stream.download(hostNewKv.asSlice(l * kvSlot + newK), stagingValues + oldV, newV);
                streamedLayers++;
            }
            stream.download(hostX, x, 4L * tokens * dim);
            long w0 = System.nanoTime();
            stream.synchronize();
            streamStats[3] += System.nanoTime() - w0;
        } finally {
            for (Gpu.Mark m : copied) {
                if (m != null) {
                    m.close();
                }
            }
        }
        MemorySegment.copy(hostX, ValueLayout.JAVA_FLOAT, 0, hidden, 0, tokens * dim);
        for (int l = 0; l < streamed.length; l++) {
            MemorySegment.copy(hostNewKv, l * kvSlot, cache.keys(l), oldK, newK);
            MemorySegment.copy(hostNewKv, l * kvSlot + newK, cache.values(l), oldV, newV);
        }
        streamStats[1] += System.nanoTime() - t0;
    }

    private void release() {
        gpu.makeCurrent();
        if (decodeGraph != null) {
            decodeGraph.close();
        }
        if (headGraph != null) {
            headGraph.close();
        }
        for (long a : allocations) {
            gpu.free(a);
        }
        allocations.clear();
        for (MemorySegment s : hostBuffers) {
            gpu.freeHost(s);
        }
        hostBuffers.clear();
        if (stream != null) {
            stream.close();
        }
        if (side != null) {
            side.close();
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            try {
                stream.synchronize();
            } finally {
                release();
            }
        }
    }
}
