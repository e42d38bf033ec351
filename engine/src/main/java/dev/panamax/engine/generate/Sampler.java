package dev.panamax.engine.generate;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * Turns logits into the next token with llama.cpp's chain: penalties over recent tokens, top-k,
 * top-p, min-p, temperature, then a seeded draw (or argmax when greedy). {@link #distribution}
 * exposes the final candidate probabilities for speculative sampling.
 */
public final class Sampler {
    private final SamplerConfig config;
    private final SplittableRandom random;
    private final int[] counts;
    // candidate buffers, reused
    private final int[] ids;
    private final float[] values;
    private long[] sortKeys = new long[0];

    public Sampler(SamplerConfig config, int vocab) {
        this.config = config;
        this.random = new SplittableRandom(config.seed());
        this.counts = new int[vocab];
        this.ids = new int[vocab];
        this.values = new float[vocab];
    }

    public SamplerConfig config() {
        return config;
    }

    /** A candidate set with probabilities summing to one, best first. */
    public record Distribution(int[] ids, float[] probs, int size) {
        public float probability(int id) {
            for (int i = 0; i < size; i++) {
                if (ids[i] == id) {
                    return probs[i];
                }
            }
            return 0f;
        }
    }

    /**
     * Picks the next token from {@code logits} (left unchanged) given the tokens so far
     * ({@code history[0..historyLength)}).
     */
    public int sample(float[] logits, int offset, int[] history, int historyLength) {
        if (config.isGreedy() && !penalized()) {
            return argmax(logits, offset, counts.length);
        }
        Distribution d = distribution(logits, offset, history, historyLength);
        if (config.isGreedy()) {
            return d.ids()[0];
        }
        return draw(d);
    }

    /** Draws from a distribution with this sampler's random stream. */
    public int draw(Distribution d) {
        double r = random.nextDouble();
        double acc = 0;
        for (int i = 0; i < d.size(); i++) {
            acc += d.probs()[i];
            if (r < acc) {
                return d.ids()[i];
            }
        }
        return d.ids()[d.size() - 1];
    }

    /** Draws from {@code d} with token {@code excluded} removed (renormalized); the excluded token if nothing else is left. */
    public int drawExcluding(Distribution d, int excluded) {
        double rest = 0;
        for (int i = 0; i < d.size(); i++) {
            if (d.ids()[i] != excluded) {
                rest += d.probs()[i];
            }
        }
        if (rest <= 0) {
            return excluded;
        }
        double r = random.nextDouble() * rest;
        double acc = 0;
        int last = excluded;
        for (int i = 0; i < d.size(); i++) {
            if (d.ids()[i] == excluded) {
                continue;
            }
            acc += d.probs()[i];
            last = d.ids()[i];
            if (r < acc) {
                return last;
            }
        }
        return last;
    }

    /** A uniform number in [0, 1) from this sampler's stream (speculative acceptance tests). */
    public double uniform() {
        return random.nextDouble();
    }

    /** The final candidate distribution after penalties, top-k, top-p, min-p and temperature. */
    public Distribution distribution(float[] logits, int offset, int[] history, int historyLength) {
        int vocab = counts.length;
        System.arraycopy(logits, offset, values, 0, vocab);
        applyPenalties(history, historyLength);
        int n = sortedCandidates(vocab);
        // top-p and min-p look at untempered probabilities, as llama.cpp's chain does
        float max = values[0];
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(values[i] - max);
        }
        if (config.topP() < 1f) {
            double acc = 0;
            int keep = n;
            for (int i = 0; i < n; i++) {
                acc += Math.exp(values[i] - max) / sum;
                if (acc >= config.topP()) {
                    keep = i + 1;
                    break;
                }
            }
            n = Math.max(1, keep);
        }
        if (config.minP() > 0f) {
            double threshold = Math.log(config.minP());
            int keep = 1;
            while (keep < n && values[keep] - max >= threshold) {
                keep++;
            }
            n = keep;
        }
        float temp = config.isGreedy() ? 1f : config.temperature();
        float[] probs = new float[n];
        int[] out = new int[n];
        double total = 0;
        for (int i = 0; i < n; i++) {
            double p = Math.exp((values[i] - max) / temp);
            probs[i] = (float) p;
            total += p;
            out[i] = ids[i];
        }
        for (int i = 0; i < n; i++) {
            probs[i] = (float) (probs[i] / total);
        }
        return new Distribution(out, probs, n);
    }

    private boolean penalized() {
        return config.repeatPenalty() != 1f || config.frequencyPenalty() != 0f || config.presencePenalty() != 0f;
    }

    private void applyPenalties(int[] history, int historyLength) {
        if (!penalized() || historyLength == 0) {
            return;
        }
        int window = config.repeatLastN() < 0 ? historyLength : Math.min(historyLength, config.repeatLastN());
        for (int i = historyLength - window; i < historyLength; i++) {
            counts[history[i]]++;
        }
        for (int i = historyLength - window; i < historyLength; i++) {
            int t = history[i];
            int c = counts[t];
            if (c == 0) {
                continue; // already applied for this token
            }
            float v = values[t];
            v = v <= 0 ? v * config.repeatPenalty() : v / config.repeatPenalty();
            v -= c * config.frequencyPenalty() + config.presencePenalty();
            values[t] = v;
            counts[t] = 0;
        }
    }

    /**
     * Moves the best candidates to the front: values[0..n) descending with ids[0..n). With a small
     * top-k only k are kept while scanning; otherwise the whole vocabulary is sorted.
     */
    private int sortedCandidates(int vocab) {
        int k = config.topK() > 0 ? Math.min(config.topK(), vocab) : vocab;
        if (k <= 256 && k < vocab) {
            float[] topV = new float[k];
            int[] topI = new int[k];
            int n = 0;
            for (int i = 0; i < vocab; i++) {
                float v = values[i];
                if (n == k && !(v > topV[k - 1])) {
                    continue;
                }
                int j = n < k ? n++ : k - 1;
                while (j > 0 && v > topV[j - 1]) {
                    topV[j] = topV[j - 1];
                    topI[j] = topI[j - 1];
                    j--;
                }
                topV[j] = v;
                topI[j] = i;
            }
            System.arraycopy(topV, 0, values, 0, n);
            System.arraycopy(topI, 0, ids, 0, n);
            return n;
        }
        if (sortKeys.length < vocab) {
            sortKeys = new long[vocab];
        }
        for (int i = 0; i < vocab; i++) {
            // descending by value, ascending by id: sort the negated order key
            sortKeys[i] = (long) ~orderKey(values[i]) << 32 | i;
        }
        Arrays.sort(sortKeys, 0, vocab);
        for (int i = 0; i < k; i++) {
            ids[i] = (int) sortKeys[i];
            values[i] = Float.intBitsToFloat(fromOrderKey(~(int) (sortKeys[i] >> 32)));
        }
        return k;
    }

    /** An int whose signed order is the float order. */
    private static int orderKey(float v) {
        int b = Float.floatToIntBits(v);
        return b >= 0 ? b : b ^ 0x7FFFFFFF;
    }

    private static int fromOrderKey(int k) {
        return k >= 0 ? k : k ^ 0x7FFFFFFF;
    }

    /** Index of the largest logit (the first on ties). */
    public static int argmax(float[] x, int o, int n) {
        return dev.panamax.kernels.Ops.argmax(x, o, n);
    }
}
