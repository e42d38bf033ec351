package dev.panamax.engine.generate;

import dev.panamax.engine.Session;
import dev.panamax.engine.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Runs generation on a session: reuses the cached prefix the prompt shares with what the session
 * already holds, prefills the rest in batches, then samples token by token, streaming valid UTF-8
 * text and stopping on end-of-generation tokens, stop strings (never printed), the token limit, a
 * full context, the loop guard or cancellation. With a {@link Drafter} it decodes speculatively:
 * the draft proposes a block, the target checks it in one batched pass, and the output is the
 * same as without the draft (exactly so for greedy decoding; in distribution when sampling).
 */
public final class Generator {

    /**
     * @param maxTokens -n: at most this many new tokens (negative: until the context is full)
     * @param stop stop strings
     * @param loopGuard shortest repeated span that stops generation (0: off)
     */
    public record Settings(int maxTokens, List<String> stop, int loopGuard, SamplerConfig sampling) {
        public Settings {
            stop = List.copyOf(stop);
        }
    }

    /** What a generation produced, how long it took, and how speculation went (zeros without a draft). */
    public record Result(int[] tokens, String text, StopReason reason, int promptTokens, int reusedTokens,
            long promptNanos, long generationNanos, SpecStats speculation) {
        public double promptTokensPerSecond() {
            int evaluated = promptTokens - reusedTokens;
            return promptNanos == 0 ? 0 : evaluated * 1e9 / promptNanos;
        }

        public double tokensPerSecond() {
            return generationNanos == 0 ? 0 : tokens.length * 1e9 / generationNanos;
        }
    }

    /** Counters of a speculative generation. */
    public record SpecStats(int drafted, int accepted, int targetPasses) {
        public static final SpecStats NONE = new SpecStats(0, 0, 0);

        public double acceptanceRate() {
            return drafted == 0 ? 0 : (double) accepted / drafted;
        }
    }

    private final Session session;
    private final Tokenizer tokenizer;
    private final Drafter drafter;
    private int[] history = new int[64];
    private int historyLength;

    public Generator(Session session, Tokenizer tokenizer) {
        this(session, tokenizer, null);
    }

    /** A generator that drafts with {@code drafter} (null: plain decoding). */
    public Generator(Session session, Tokenizer tokenizer, Drafter drafter) {
        this.session = session;
        this.tokenizer = tokenizer;
        this.drafter = drafter;
    }

    public Session session() {
        return session;
    }

    /** Forgets the conversation (the next prompt is evaluated from scratch). */
    public void reset() {
        session.truncate(0);
        historyLength = 0;
        if (drafter != null) {
            drafter.reset();
        }
    }

    public Result generate(int[] prompt, Settings settings, Consumer<String> onText, BooleanSupplier cancelled) {
        if (prompt.length == 0) {
            throw new IllegalArgumentException("empty prompt");
        }
        long t0 = System.nanoTime();
        int reused = commonPrefix(prompt);
        if (reused == prompt.length) {
            reused--; // the last prompt token must be evaluated again to get its logits
        }
        session.truncate(reused);
        historyLength = reused;
        float[] logits = new float[session.vocab()];
        boolean evaluated = evaluate(prompt, reused, prompt.length - reused, logits, cancelled);
        long t1 = System.nanoTime();
        if (!evaluated) {
            return new Result(new int[0], "", StopReason.CANCELLED, prompt.length, reused, t1 - t0, 0, SpecStats.NONE);
        }

        Sampler sampler = new Sampler(settings.sampling(), session.vocab());
        Emitter emitter = new Emitter(tokenizer, settings, onText, cancelled);
        StopReason reason;
        SpecStats stats = SpecStats.NONE;
        if (drafter == null) {
            reason = plain(sampler, emitter, logits);
        } else {
            int[] counters = new int[3];
            reason = speculative(sampler, emitter, logits, counters);
            stats = new SpecStats(counters[0], counters[1], counters[2]);
        }
        emitter.finish(reason);
        // a token pushed to the history but never evaluated is not in the cache
        historyLength = Math.min(historyLength, session.position());
        long t2 = System.nanoTime();
        return new Result(emitter.tokens(), emitter.text(), reason, prompt.length, reused, t1 - t0, t2 - t1, stats);
    }

    private StopReason plain(Sampler sampler, Emitter emitter, float[] promptLogits) {
        float[] logits = promptLogits;
        while (true) {
            StopReason r = emitter.before();
            if (r != null) {
                return r;
            }
            int token = sampler.sample(logits, 0, history, historyLength);
            if (!tokenizer.isEndOfGeneration(token)) {
                push(token);
            }
            r = emitter.accept(token, history, historyLength);
            if (r != null) {
                return r;
            }
            if (session.position() >= session.context()) {
                return StopReason.CONTEXT;
            }
            logits = session.decodeInPlace(token); // the session's buffer: no allocation or copy per token
        }
    }

    /**
     * Speculative loop: {@code pending} is the next committed token (not yet in the cache). Each
     * round feeds [pending, d1..dk] to the target in one pass, accepts drafted tokens while the
     * target agrees (greedy: same argmax; sampling: accepted with the target's probability, a
     * rejection resamples from the rest), and the target's own choice after the last accepted
     * token becomes the next pending one. Rejected positions are dropped from the cache.
     */
    private StopReason speculative(Sampler sampler, Emitter emitter, float[] logits, int[] counters) {
        StopReason r = emitter.before();
        if (r != null) {
            return r;
        }
        int vocab = session.vocab();
        int pending = sampler.sample(logits, 0, history, historyLength);
        float[] batchLogits = new float[0];
        while (true) {
            if (!tokenizer.isEndOfGeneration(pending)) {
                push(pending);
            }
            r = emitter.accept(pending, history, historyLength);
            if (r != null) {
                return r;
            }
            r = emitter.before();
            if (r != null) {
                return r;
            }
            int room = session.context() - session.position();
            if (room < 1) {
                return StopReason.CONTEXT;
            }
            int[] draft = drafter.propose(history, historyLength, Math.min(drafter.maxDraft(), room - 1));
            int k = draft.length;
            int[] batch = new int[k + 1];
            batch[0] = pending;
            System.arraycopy(draft, 0, batch, 1, k);
            if (batchLogits.length < (k + 1) * vocab) {
                batchLogits = new float[(k + 1) * vocab];
            }
            float[] bl = batchLogits;
            int start = session.position();
            session.forward(batch, 0, k + 1, 0, (i, l, o) -> System.arraycopy(l, o, bl, i * vocab, vocab));
            counters[0] += k;
            counters[2]++;
            int accepted = 0;
            int next = -1;
            for (int i = 0; i < k; i++) {
                int choice = choose(sampler, bl, i * vocab, draft[i]);
                if (choice != draft[i]) {
                    next = choice;
                    break;
                }
                accepted++;
                counters[1]++;
                if (!tokenizer.isEndOfGeneration(choice)) {
                    push(choice);
                }
                r = emitter.accept(choice, history, historyLength);
                if (r != null) {
                    session.truncate(start + 1 + accepted);
                    return r;
                }
            }
            if (next < 0) {
                next = sampler.sample(bl, k * vocab, history, historyLength);
            }
            session.truncate(start + 1 + accepted);
            pending = next;
        }
    }

    /** The target's token at a drafted position: argmax when greedy, the speculative rule when sampling. */
    private int choose(Sampler sampler, float[] logits, int offset, int drafted) {
        if (sampler.config().isGreedy()) {
            return sampler.sample(logits, offset, history, historyLength);
        }
        Sampler.Distribution p = sampler.distribution(logits, offset, history, historyLength);
        // the draft proposes deterministically (q = 1 at the drafted token): accept with p(x),
        // otherwise draw from p without x; the result is distributed exactly as p
        float px = p.probability(drafted);
        if (sampler.uniform() < px) {
            return drafted;
        }
        return sampler.drawExcluding(p, drafted);
    }

    /** Prefills in micro-batches, checking for cancellation between them; false when cancelled. */
    private boolean evaluate(int[] tokens, int off, int count, float[] logits, BooleanSupplier cancelled) {
        int step = session.microBatch();
        for (int done = 0; done < count; done += step) {
            if (cancelled.getAsBoolean()) {
                return false;
            }
            int n = Math.min(step, count - done);
            boolean lastChunk = done + n == count;
            session.forward(tokens, off + done, n, lastChunk ? n - 1 : n,
                    (i, l, o) -> System.arraycopy(l, o, logits, 0, logits.length));
            for (int i = 0; i < n; i++) {
                push(tokens[off + done + i]);
            }
        }
        return true;
    }

    /** How many leading tokens of {@code prompt} this generator's session already holds. */
    public int cachedPrefix(int[] prompt) {
        return commonPrefix(prompt);
    }

    private void push(int token) {
        if (historyLength == history.length) {
            history = Arrays.copyOf(history, historyLength * 2);
        }
        history[historyLength++] = token;
    }

    private int commonPrefix(int[] prompt) {
        int n = Math.min(Math.min(historyLength, prompt.length), session.position());
        int i = 0;
        while (i < n && history[i] == prompt[i]) {
            i++;
        }
        return i;
    }
}
