package dev.panamax.engine.speculative;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.engine.DemoModels;
import dev.panamax.engine.Model;
import dev.panamax.engine.tokenizer.Tokenizer;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Translation between the demo target's vocabulary (6,144 tokens) and the demo draft's (4,096
 * tokens, other special-token names): the draft context always spells the target's text, the
 * work per call stays bounded (older text is frozen, only a tail is retokenized), and
 * substitutions map special tokens whose names differ, both ways.
 */
class VocabBridgeTest {
    static Model target;
    static Model draft;

    @BeforeAll
    static void open() {
        target = Model.open(DemoModels.target());
        draft = Model.open(DemoModels.draft());
    }

    @AfterAll
    static void close() {
        target.close();
        draft.close();
    }

    static int[] heldOutTokens(int n) throws IOException {
        return Arrays.copyOf(target.tokenizer().encode(DemoModels.text("held-out.txt"), false, false), n);
    }

    @Test
    void theDraftContextSpellsTheTargetsTextAtEveryLength() throws IOException {
        Tokenizer t = target.tokenizer();
        Tokenizer d = draft.tokenizer();
        int[] history = heldOutTokens(600);
        VocabBridge bridge = new VocabBridge(t, d, List.of());
        assertFalse(bridge.compatible());
        for (int length = 1; length <= history.length; length += 7) {
            int[] ctx = bridge.draftContext(history, length);
            assertEquals(t.decode(Arrays.copyOf(history, length)), d.decode(ctx), "length " + length);
        }
    }

    @Test
    void olderTextIsFrozenSoEachCallRetokenizesOnlyATail() throws IOException {
        int[] history = heldOutTokens(2000);
        VocabBridge bridge = new VocabBridge(target.tokenizer(), draft.tokenizer(), List.of());
        int frozen = 0;
        for (int length = 1; length <= history.length; length++) {
            int[] ctx = bridge.draftContext(history, length);
            // each call retokenizes at most 2 * TAIL target tokens: the unfrozen tail, plus what it freezes
            assertTrue(length - bridge.frozenTargetTokens() <= 2 * VocabBridge.TAIL, "length " + length);
            assertTrue(bridge.frozenTargetTokens() - frozen <= 2 * VocabBridge.TAIL + 1, "froze too much at " + length);
            assertTrue(bridge.frozenTargetTokens() >= frozen, "frozen text is kept, not redone, at " + length);
            frozen = bridge.frozenTargetTokens();
            if (length % 97 == 0) {
                assertEquals(target.tokenizer().decode(Arrays.copyOf(history, length)), draft.tokenizer().decode(ctx));
            }
        }
        assertTrue(frozen >= history.length - 2 * VocabBridge.TAIL, "frozen: " + frozen);
        // a rewritten history (a new conversation) starts over instead of reusing frozen text
        int[] other = history.clone();
        other[0] = other[1];
        assertEquals(target.tokenizer().decode(Arrays.copyOf(other, 300)),
                draft.tokenizer().decode(bridge.draftContext(other, 300)));
    }

    @Test
    void substitutionsMapSpecialTokensWithOtherNamesBothWays() {
        Tokenizer t = target.tokenizer();
        Tokenizer d = draft.tokenizer();
        int imEnd = t.tokenId("<|im_end|>").orElseThrow();
        int eos = d.tokenId("</s>").orElseThrow();
        VocabBridge bridge = new VocabBridge(t, d, List.<String[]>of(new String[] {"<|im_end|>", "</s>"}));
        int[] history = t.encode("And the LORD said<|im_end|>", false, true);
        assertEquals(imEnd, history[history.length - 1]);
        int[] ctx = bridge.draftContext(history, history.length);
        assertEquals(eos, ctx[ctx.length - 1], "the target's <|im_end|> reaches the draft as its </s>");
        assertArrayEquals(new int[] {imEnd}, bridge.toTarget(history[history.length - 2], new int[] {eos}, 4),
                "the draft's </s> comes back as the target's <|im_end|>");
        VocabBridge plain = new VocabBridge(t, d, List.of());
        int[] unmapped = plain.draftContext(history, history.length);
        assertTrue(Arrays.stream(unmapped).noneMatch(id -> id == eos), "without the substitution no </s> appears");
    }
}
