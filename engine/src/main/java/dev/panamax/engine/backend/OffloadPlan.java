package dev.panamax.engine.backend;

import dev.panamax.engine.model.KvCache;
import dev.panamax.engine.model.LayerWeights;
import dev.panamax.engine.model.ModelConfig;
import dev.panamax.engine.model.Weights;
import dev.panamax.gguf.GgmlType;
import java.util.Locale;

/**
 * How many layers go to a device with a given amount of free memory. The LAST layers are
 * offloaded together with the final norm and the output head: the hidden state then crosses to the
 * device once per step and only logits come back, and the head (vocab x embedding, the largest
 * matrix, read every token) runs where bandwidth is highest. The budget counts, per offloaded
 * layer, its weights and its KV cache for the chosen context; once, the output head and the
 * device's scratch buffers; and, if the draft model lives on the device too, its weights and cache.
 *
 * @param layersOnDevice offloaded layers (the last ones)
 * @param headOnDevice whether the output head is offloaded
 */
public record OffloadPlan(int layers, int layersOnDevice, boolean headOnDevice, long weightBytes, long kvBytes,
        long scratchBytes, long draftBytes, long budget) {

    /** Memory a model needs besides its layers. */
    public record Fixed(long headBytes, long scratchBytes) {}

    /** Per-layer sizes of a model (weights, and KV cache bytes per position). */
    public record ModelSizes(long[] layerBytes, long headBytes, long kvBytesPerToken, ModelConfig config) {
        public static ModelSizes of(ModelConfig c, Weights w, GgmlType k, GgmlType v) {
            long[] bytes = new long[c.layers()];
            for (int i = 0; i < bytes.length; i++) {
                LayerWeights lw = w.layers()[i];
                bytes[i] = lw.matrixBytes() + 4L * (2L * c.embedding() + c.queryDim() + 2L * c.kvDim());
            }
            long head = w.output().rowBytes() * w.output().rows() + 4L * c.embedding();
            return new ModelSizes(bytes, head, KvCache.bytesFor(c, c.layers(), 1, k, v), c);
        }

        public long totalLayerBytes() {
            long n = 0;
            for (long b : layerBytes) {
                n += b;
            }
            return n;
        }
    }

    /**
     * Scratch a device needs for a micro-batch: activations of every projection, attention scores
     * for the whole context or the partial attention rows of a batch (per token and head, one per
     * 128 keys, at most 8), whichever is larger, and the logits of the batch (vocab floats per token).
     */
    public static long scratchBytes(ModelConfig c, int context, int maxTokens) {
        long perToken = 4L * (3L * c.embedding() + c.queryDim() + 2L * c.kvDim() + 3L * c.feedForward() + c.vocab());
        long scores = 4L * c.heads() * (long) context * Math.min(maxTokens, 64);
        long partials = 4L * c.heads() * maxTokens * attentionSplits(context) * (c.valueDim() + 2L);
        return perToken * maxTokens + Math.max(scores, partials);
    }

    /** Key ranges a batch's attention may be split into on a device: one per 128 keys of the context, 1 to 8. */
    public static int attentionSplits(int context) {
        return Math.max(1, Math.min(8, context / 128));
    }

    /** Slack for a streamed layer's alignment (each piece 256-aligned, with a tail for the device's block loads). */
    public static final long STREAM_SLACK = 8192;

    /**
     * Device room for streaming the CPU's layers of a prompt through the device
     * ({@link LayerOffload}): the largest layer and one layer's KV cache for the context (plus
     * {@link #STREAM_SLACK}); 0 when batches are too small to use it.
     */
    public static long streamBytes(ModelSizes m, int context, int maxTokens) {
        if (maxTokens < LayerOffload.MIN_TOKENS) {
            return 0;
        }
        long largest = 0;
        for (long b : m.layerBytes()) {
            largest = Math.max(largest, b);
        }
        return largest + STREAM_SLACK + m.kvBytesPerToken() * context / m.layerBytes().length;
    }

    /**
     * Plans an offload. When some layers stay on the CPU, the scratch includes the room to run them
     * on the device for prompts ({@link #streamBytes}).
     *
     * @param freeBytes device memory available (after --vram-limit) before the reserve
     * @param requestedLayers -ngl, or -1 for as many as fit
     * @param draftBytes draft model weights + cache kept on the device (0: none)
     */
    public static OffloadPlan plan(ModelSizes m, int context, int maxTokens, long freeBytes, long reserveBytes,
            int requestedLayers, long draftBytes) {
        OffloadPlan p = plan(m, context, maxTokens, freeBytes, reserveBytes, requestedLayers, draftBytes, 0);
        long stream = streamBytes(m, context, maxTokens);
        if (p.layersOnDevice() == p.layers() || !p.headOnDevice() || stream == 0) {
            return p;
        }
        OffloadPlan streaming = plan(m, context, maxTokens, freeBytes, reserveBytes, requestedLayers, draftBytes, stream);
        return streaming.headOnDevice() ? streaming : p;
    }

    private static OffloadPlan plan(ModelSizes m, int context, int maxTokens, long freeBytes, long reserveBytes,
            int requestedLayers, long draftBytes, long streamBytes) {
        long budget = Math.max(0, freeBytes - reserveBytes);
        long scratch = scratchBytes(m.config(), context, maxTokens) + streamBytes;
        long kvPerLayer = m.kvBytesPerToken() * context / m.layerBytes().length; // all layers have the same shape
        int n = m.layerBytes().length;
        long used = scratch + draftBytes;
        boolean head = false;
        if (used + m.headBytes() <= budget && requestedLayers != 0) {
            used += m.headBytes();
            head = true;
        }
        int max = requestedLayers < 0 ? n : Math.min(n, requestedLayers);
        int onDevice = 0;
        long weights = head ? m.headBytes() : 0;
        long kv = 0;
        while (onDevice < max && head) {
            long layer = m.layerBytes()[n - 1 - onDevice];
            if (used + layer + kvPerLayer > budget) {
                break;
            }
            used += layer + kvPerLayer;
            weights += layer;
            kv += kvPerLayer;
            onDevice++;
        }
        if (!head) {
            return new OffloadPlan(n, 0, false, 0, 0, 0, 0, budget);
        }
        return new OffloadPlan(n, onDevice, true, weights, kv, scratch, draftBytes, budget);
    }

    /** The largest context (in steps of 256) for which every layer and the head fit; 0 if none. */
    public static int largestFullContext(ModelSizes m, int maxTokens, long freeBytes, long reserveBytes,
            long draftBytesPerToken, long draftWeightBytes, int trainedContext) {
        int best = 0;
        for (int ctx = 256; ctx <= Math.max(trainedContext, 256); ctx += 256) {
            long draft = draftWeightBytes == 0 ? 0 : draftWeightBytes + draftBytesPerToken * ctx;
            OffloadPlan p = plan(m, ctx, maxTokens, freeBytes, reserveBytes, -1, draft);
            if (p.layersOnDevice() < p.layers()) {
                break;
            }
            best = ctx;
        }
        return best;
    }

    public long usedBytes() {
        return weightBytes + kvBytes + scratchBytes + draftBytes;
    }

    public String describe() {
        if (layersOnDevice == 0 && !headOnDevice) {
            return "nothing fits on the device: running on the CPU";
        }
        return String.format(Locale.ROOT,
                "%d/%d layers%s on the device (layers %d-%d): weights %s, KV %s, scratch %s%s, %s of %s left",
                layersOnDevice, layers, headOnDevice ? " + output head" : "", layers - layersOnDevice, layers - 1,
                mib(weightBytes), mib(kvBytes), mib(scratchBytes), draftBytes > 0 ? ", draft " + mib(draftBytes) : "",
                mib(budget - usedBytes()), mib(budget));
    }

    static String mib(long b) {
        return String.format(Locale.ROOT, "%.0f MiB", b / 1048576.0);
    }
}
