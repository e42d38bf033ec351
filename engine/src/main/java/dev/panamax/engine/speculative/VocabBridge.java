package dev.panamax.engine.speculative;

import dev.panamax.engine.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Moves tokens between a target and a draft vocabulary. Compatible vocabularies (llama.cpp's
 * rule: same bos/eos handling, sizes within 128, identical token text from id 5 on) use ids as
 * they are; otherwise tokens go through text: detokenize, substitute special tokens whose names
 * differ, retokenize. The target-to-draft direction is incremental: only a bounded tail of recent
 * target tokens is retokenized each time, so its cost does not grow with the context.
 */
public final class VocabBridge {
    /** Pairs of (target text, draft text) for special tokens that mean the same thing. */
    public static final List<String[]> KNOWN_EQUIVALENTS = List.of(
            new String[] {"<\uff5cend\u2581of\u2581sentence\uff5c>", "<|endoftext|>"},
            new String[] {"<\uff5cbegin\u2581of\u2581sentence\uff5c>", "<|endoftext|>"},
            new String[] {"<\uff5cUser\uff5c>", "<|im_start|>user\n"},
            new String[] {"<\uff5cAssistant\uff5c>", "<|im_start|>assistant\n"});

    private static final int CHECK_FROM = 5;
    /** Target tokens kept in the re-tokenized tail; older text is frozen into committed draft tokens. */
    static final int TAIL = 32;

    private final Tokenizer target;
    private final Tokenizer draft;
    private final boolean compatible;
    private final Map<String, String> toDraft = new LinkedHashMap<>();
    private final Map<String, String> toTarget = new LinkedHashMap<>();

    // incremental target -> draft state
    private int frozenTargetTokens;
    private int[] frozenDraft = new int[0];
    private int[] frozenHistoryCheck = new int[0];

    public VocabBridge(Tokenizer target, Tokenizer draft, List<String[]> userReplacements) {
        this.target = target;
        this.draft = draft;
        this.compatible = compatible(target, draft);
        for (String[] r : userReplacements) {
            toDraft.put(r[0], r[1]);
            toTarget.put(r[1], r[0]);
        }
        for (String[] r : KNOWN_EQUIVALENTS) {
            if (target.tokenId(r[0]).isPresent() && draft.tokenId(r[0]).isEmpty()) {
                toDraft.putIfAbsent(r[0], r[1]);
            }
            if (draft.tokenId(r[1]).isPresent() && target.tokenId(r[1]).isEmpty()) {
                toTarget.putIfAbsent(r[1], r[0]);
            }
        }
    }

    /** llama.cpp's compatibility check between two vocabularies. */
    public static boolean compatible(Tokenizer a, Tokenizer b) {
        if (a.addBos() != b.addBos() || !a.bosId().equals(b.bosId()) || !a.eosId().equals(b.eosId())) {
            return false;
        }
        if (Math.abs(a.vocabSize() - b.vocabSize()) > 128) {
            return false;
        }
        int n = Math.min(a.vocabSize(), b.vocabSize());
        for (int i = CHECK_FROM; i < n; i++) {
            if (!a.piece(i).equals(b.piece(i))) {
                return false;
            }
        }
        return true;
    }

    public boolean compatible() {
        return compatible;
    }

    /**
     * The draft-vocabulary context for the target tokens {@code history[0..length)}: ids as they
     * are when compatible, else committed draft tokens for older text plus a retokenized tail.
     */
    public int[] draftContext(int[] history, int length) {
        if (compatible) {
            return Arrays.copyOf(history, length);
        }
        if (!prefixUnchanged(history, length)) {
            frozenTargetTokens = 0;
            frozenDraft = new int[0];
            frozenHistoryCheck = new int[0];
        }
        // freeze text older than the tail so each call only retokenizes a bounded window
        if (length - frozenTargetTokens > 2 * TAIL) {
            int upTo = length - TAIL;
            int[] more = draft.encode(targetText(history, frozenTargetTokens, upTo), false, true);
            int[] merged = Arrays.copyOf(frozenDraft, frozenDraft.length + more.length);
            System.arraycopy(more, 0, merged, frozenDraft.length, more.length);
            frozenDraft = merged;
            frozenTargetTokens = upTo;
            frozenHistoryCheck = Arrays.copyOf(history, upTo);
        }
        int[] tail = draft.encode(targetText(history, frozenTargetTokens, length), false, true);
        int[] out = Arrays.copyOf(frozenDraft, frozenDraft.length + tail.length);
        System.arraycopy(tail, 0, out, frozenDraft.length, tail.length);
        return out;
    }

    /** Target tokens whose text is frozen into committed draft tokens (the rest is retokenized per call). */
    int frozenTargetTokens() {
        return frozenTargetTokens;
    }

    private boolean prefixUnchanged(int[] history, int length) {
        if (frozenTargetTokens > length) {
            return false;
        }
        // the frozen part is re-checked only at its end (history before it cannot change without a reset)
        int n = frozenHistoryCheck.length;
        return n == 0 || (history[n - 1] == frozenHistoryCheck[n - 1] && history[0] == frozenHistoryCheck[0]);
    }

    /**
     * Draft tokens as target tokens, tokenized in the context of the last committed target token so
     * that a merge across the boundary is not proposed as a separate token. May return fewer tokens.
     */
    public int[] toTarget(int lastTarget, int[] draftTokens, int max) {
        if (compatible) {
            return draftTokens.length <= max ? draftTokens : Arrays.copyOf(draftTokens, max);
        }
        String text = replace(draft.decode(draftTokens, true), toTarget);
        if (text.isEmpty()) {
            return new int[0];
        }
        String lastText = target.decode(new int[] {lastTarget}, true);
        int[] joined = target.encode(lastText + text, false, true);
        int[] out;
        if (joined.length > 0 && joined[0] == lastTarget) {
            out = Arrays.copyOfRange(joined, 1, joined.length);
        } else {
            out = target.encode(text, false, true);
        }
        // the last token may be cut mid-word by the draft's tokenization: keep it anyway, the target checks it
        return out.length <= max ? out : Arrays.copyOf(out, max);
    }

    private String targetText(int[] history, int from, int to) {
        if (from >= to) {
            return "";
        }
        return replace(target.decode(Arrays.copyOfRange(history, from, to), true), toDraft);
    }

    private static String replace(String text, Map<String, String> map) {
        for (var e : map.entrySet()) {
            if (text.contains(e.getKey())) {
                text = text.replace(e.getKey(), e.getValue());
            }
        }
        return text;
    }

    /** The user-facing description of what the bridge does. */
    public String describe() {
        if (compatible) {
            return "compatible vocabularies (ids shared)";
        }
        List<String> subs = new ArrayList<>();
        toDraft.forEach((k, v) -> subs.add(k + " -> " + v));
        return "different vocabularies (" + target.vocabSize() + " vs " + draft.vocabSize()
                + " tokens): translating through text" + (subs.isEmpty() ? "" : ", replacing " + subs);
    }
}
