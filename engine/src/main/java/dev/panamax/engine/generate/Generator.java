package dev.panamax.engine.generate;

import dev.panamax.engine.Session;
import dev.panamax.engine.tokenizer.Detokenizer;
import dev.panamax.engine.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * Runs generation on a session: reuses the cached prefix the prompt shares with what the session
 * already holds, prefills the rest in batches, then samples token by token, streaming valid UTF-8
 * text and stopping on end-of-generation tokens, stop strings (never printed), the token limit, a
 * full context, the loop guard or cancellation.
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

    /** What a generation produced and how long it took. */
    public record Result(int[] tokens, String text, StopReason reason, int promptTokens, int reusedTokens,
            long promptNanos, long generationNanos) {
        public double promptTokensPerSecond() {
            int evaluated = promptTokens - reusedTokens;
            return promptNanos == 0 ? 0 : evaluated * 1e9 / promptNanos;
        }

        public double tokensPerSecond() {
            return generationNanos == 0 ? 0 : tokens.length * 1e9 / generationNanos;
        }
    }

    private final Session session;
    private final Tokenizer tokenizer;
    private int[] history = new int[64];
    private int historyLength;

    public Generator(Session session, Tokenizer tokenizer) {
        this.session = session;
        this.tokenizer = tokenizer;
    }

    public Session session() {
        return session;
    }

    /** Forgets the conversation (the next prompt is evaluated from scratch). */
    public void reset() {
        session.truncate(0);
        historyLength = 0;
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
        float[] logits = evaluate(prompt, reused, prompt.length - reused);
        long t1 = System.nanoTime();

        Sampler sampler = new Sampler(settings.sampling(), session.vocab());
        LoopGuard guard = new LoopGuard(settings.loopGuard());
        Detokenizer detok = tokenizer.detokenizer(false);
        StopFilter stops = new StopFilter(settings.stop(), onText);
        int[] generated = new int[16];
        int n = 0;
        StopReason reason = null;
        int limit = settings.maxTokens() < 0 ? Integer.MAX_VALUE : settings.maxTokens();
        while (reason == null) {
            if (n >= limit) {
                reason = StopReason.LENGTH;
                break;
            }
            if (cancelled.getAsBoolean()) {
                reason = StopReason.CANCELLED;
                break;
            }
            int token = sampler.sample(logits, 0, history, historyLength);
            if (tokenizer.isEndOfGeneration(token)) {
                reason = StopReason.EOS;
                break;
            }
            if (n == generated.length) {
                generated = Arrays.copyOf(generated, n * 2);
            }
            generated[n++] = token;
            if (stops.accept(detok.feed(token))) {
                reason = StopReason.STOP_STRING;
                break;
            }
            push(token);
            if (guard.loopPeriod(history, historyLength) > 0) {
                reason = StopReason.LOOP;
                break;
            }
            if (n >= limit) {
                reason = StopReason.LENGTH;
                break;
            }
            if (session.position() >= session.context()) {
                reason = StopReason.CONTEXT;
                break;
            }
            logits = session.decodeInPlace(token);
        }
        if (reason != StopReason.STOP_STRING) {
            stops.accept(detok.flush());
            stops.finish();
        }
        // tokens pushed to history but never evaluated (the last one) are not in the cache
        historyLength = Math.min(historyLength, session.position());
        long t2 = System.nanoTime();
        return new Result(Arrays.copyOf(generated, n), stops.text(), reason, prompt.length, reused, t1 - t0, t2 - t1);
    }

    private float[] evaluate(int[] tokens, int off, int count) {
        float[][] last = new float[1][];
        session.forward(tokens, off, count, count - 1, (i, l, o) -> last[0] = Arrays.copyOfRange(l, o, o + session.vocab()));
        for (int i = 0; i < count; i++) {
            push(tokens[off + i]);
        }
        return last[0];
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

    /** Streams text, holding back anything that may be the start of a stop string. */
    static final class StopFilter {
        private final List<String> stops;
        private final Consumer<String> out;
        private final StringBuilder held = new StringBuilder();
        private final StringBuilder all = new StringBuilder();

        StopFilter(List<String> stops, Consumer<String> out) {
            this.stops = stops.stream().filter(s -> !s.isEmpty()).toList();
            this.out = out;
        }

        /** Adds text; returns true when a stop string appeared (text before it is emitted). */
        boolean accept(String text) {
            if (text.isEmpty()) {
                return false;
            }
            held.append(text);
            int first = -1;
            for (String s : stops) {
                int at = held.indexOf(s);
                if (at >= 0 && (first < 0 || at < first)) {
                    first = at;
                }
            }
            if (first >= 0) {
                emit(held.substring(0, first));
                held.setLength(0);
                return true;
            }
            int keep = 0;
            for (String s : stops) {
                for (int k = Math.min(s.length() - 1, held.length()); k > keep; k--) {
                    if (held.toString().regionMatches(held.length() - k, s, 0, k)) {
                        keep = k;
                        break;
                    }
                }
            }
            emit(held.substring(0, held.length() - keep));
            held.delete(0, held.length() - keep);
            return false;
        }

        void finish() {
            emit(held.toString());
            held.setLength(0);
        }

        private void emit(String s) {
            if (!s.isEmpty()) {
                all.append(s);
                out.accept(s);
            }
        }

        String text() {
            return all.toString();
        }
    }
}
