package dev.panamax.llamacompare;

import de.kherud.llama.InferenceParameters;
import de.kherud.llama.LlamaModel;
import de.kherud.llama.ModelParameters;
import de.kherud.llama.args.CacheType;
import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import java.nio.file.Path;
import java.util.SplittableRandom;

/**
 * llama.cpp on one GGUF file through its JNI binding (de.kherud:llama, which runs llama.cpp's server
 * loop in-process): the same pp and tg tests as {@link dev.panamax.engine.Throughput}, timed from
 * Java around whole completions. The binding takes text, not token ids, so prompts are random words
 * cut to exactly the wanted number of tokens; prompt caching keeps the {@code depth} prefix so
 * that a repetition evaluates only its own tokens:
 * <ul>
 * <li>ppN: prefix + a fresh body of N tokens (two bodies alternate, so the cache keeps only the
 * prefix), one token predicted: llama.cpp evaluates the body in one batch and samples once;</li>
 * <li>tgN: the cached prefix with N+1 tokens predicted, minus the same with 1: N decodes (both
 * re-evaluate the prompt's last token).</li>
 * </ul>
 * Sampling is greedy with end-of-text ignored.
 */
final class LlamaCpp implements AutoCloseable {
    private final LlamaModel model;
    private final Path file;

    LlamaCpp(Path file, int threads, int context, GgmlType cache) {
        this.file = file;
        ModelParameters p = new ModelParameters()
                .setModel(file.toString())
                .setThreads(threads)
                .setThreadsBatch(threads)
                .setCtxSize(context)
                .setParallel(1)
                // llama.cpp's workers otherwise spin after each graph, taking cores from Panamax's turn
                .setPoll(0)
                .setPollBatch(0)
                .setCacheTypeK(cacheType(cache))
                .setCacheTypeV(cacheType(cache))
                .disableLog();
        if (cache != GgmlType.F16) {
            p.enableFlashAttn(); // llama.cpp quantizes the V cache only with flash attention
        }
        try {
            model = new LlamaModel(p);
        } catch (RuntimeException | UnsatisfiedLinkError e) { // the binding's LlamaException is not public
            throw new PanamaxException(file + ": llama.cpp could not load it: " + e.getMessage());
        }
    }

    private static CacheType cacheType(GgmlType type) {
        return switch (type) {
            case F16 -> CacheType.F16;
            case Q8_0 -> CacheType.Q8_0;
            default -> throw new IllegalArgumentException("KV cache type " + type + ": llama-compare takes F16 or Q8_0");
        };
    }

    int tokenCount(String text) {
        return model.encode(text).length;
    }

    /**
     * Random lowercase words whose encoding is exactly {@code n} tokens and which start with
     * {@code first} (so two texts made with different firsts share no leading token).
     */
    String text(int n, long seed, char first) {
        for (int attempt = 0; attempt < 16; attempt++) {
            SplittableRandom rnd = new SplittableRandom(seed * 31 + attempt);
            StringBuilder sb = new StringBuilder().append(first);
            int chars = 8 * n + 16;
            while (sb.length() < chars) {
                int len = 2 + rnd.nextInt(6);
                for (int i = 0; i < len; i++) {
                    sb.append((char) ('a' + rnd.nextInt(26)));
                }
                sb.append(' ');
            }
            String all = sb.toString();
            if (tokenCount(all) < n) {
                continue;
            }
            // the shortest prefix with at least n tokens (counts grow with the prefix, by one at most a character here)
            int lo = 1;
            int hi = all.length();
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (tokenCount(all.substring(0, mid)) >= n) {
                    hi = mid;
                } else {
                    lo = mid + 1;
                }
            }
            String t = all.substring(0, lo);
            if (tokenCount(t) == n) {
                return t;
            }
        }
        throw new PanamaxException(file + ": could not build a prompt of exactly " + n + " tokens for llama.cpp");
    }

    /** One test's prompts, built once; {@link #tokensPerSecond()} times a repetition. */
    Test test(int depth, int nPrompt, int nGen) {
        return new Test(depth, nPrompt, nGen);
    }

    final class Test {
        private final int nPrompt;
        private final int nGen;
        private final String prefix;
        private final String[] bodies;
        private int turn;

        private Test(int depth, int nPrompt, int nGen) {
            this.nPrompt = nPrompt;
            this.nGen = nGen;
            // at depth 0 a generation test still needs a prompt: one token
            prefix = depth > 0 ? text(depth, 1, 'p') + "\n" : nPrompt > 0 ? "" : text(1, 1, 'p');
            int prefixTokens = prefix.isEmpty() ? 0 : tokenCount(prefix);
            if (nPrompt > 0) {
                bodies = new String[] {text(nPrompt, 2, 'a'), text(nPrompt, 3, 'b')};
                for (String body : bodies) {
                    int got = tokenCount(prefix + body);
                    if (got != prefixTokens + nPrompt) {
                        throw new PanamaxException(file + ": llama.cpp's prompt for pp" + nPrompt + " came to " + got
                                + " tokens, not " + (prefixTokens + nPrompt));
                    }
                }
            } else {
                bodies = new String[] {""};
            }
            complete(prefix + (nPrompt > 0 ? bodies[1] : ""), 1); // the prefix into the cache, untimed
        }

        /** One untimed repetition: llama.cpp allocates its compute buffers on first use. */
        void warmUp() {
            tokensPerSecond();
        }

        /** One timed repetition, in tokens per second. */
        double tokensPerSecond() {
            if (nPrompt > 0) {
                String body = bodies[turn++ & 1];
                return nPrompt / complete(prefix + body, 1);
            }
            double one = complete(prefix, 1);
            double all = complete(prefix, nGen + 1);
            return nGen / Math.max(all - one, 1e-9);
        }
    }

    /** Seconds for one completion of {@code prompt} with {@code predict} tokens. */
    private double complete(String prompt, int predict) {
        InferenceParameters p = new InferenceParameters(prompt)
                .setNPredict(predict)
                .setCachePrompt(true)
                .setIgnoreEos(true)
                .setTemperature(0f);
        long t0 = System.nanoTime();
        model.complete(p);
        return (System.nanoTime() - t0) / 1e9;
    }

    @Override
    public void close() {
        model.close();
    }
}
