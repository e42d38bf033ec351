package dev.panamax.cli.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.generate.StopReason;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The reasoning split of chat replies, with tags arriving in pieces. */
class ServeRepliesTest {
    static Generator.Result result(String text, StopReason reason) {
        return new Generator.Result(new int[5], text, reason, 10, 4, 1_000_000, 2_000_000, Generator.SpecStats.NONE);
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> delta(Map<String, Object> chunk) {
        return (Map<String, Object>) ((List<Map<String, Object>>) chunk.get("choices")).getFirst().get("delta");
    }

    @Test
    void streamedReasoningAndAnswerAreSeparateDeltas() {
        Replies r = new Replies(true, "m", true, true);
        List<Map<String, Object>> chunks = new ArrayList<>(r.start());
        for (String piece : List.of("Let me ", "think.</th", "ink>\n\nThe ", "answer", " is 4.")) {
            chunks.addAll(r.text(piece));
        }
        chunks.addAll(r.finish(result("", StopReason.EOS)));
        StringBuilder reasoning = new StringBuilder();
        StringBuilder answer = new StringBuilder();
        for (Map<String, Object> c : chunks.subList(1, chunks.size() - 2)) {
            Map<String, Object> d = delta(c);
            assertEquals(1, d.size(), "one kind of text per delta: " + d);
            d.forEach((k, v) -> (k.equals("reasoning_content") ? reasoning : answer).append(v));
        }
        assertEquals("Let me think.", reasoning.toString());
        assertEquals("The answer is 4.", answer.toString());
        Map<String, Object> usage = chunks.getLast();
        assertEquals(List.of(), usage.get("choices"));
        assertEquals(15, ((Map<?, ?>) usage.get("usage")).get("total_tokens"));
    }

    @Test
    @SuppressWarnings("unchecked")
    void wholeRepliesSplitTooAndMapFinishReasons() {
        Map<String, Object> body = new Replies(true, "m", false, true).complete(result("a b</think>\n\nc", StopReason.LENGTH));
        Map<String, Object> choice = ((List<Map<String, Object>>) body.get("choices")).getFirst();
        Map<String, Object> message = (Map<String, Object>) choice.get("message");
        assertEquals("a b", message.get("reasoning_content"));
        assertEquals("c", message.get("content"));
        assertEquals("length", choice.get("finish_reason"));
        // a model that opens the block itself (Qwen3 with ChatML)
        body = new Replies(true, "m", false, false).complete(result("<think>x</think>y", StopReason.EOS));
        message = (Map<String, Object>) ((List<Map<String, Object>>) body.get("choices")).getFirst().get("message");
        assertEquals("x", message.get("reasoning_content"));
        assertEquals("y", message.get("content"));
        // completions are never split
        body = new Replies(false, "m", false, true).complete(result("<think>x</think>y", StopReason.STOP_STRING));
        choice = ((List<Map<String, Object>>) body.get("choices")).getFirst();
        assertEquals("<think>x</think>y", choice.get("text"));
        assertEquals("stop", choice.get("finish_reason"));
        assertFalse(body.containsKey("reasoning_content"));
        assertEquals("stop", Replies.finishReason(StopReason.LOOP));
        assertEquals("length", Replies.finishReason(StopReason.CONTEXT));
    }
}
