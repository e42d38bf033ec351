package dev.panamax.cli;

import static dev.panamax.cli.ServeHarness.json;
import static dev.panamax.cli.ServeHarness.sseData;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The OpenAI endpoints of {@code panamax serve} on a tiny fixture model: shapes, sampling fields, errors. */
class ServeApiTest {
    static ServeHarness h;

    @BeforeAll
    static void start() {
        h = ServeHarness.start("-np", "2", "-c", "512", "--max-body", "16k", "--alias", "tiny");
    }

    @AfterAll
    static void stop() {
        h.close();
    }

    static Map<String, Object> chat(String user, Object... fields) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", "whatever");
        m.put("messages", List.of(Map.of("role", "system", "content", "Be brief."), Map.of("role", "user", "content", user)));
        for (int i = 0; i < fields.length; i += 2) {
            m.put((String) fields[i], fields[i + 1]);
        }
        return m;
    }

    @SuppressWarnings("unchecked")
    static <T> T at(Object json, Object... path) {
        Object o = json;
        for (Object p : path) {
            o = p instanceof Integer i ? ((List<Object>) o).get(i) : ((Map<String, Object>) o).get(p);
        }
        return (T) o;
    }

    static int integer(Object json, Object... path) {
        return ((Number) at(json, path)).intValue();
    }

    /** The content deltas of a chat stream (or texts of a completion stream), concatenated. */
    static String streamedText(List<String> data, String field) {
        StringBuilder sb = new StringBuilder();
        for (String d : data) {
            if (d.equals("[DONE]")) {
                continue;
            }
            List<Object> choices = at(json(d), "choices");
            if (choices.isEmpty()) {
                continue;
            }
            Object v = field.equals("text") ? at(choices.getFirst(), "text") : at(choices.getFirst(), "delta", field);
            if (v != null) {
                sb.append(v);
            }
        }
        return sb.toString();
    }

    @Test
    void healthAndModels() throws Exception {
        HttpResponse<String> r = h.get("/health");
        assertEquals(200, r.statusCode());
        assertEquals("ok", json(r.body()).get("status"));
        assertEquals(2, integer(json(r.body()), "slots_idle"));
        r = h.get("/v1/models");
        assertEquals(200, r.statusCode());
        assertEquals("list", json(r.body()).get("object"));
        assertEquals("tiny", at(json(r.body()), "data", 0, "id"));
        assertEquals("model", at(json(r.body()), "data", 0, "object"));
        assertEquals(200, h.get("/v1/models/tiny").statusCode());
        r = h.get("/v1/models/other");
        assertEquals(404, r.statusCode());
        assertEquals("model_not_found", at(json(r.body()), "error", "code"));
        assertEquals(200, h.get("/models").statusCode(), "the /v1 prefix is optional, as in llama-server");
    }

    @Test
    void chatCompletionHasOpenAisShapeAndUsage() throws Exception {
        HttpResponse<String> r = h.post("/v1/chat/completions", chat("Hello", "max_tokens", 7, "temperature", 0));
        assertEquals(200, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        Map<String, Object> j = json(r.body());
        assertTrue(((String) j.get("id")).startsWith("chatcmpl-"));
        assertEquals("chat.completion", j.get("object"));
        assertEquals("tiny", j.get("model"));
        assertEquals("assistant", at(j, "choices", 0, "message", "role"));
        assertTrue(at(j, "choices", 0, "message", "content") instanceof String);
        assertEquals("length", at(j, "choices", 0, "finish_reason"));
        assertEquals(7, integer(j, "usage", "completion_tokens"));
        int prompt = integer(j, "usage", "prompt_tokens");
        assertTrue(prompt > 10, "system + user turns in the chat template: " + prompt);
        assertEquals(prompt + 7, integer(j, "usage", "total_tokens"));
    }

    @Test
    void streamedChatEqualsTheWholeAnswer() throws Exception {
        Map<String, Object> req = chat("Tell me", "max_tokens", 12, "temperature", 0);
        String whole = at(json(h.post("/v1/chat/completions", req).body()), "choices", 0, "message", "content");
        req.put("stream", true);
        HttpResponse<String> r = h.post("/v1/chat/completions", req);
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> data = sseData(r.body());
        assertEquals("[DONE]", data.getLast());
        Map<String, Object> first = json(data.getFirst());
        assertEquals("chat.completion.chunk", first.get("object"));
        assertEquals("assistant", at(first, "choices", 0, "delta", "role"));
        assertEquals(whole, streamedText(data, "content"));
        Map<String, Object> last = json(data.get(data.size() - 2));
        assertEquals("length", at(last, "choices", 0, "finish_reason"));
        assertFalse(last.containsKey("usage"), "no usage unless stream_options.include_usage");
        for (String d : data.subList(0, data.size() - 2)) {
            assertNull(at(json(d), "choices", 0, "finish_reason"));
            assertEquals(first.get("id"), json(d).get("id"), "one id for the whole stream");
        }
    }

    @Test
    void streamOptionsIncludeUsageAddsAFinalUsageChunk() throws Exception {
        HttpResponse<String> r = h.post("/v1/chat/completions", chat("Hi", "max_tokens", 5, "stream", true,
                "stream_options", Map.of("include_usage", true)));
        List<String> data = sseData(r.body());
        Map<String, Object> usage = json(data.get(data.size() - 2));
        assertEquals(List.of(), usage.get("choices"));
        assertEquals(5, integer(usage, "usage", "completion_tokens"));
        assertTrue(json(data.getFirst()).containsKey("usage"), "other chunks carry usage: null");
        assertNull(json(data.getFirst()).get("usage"));
    }

    @Test
    void completionsPlainAndStreamed() throws Exception {
        Map<String, Object> req = new LinkedHashMap<>(Map.of("prompt", "Once upon a time", "max_tokens", 9, "temperature", 0));
        HttpResponse<String> r = h.post("/v1/completions", req);
        assertEquals(200, r.statusCode(), r.body());
        Map<String, Object> j = json(r.body());
        assertEquals("text_completion", j.get("object"));
        assertTrue(((String) j.get("id")).startsWith("cmpl-"));
        String text = at(j, "choices", 0, "text");
        assertEquals(9, integer(j, "usage", "completion_tokens"));
        req.put("stream", true);
        List<String> data = sseData(h.post("/v1/completions", req).body());
        assertEquals(text, streamedText(data, "text"));
        assertEquals("length", at(json(data.get(data.size() - 2)), "choices", 0, "finish_reason"));
        // token ids work as a prompt too
        r = h.post("/v1/completions", Map.of("prompt", List.of(39, 72), "max_tokens", 2));
        assertEquals(2, integer(json(r.body()), "usage", "prompt_tokens"));
    }

    @Test
    void stopStringsEndTheAnswerAndAreNotReturned() throws Exception {
        String text = at(json(h.post("/v1/completions", Map.of("prompt", "abc", "max_tokens", 24, "temperature", 0)).body()),
                "choices", 0, "text");
        String stop = text.substring(4, 6);
        Map<String, Object> j = json(h.post("/v1/completions", Map.of("prompt", "abc", "max_tokens", 24, "temperature", 0,
                "stop", List.of("\u0000never", stop))).body());
        assertEquals("stop", at(j, "choices", 0, "finish_reason"));
        assertEquals(text.substring(0, text.indexOf(stop)), at(j, "choices", 0, "text"));
        j = json(h.post("/v1/completions", Map.of("prompt", "abc", "max_tokens", 24, "temperature", 0, "stop", stop)).body());
        assertEquals("stop", at(j, "choices", 0, "finish_reason"), "stop may be a single string");
    }

    @Test
    void seedMakesSamplingRepeatable() throws Exception {
        Map<String, Object> req = chat("Pick", "max_tokens", 16, "temperature", 1.5, "top_k", 0, "top_p", 1.0, "min_p", 0,
                "seed", 1234, "presence_penalty", 0.5, "frequency_penalty", 0.2);
        String a = at(json(h.post("/v1/chat/completions", req).body()), "choices", 0, "message", "content");
        String b = at(json(h.post("/v1/chat/completions", req).body()), "choices", 0, "message", "content");
        assertEquals(a, b, "same seed, same answer");
        req.put("seed", 99);
        String c = at(json(h.post("/v1/chat/completions", req).body()), "choices", 0, "message", "content");
        assertNotEquals(a, c, "another seed, another answer");
    }

    @Test
    void aGrowingConversationReusesItsSlotsCache() throws Exception {
        List<Object> messages = new ArrayList<>(List.of(Map.of("role", "user", "content", "Remember the number 42, please.")));
        Map<String, Object> j = json(h.post("/v1/chat/completions",
                Map.of("messages", messages, "max_tokens", 6, "temperature", 0)).body());
        messages.add(Map.of("role", "assistant", "content", at(j, "choices", 0, "message", "content")));
        // another conversation in between takes the other slot, or evicts nothing it needs
        h.post("/v1/chat/completions", chat("Something else entirely", "max_tokens", 4));
        messages.add(Map.of("role", "user", "content", "Which number?"));
        j = json(h.post("/v1/chat/completions", Map.of("messages", messages, "max_tokens", 4, "temperature", 0)).body());
        int prompt = integer(j, "usage", "prompt_tokens");
        int cached = integer(j, "usage", "prompt_tokens_details", "cached_tokens");
        assertTrue(cached > 15 && cached < prompt, "the first turn comes from the cache: " + cached + " of " + prompt);
    }

    @Test
    void contentPartsUnknownFieldsAndDeveloperRole() throws Exception {
        Map<String, Object> req = Map.of("messages", List.of(Map.of("role", "developer", "content", "x"),
                        Map.of("role", "user", "content", List.of(Map.of("type", "text", "text", "Hi"), Map.of("type", "text", "text", "there")))),
                "max_tokens", 2, "logit_bias", Map.of(), "user", "me", "some_future_field", List.of(1, 2), "tools", List.of());
        assertEquals(200, h.post("/v1/chat/completions", req).statusCode());
    }

    private static void assertError(HttpResponse<String> r, int status, String param, String messagePart) {
        assertEquals(status, r.statusCode(), r.body());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/json"));
        Map<String, Object> e = at(json(r.body()), "error");
        assertTrue(((String) e.get("message")).contains(messagePart), r.body());
        assertTrue(e.get("type") instanceof String);
        if (param != null) {
            assertEquals(param, e.get("param"));
        }
    }

    @Test
    void badRequestsGetClearJsonErrors() throws Exception {
        assertError(h.post("/v1/chat/completions", "{\"messages\": [", new String[0]), 400, null, "not valid JSON");
        assertError(h.post("/v1/chat/completions", "[1, 2]", new String[0]), 400, null, "must be a JSON object");
        assertError(h.post("/v1/chat/completions", Map.of("max_tokens", 3)), 400, "messages", "'messages' is required");
        assertError(h.post("/v1/chat/completions", Map.of("messages", List.of())), 400, "messages", "non-empty");
        assertError(h.post("/v1/chat/completions", chat("x", "temperature", "hot")), 400, "temperature", "must be a number");
        assertError(h.post("/v1/chat/completions", chat("x", "top_p", 0)), 400, "top_p", "in (0, 1]");
        assertError(h.post("/v1/chat/completions", chat("x", "max_tokens", 2.5)), 400, "max_tokens", "integer");
        assertError(h.post("/v1/chat/completions", chat("x", "n", 3)), 400, "n", "only n=1");
        assertError(h.post("/v1/chat/completions", chat("x", "stop", 5)), 400, "stop", "string");
        assertError(h.post("/v1/chat/completions", Map.of("messages", List.of(Map.of("role", "wizard", "content", "x")))),
                400, "messages[0].role", "unknown role 'wizard'");
        assertError(h.post("/v1/chat/completions", Map.of("messages", List.of(Map.of("role", "user",
                "content", List.of(Map.of("type", "image_url", "image_url", Map.of("url", "x"))))))), 400, null, "only text parts");
        assertError(h.post("/v1/completions", Map.of("prompt", List.of("a", "b"))), 400, "prompt", "batched prompts");
        assertError(h.post("/v1/completions", Map.of("prompt", List.of(1, 99999))), 400, "prompt", "outside the vocabulary");
    }

    @Test
    void aPromptLongerThanTheContextIs400() throws Exception {
        HttpResponse<String> r = h.post("/v1/completions", Map.of("prompt", "word ".repeat(600)));
        assertError(r, 400, null, "but the context is 512 tokens");
        assertEquals("context_length_exceeded", at(json(r.body()), "error", "code"));
    }

    @Test
    void wrongPathMethodAndBodySize() throws Exception {
        HttpResponse<String> r = h.get("/v1/nothing");
        assertError(r, 404, null, "no such endpoint");
        assertError(h.get("/etc/passwd"), 404, null, "no such endpoint");
        assertError(h.get("/v1/../../etc/passwd"), 404, null, "no such endpoint");
        r = h.get("/v1/chat/completions");
        assertError(r, 405, null, "GET is not allowed");
        assertEquals("POST", r.headers().firstValue("Allow").orElse(""));
        assertError(h.send("DELETE", "/v1/models"), 405, null, "use GET");
        r = h.post("/v1/chat/completions", chat("x".repeat(20_000)));
        assertError(r, 413, null, "larger than 16384 bytes");
        assertEquals(200, h.get("/health").statusCode(), "the server is fine afterwards");
        h.awaitLog(" POST /v1/chat/completions 413 ", java.time.Duration.ofSeconds(5));
    }

    @Test
    void everyRequestIsLoggedOnOneLine() throws Exception {
        h.post("/v1/chat/completions", chat("log me", "max_tokens", 3));
        h.awaitLog("(?m)^\\S+Z 127\\.0\\.0\\.1 POST /v1/chat/completions 200 \\d+\\.\\d{3}s prompt=\\d+ "
                + "cached=\\d+ completion=3 finish=length slot=[01]$", java.time.Duration.ofSeconds(5));
    }
}
