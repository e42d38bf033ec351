package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.jr.ob.JSON;
import java.net.http.HttpResponse;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** serve -md: every slot drafts with its own draft session; greedy replies are unchanged by the draft. */
class ServeSpeculativeTest {
    private static String reply(ServeHarness h) throws Exception {
        HttpResponse<String> r = h.post("/v1/chat/completions", ServeApiTest.chat("Hello there", "temperature", 0,
                "max_tokens", 24));
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> j = JSON.std.mapFrom(r.body());
        return ServeApiTest.at(j, "choices", 0, "message", "content");
    }

    @Test
    void draftedRepliesEqualPlainReplies() throws Exception {
        String plain;
        try (ServeHarness h = ServeHarness.start("-c", "256")) {
            plain = reply(h);
        }
        try (ServeHarness h = ServeHarness.start("-c", "256", "-np", "2", "-md", RunCommandTest.model("llama-f32"), "--draft", "3")) {
            assertEquals(plain, reply(h));
            assertEquals(plain, reply(h), "second request on a warm slot");
            assertTrue(h.log().contains("speculative decoding with"), h.log());
        }
    }
}
