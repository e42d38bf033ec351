package dev.panamax.cli;

import static dev.panamax.cli.ServeApiTest.at;
import static dev.panamax.cli.ServeHarness.json;
import static dev.panamax.cli.ServeHarness.sseData;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * R1-style templates: the assistant turn starts inside the reasoning block, which comes back as
 * reasoning_content; a request option or --think off bypasses it. (The fixture's random weights
 * never close the block, so all of the output is reasoning unless thinking is off.)
 */
class ServeReasoningTest {
    static Map<String, Object> chat(Object... fields) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("messages", List.of(Map.of("role", "user", "content", "Why?")));
        m.put("max_tokens", 8);
        m.put("temperature", 0);
        for (int i = 0; i < fields.length; i += 2) {
            m.put((String) fields[i], fields[i + 1]);
        }
        return m;
    }

    @Test
    void reasoningIsReturnedApartAndCanBeTurnedOffPerRequest() throws Exception {
        try (ServeHarness h = ServeHarness.start("--chat-template", "deepseek-r1")) {
            Map<String, Object> j = json(h.post("/v1/chat/completions", chat()).body());
            Map<String, Object> msg = at(j, "choices", 0, "message");
            assertEquals("", msg.get("content"));
            String reasoning = (String) msg.get("reasoning_content");
            assertFalse(reasoning.isEmpty());

            List<String> data = sseData(h.post("/v1/chat/completions", chat("stream", true)).body());
            StringBuilder streamed = new StringBuilder();
            for (String d : data.subList(1, data.size() - 1)) {
                Map<String, Object> delta = at(json(d), "choices", 0, "delta");
                assertTrue(delta.get("content") == null || "".equals(delta.get("content")), "no answer text: " + delta);
                if (delta.get("reasoning_content") != null) {
                    streamed.append(delta.get("reasoning_content"));
                }
            }
            assertEquals(reasoning, streamed.toString());

            for (Map<String, Object> off : List.of(chat("chat_template_kwargs", Map.of("enable_thinking", false)),
                    chat("think", false), chat("reasoning_effort", "none"))) {
                msg = at(json(h.post("/v1/chat/completions", off).body()), "choices", 0, "message");
                assertFalse(msg.containsKey("reasoning_content"), msg.toString());
                assertFalse(((String) msg.get("content")).isEmpty());
            }
        }
    }

    @Test
    void thinkOffOnTheServerBypassesReasoningUnlessARequestAsksForIt() throws Exception {
        try (ServeHarness h = ServeHarness.start("--chat-template", "deepseek-r1", "--think", "off")) {
            Map<String, Object> msg = at(json(h.post("/v1/chat/completions", chat()).body()), "choices", 0, "message");
            assertFalse(msg.containsKey("reasoning_content"), msg.toString());
            msg = at(json(h.post("/v1/chat/completions", chat("chat_template_kwargs", Map.of("enable_thinking", true))).body()),
                    "choices", 0, "message");
            assertTrue(msg.containsKey("reasoning_content"), msg.toString());
            assertTrue(h.log().contains("thinking off"), h.log());
        }
    }
}
