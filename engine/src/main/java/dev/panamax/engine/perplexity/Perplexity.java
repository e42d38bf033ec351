package dev.panamax.engine.perplexity;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Perplexity the way llama-perplexity computes it (tools/perplexity/perplexity.cpp): the text is
 * tokenized once (BOS in front when the model adds one), cut into non-overlapping chunks of
 * {@code n_ctx} tokens; each chunk is evaluated from an empty cache with its first token replaced by
 * BOS (when the model adds BOS), and only the second half is scored: the logits at positions
 * {@code n_ctx/2 .. n_ctx-2} predict tokens {@code n_ctx/2+1 .. n_ctx-1}. PPL = exp(mean NLL); the
 * error is llama.cpp's: PPL * sqrt(var(NLL) / (count - 1)).
 *
 * <p>With a {@link KlBaseFile.Writer} the run also saves the reference data for KL divergence;
 * {@link #compare} evaluates another model on the base file's tokens and reports KL divergence,
 * top-token agreement and the perplexity difference.
 */
public final class Perplexity {
    private Perplexity() {}

    /** Running sums of negative log-likelihoods. */
    public record Stats(long count, double nll, double nll2) {
        static final Stats EMPTY = new Stats(0, 0, 0);

        Stats add(double v) {
            return new Stats(count + 1, nll + v, nll2 + v * v);
        }

        public double ppl() {
            return Math.exp(nll / count);
        }

        /** llama.cpp's estimate: PPL * sqrt((mean(v^2) - mean(v)^2) / (count - 1)). */
        public double error() {
            if (count < 2) {
                return Double.NaN;
            }
            double mean = nll / count;
            double var = nll2 / count - mean * mean;
            return var > 0 ? Math.sqrt(var / (count - 1)) * ppl() : 0;
        }
    }

    /** Hears about each finished chunk. */
    public interface Listener {
        void chunk(int index, int chunks, Stats running, double seconds);
    }

    public record Result(int tokens, int chunks, int nCtx, Stats stats, List<Double> runningPpl,
            List<Double> runningError, double seconds) {}

    /** llama.cpp's tokenization for perplexity: BOS when the model adds it, special tokens not parsed. */
    public static int[] tokenize(Model model, String text) {
        Tokenizer t = model.tokenizer();
        return t.encode(text, t.addBos(), false);
    }

    /** Checks the token count against the chunk size and returns the number of chunks to evaluate. */
    public static int chunks(int tokens, int nCtx, int maxChunks, String source) {
        if (nCtx < 4) {
            throw new PanamaxException("-c/--ctx-size must be at least 4 for perplexity, got " + nCtx);
        }
        if (tokens < 2 * nCtx) {
            throw new PanamaxException(source + ": " + tokens + " tokens, but perplexity needs at least 2 x " + nCtx
                    + " = " + 2 * nCtx + " with -c " + nCtx + " (use a longer text or a smaller -c)");
        }
        int n = tokens / nCtx;
        return maxChunks > 0 ? Math.min(n, maxChunks) : n;
    }

    /** log-softmax statistics of one row: max and log of the sum of exp(x - max) (double). */
    static double[] logSoftmax(float[] x, int off, int n) {
        float max = x[off];
        for (int i = 1; i < n; i++) {
            max = Math.max(max, x[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp((double) x[off + i] - max);
        }
        return new double[] {max, Math.log(sum)};
    }

    /** The log-probability of entry {@code i} as stored and compared (rounded to float, the same way on both sides). */
    static float logProb(float[] x, int off, int i, double[] ls) {
        return (float) ((double) x[off + i] - ls[0] - ls[1]);
    }

    /**
     * Runs perplexity over {@code tokens}; when {@code base} is given, also writes the KL reference
     * data (top {@code base.topK} tokens of every scored position).
     */
    public static Result run(Model model, SessionOptions options, int[] tokens, int chunks, KlBaseFile.Writer base,
            int topK, Listener listener) throws IOException {
        int nCtx = options.context();
        boolean bos = model.tokenizer().addBos();
        int bosId = bos ? model.tokenizer().bosId().orElseThrow() : -1;
        int first = nCtx / 2;
        int vocab = model.config().vocab();
        Stats[] stats = {Stats.EMPTY};
        List<Double> running = new ArrayList<>();
        List<Double> errors = new ArrayList<>();
        long start = System.nanoTime();
        int[] ids = new int[Math.max(1, topK)];
        float[] lps = new float[Math.max(1, topK)];
        IOException[] failure = {null};
        try (Session s = model.newSession(options)) {
            int[] chunk = new int[nCtx];
            for (int c = 0; c < chunks; c++) {
                int begin = c * nCtx;
                System.arraycopy(tokens, begin, chunk, 0, nCtx);
                if (bos) {
                    chunk[0] = bosId;
                }
                s.truncate(0);
                s.forward(chunk, 0, nCtx, first, (i, logits, off) -> {
                    if (i >= nCtx - 1) {
                        return;
                    }
                    double[] ls = logSoftmax(logits, off, vocab);
                    int next = tokens[begin + i + 1];
                    float actual = logProb(logits, off, next, ls);
                    stats[0] = stats[0].add(-(double) actual);
                    if (base != null) {
                        topK(logits, off, vocab, ids, topK);
                        for (int k = 0; k < topK; k++) {
                            lps[k] = logProb(logits, off, ids[k], ls);
                        }
                        try {
                            base.position(actual, ids, lps);
                        } catch (IOException e) {
                            failure[0] = e;
                        }
                    }
                });
                if (failure[0] != null) {
                    throw failure[0];
                }
                running.add(stats[0].ppl());
                errors.add(stats[0].error());
                listener.chunk(c, chunks, stats[0], (System.nanoTime() - start) / 1e9);
            }
        }
        return new Result(tokens.length, chunks, nCtx, stats[0], running, errors, (System.nanoTime() - start) / 1e9);
    }

    /** Indices of the {@code k} largest entries, largest first (ties: lower index first). */
    static void topK(float[] x, int off, int n, int[] out, int k) {
        // a sorted insertion buffer: k is small (tens), the vocabulary large
        int size = 0;
        for (int i = 0; i < n; i++) {
            float v = x[off + i];
            if (size == k && v <= x[off + out[k - 1]]) {
                continue;
            }
            int pos = size < k ? size : k - 1;
            while (pos > 0 && x[off + out[pos - 1]] < v) {
                out[pos] = out[pos - 1];
                pos--;
            }
            out[pos] = i;
            if (size < k) {
                size++;
            }
        }
    }

    // ---- KL divergence ----

    /** Per-position results of a comparison, summarized. */
    public record KlResult(int chunks, int nCtx, int topK, long positions, Stats q, Stats base, double meanKl,
            double klError, double maxKl, double p99Kl, double p999Kl, double medianKl, double sameTop,
            double sameTopError, double meanLogRatio, double logRatioError, double pplDiff, double pplDiffError,
            double correlation, double coverage, List<Double> runningKl, double seconds) {

        public double pplRatio() {
            return Math.exp(meanLogRatio);
        }

        public double pplRatioError() {
            return pplRatio() * logRatioError;
        }
    }

    public interface KlListener {
        void chunk(int index, int chunks, Stats q, double meanKl, double sameTop, double seconds);
    }

    /** Evaluates {@code model} on the base file's tokens and compares its distributions with the stored ones. */
    public static KlResult compare(Model model, SessionOptions options, KlBaseFile.Reader base, int maxChunks,
            KlListener listener) {
        int nCtx = base.nCtx;
        int vocab = model.config().vocab();
        if (vocab != base.nVocab) {
            throw new PanamaxException(base.file + ": the base model has a vocabulary of " + base.nVocab
                    + " tokens, this one " + vocab + "; KL divergence needs the same tokenizer");
        }
        int chunks = maxChunks > 0 ? Math.min(maxChunks, base.nChunk) : base.nChunk;
        int first = nCtx / 2;
        int scored = KlBaseFile.scoredPerChunk(nCtx);
        int k = base.topK;
        long n = (long) chunks * scored;
        if (n > Integer.MAX_VALUE) {
            throw new PanamaxException(base.file + ": too many positions");
        }
        double[] kls = new double[(int) n];
        double[] dq = new double[(int) n];
        double[] db = new double[(int) n];
        long[] same = {0};
        double[] coverage = {0};
        int[] idx = {0};
        List<Double> runningKl = new ArrayList<>();
        long start = System.nanoTime();
        Stats[] q = {Stats.EMPTY};
        Stats[] b = {Stats.EMPTY};
        try (Session s = model.newSession(options)) {
            int[] chunk = new int[nCtx];
            for (int c = 0; c < chunks; c++) {
                int begin = c * nCtx;
                int cc = c;
                System.arraycopy(base.tokens, begin, chunk, 0, nCtx);
                if (base.bos) {
                    int bosId = model.tokenizer().bosId().orElseThrow(() -> new PanamaxException(base.file
                            + ": the base run replaced each chunk's first token by BOS, but this model has no BOS token"));
                    chunk[0] = bosId;
                }
                s.truncate(0);
                s.forward(chunk, 0, nCtx, first, (i, logits, off) -> {
                    if (i >= nCtx - 1) {
                        return;
                    }
                    int pos = i - first;
                    double[] ls = logSoftmax(logits, off, vocab);
                    int next = base.tokens[begin + i + 1];
                    double nllQ = -(double) logProb(logits, off, next, ls);
                    double nllB = -(double) base.actualLogProb(cc, pos);
                    q[0] = q[0].add(nllQ);
                    b[0] = b[0].add(nllB);
                    double pSum = 0;
                    double qSum = 0;
                    double kl = 0;
                    for (int r = 0; r < k; r++) {
                        int id = base.id(cc, pos, r);
                        float lp = base.logProb(cc, pos, r);
                        float lq = logProb(logits, off, id, ls);
                        double p = Math.exp(lp);
                        pSum += p;
                        qSum += Math.exp(lq);
                        kl += p * ((double) lp - lq);
                    }
                    double pRest = 1 - pSum;
                    double qRest = 1 - qSum;
                    if (pRest > 1e-12) {
                        kl += pRest * (Math.log(pRest) - Math.log(Math.max(qRest, 1e-15)));
                    }
                    int argmax = 0;
                    for (int v = 1; v < vocab; v++) {
                        if (logits[off + v] > logits[off + argmax]) {
                            argmax = v;
                        }
                    }
                    if (argmax == base.id(cc, pos, 0)) {
                        same[0]++;
                    }
                    coverage[0] += Math.min(1, pSum);
                    kls[idx[0]] = kl;
                    dq[idx[0]] = nllQ;
                    db[idx[0]] = nllB;
                    idx[0]++;
                });
                double mean = 0;
                for (int i = 0; i < idx[0]; i++) {
                    mean += kls[i];
                }
                runningKl.add(mean / idx[0]);
                listener.chunk(c, chunks, q[0], mean / idx[0], (double) same[0] / idx[0],
                        (System.nanoTime() - start) / 1e9);
            }
        }
        int m = idx[0];
        double meanKl = mean(kls, m);
        double klErr = stderr(kls, m, meanKl);
        double[] sorted = Arrays.copyOf(kls, m);
        Arrays.sort(sorted);
        double sameTop = (double) same[0] / m;
        double sameErr = Math.sqrt(sameTop * (1 - sameTop) / Math.max(1, m - 1));
        double[] ratio = new double[m];
        for (int i = 0; i < m; i++) {
            ratio[i] = dq[i] - db[i];
        }
        double meanRatio = mean(ratio, m);
        double ratioErr = stderr(ratio, m, meanRatio);
        // PPL(Q) - PPL(base), error by the delta method with the covariance of the two mean NLLs
        double mq = q[0].nll() / m;
        double mb = b[0].nll() / m;
        double cov = 0;
        double varQ = 0;
        double varB = 0;
        for (int i = 0; i < m; i++) {
            cov += (dq[i] - mq) * (db[i] - mb);
            varQ += (dq[i] - mq) * (dq[i] - mq);
            varB += (db[i] - mb) * (db[i] - mb);
        }
        double pq = Math.exp(mq);
        double pb = Math.exp(mb);
        double denom = (double) m * Math.max(1, m - 1);
        double diffVar = (pq * pq * varQ + pb * pb * varB - 2 * pq * pb * cov) / denom;
        double corr = varQ > 0 && varB > 0 ? cov / Math.sqrt(varQ * varB) : 1;
        return new KlResult(chunks, nCtx, k, m, q[0], b[0], meanKl, klErr, sorted[m - 1], quantile(sorted, 0.99),
                quantile(sorted, 0.999), quantile(sorted, 0.5), sameTop, sameErr, meanRatio, ratioErr, pq - pb,
                Math.sqrt(Math.max(0, diffVar)), corr, coverage[0] / m, runningKl, (System.nanoTime() - start) / 1e9);
    }

    private static double mean(double[] x, int n) {
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += x[i];
        }
        return s / n;
    }

    private static double stderr(double[] x, int n, double mean) {
        if (n < 2) {
            return Double.NaN;
        }
        double s = 0;
        for (int i = 0; i < n; i++) {
            s += (x[i] - mean) * (x[i] - mean);
        }
        return Math.sqrt(s / (n - 1) / n);
    }

    private static double quantile(double[] sorted, double q) {
        int i = (int) Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
        return sorted[i];
    }
}
