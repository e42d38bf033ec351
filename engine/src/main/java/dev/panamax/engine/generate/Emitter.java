package dev.panamax.engine.generate;

import dev.panamax.engine.tokenizer.Detokenizer;
import dev.panamax.engine.tokenizer.Tokenizer;
import java.util.Arrays;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The output side of a generation, shared by plain and speculative decoding: takes committed
 * tokens one at a time, streams their text (holding back possible stop-string prefixes), and says
 * when to stop: end-of-generation token, stop string, token limit, loop, cancellation.
 */
final class Emitter {
    private final Tokenizer tokenizer;
    private final Detokenizer detok;
    private final StopFilter stops;
    private final LoopGuard guard;
    private final int limit;
    private final BooleanSupplier cancelled;
    private int[] tokens = new int[16];
    private int count;

    Emitter(Tokenizer tokenizer, Generator.Settings settings, Consumer<String> onText, BooleanSupplier cancelled) {
        this.tokenizer = tokenizer;
        this.detok = tokenizer.detokenizer(false);
        this.stops = new StopFilter(settings.stop(), onText);
        this.guard = new LoopGuard(settings.loopGuard());
        this.limit = settings.maxTokens() < 0 ? Integer.MAX_VALUE : settings.maxTokens();
        this.cancelled = cancelled;
    }

    /** Whether generation should end before producing another token. */
    StopReason before() {
        if (count >= limit) {
            return StopReason.LENGTH;
        }
        return cancelled.getAsBoolean() ? StopReason.CANCELLED : null;
    }

    /**
     * Commits a token. {@code history} must already end with it when it is not an end token.
     * Returns why to stop, or null to go on.
     */
    StopReason accept(int token, int[] history, int historyLength) {
        if (tokenizer.isEndOfGeneration(token)) {
            return StopReason.EOS;
        }
        if (count == tokens.length) {
            tokens = Arrays.copyOf(tokens, count * 2);
        }
        tokens[count++] = token;
        if (stops.accept(detok.feed(token))) {
            return StopReason.STOP_STRING;
        }
        if (guard.loopPeriod(history, historyLength) > 0) {
            return StopReason.LOOP;
        }
        return count >= limit ? StopReason.LENGTH : null;
    }

    void finish(StopReason reason) {
        if (reason != StopReason.STOP_STRING) {
            stops.accept(detok.flush());
            stops.finish();
        }
    }

    int[] tokens() {
        return Arrays.copyOf(tokens, count);
    }

    String text() {
        return stops.text();
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
            String h = held.toString();
            for (String s : stops) {
                for (int k = Math.min(s.length() - 1, h.length()); k > keep; k--) {
                    if (h.regionMatches(h.length() - k, s, 0, k)) {
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
