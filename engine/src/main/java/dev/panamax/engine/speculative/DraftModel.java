package dev.panamax.engine.speculative;

import dev.panamax.engine.Session;
import dev.panamax.engine.generate.Drafter;
import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.kernels.Ops;
import java.util.Arrays;

/**
 * A small model that proposes blocks of N tokens greedily (stopping early below a confidence of
 * {@code pMin}), keeping its own KV cache in step with the target's committed text by prefix
 * reuse, through a {@link VocabBridge} when the vocabularies differ.
 */
public final class DraftModel implements Drafter {
    private final Session session;
    private final Tokenizer tokenizer;
    private final VocabBridge bridge;
    private final int maxDraft;
    private final int minDraft;
    private final float pMin;
    private int[] cached = new int[0];   // draft tokens whose keys/values the draft session holds
    private final float[] logits;
    private boolean ownsSession;

    public DraftModel(Session session, Tokenizer tokenizer, VocabBridge bridge, int maxDraft, int minDraft, float pMin) {
        this.session = session;
        this.tokenizer = tokenizer;
        this.bridge = bridge;
        this.maxDraft = maxDraft;
        this.minDraft = minDraft;
        this.pMin = pMin;
        this.logits = new float[session.vocab()];
    }

    /** Makes {@link #close()} close the draft session too (when this drafter is its only user). */
    public DraftModel owningSession() {
        ownsSession = true;
        return this;
    }

    @Override
    public void close() {
        if (ownsSession) {
            session.close();
        }
    }

    @Override
    public int maxDraft() {
        return maxDraft;
    }

    public VocabBridge bridge() {
        return bridge;
    }

    @Override
    public void reset() {
        session.truncate(0);
        cached = new int[0];
    }

    @Override
    public int[] propose(int[] history, int length, int max) {
        if (max <= 0 || maxDraft <= 0) {
            return new int[0];
        }
        int[] context = bridge.draftContext(history, length);
        if (context.length == 0 || context.length + maxDraft >= session.context()) {
            return new int[0];
        }
        sync(context);
        int want = Math.min(max, maxDraft);
        int[] drafted = new int[want];
        int n = 0;
        while (n < want) {
            int best = Ops.argmax(logits, 0, logits.length);
            if (n >= minDraft && pMin > 0 && probability(best) < pMin) {
                break;
            }
            drafted[n++] = best;
            if (tokenizer.isEndOfGeneration(best) || n == want) {
                break;
            }
            step(best);
        }
        int[] proposal = Arrays.copyOf(drafted, n);
        return bridge.toTarget(history[length - 1], proposal, max);
    }

    /** Brings the draft cache to {@code context} (keeping the common prefix) and leaves the next logits. */
    private void sync(int[] context) {
        int common = 0;
        int limit = Math.min(Math.min(cached.length, context.length - 1), session.position());
        while (common < limit && cached[common] == context[common]) {
            common++;
        }
        session.truncate(common);
        session.forward(context, common, context.length - common, context.length - common - 1,
                (i, l, o) -> System.arraycopy(l, o, logits, 0, logits.length));
        cached = context;
    }

    private void step(int token) {
        session.forward(new int[] {token}, 0, 1, 0, (i, l, o) -> System.arraycopy(l, o, logits, 0, logits.length));
        int[] c = Arrays.copyOf(cached, cached.length + 1);
        c[cached.length] = token;
        cached = c;
    }

    private float probability(int token) {
        float max = logits[token];
        double sum = 0;
        for (float v : logits) {
            sum += Math.exp(v - max);
        }
        return (float) (1 / sum);
    }
}
