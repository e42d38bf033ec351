package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** --api-key: every endpoint but /health wants the Bearer token. */
class ServeAuthTest {
    @Test
    void theApiKeyIsRequiredAsABearerToken() throws Exception {
        try (ServeHarness h = ServeHarness.start("--api-key", "s3cret")) {
            Map<String, Object> chat = Map.of("messages", List.of(Map.of("role", "user", "content", "hi")), "max_tokens", 2);
            for (HttpResponse<String> r : List.of(h.post("/v1/chat/completions", chat),
                    h.post("/v1/chat/completions", chat, "Authorization", "Bearer wrong"),
                    h.post("/v1/chat/completions", chat, "Authorization", "s3cret"),
                    h.get("/v1/models", "Authorization", "Bearer s3cret2"))) {
                assertEquals(401, r.statusCode(), r.body());
                assertEquals("Bearer", r.headers().firstValue("WWW-Authenticate").orElse(""));
                assertEquals("invalid_api_key", ServeApiTest.at(ServeHarness.json(r.body()), "error", "code"));
            }
            assertEquals(200, h.post("/v1/chat/completions", chat, "Authorization", "Bearer s3cret").statusCode());
            assertEquals(200, h.get("/v1/models", "Authorization", "Bearer s3cret").statusCode());
            assertEquals(200, h.get("/health").statusCode(), "health checks need no key");
            assertTrue(h.log().contains("(API key required)"), h.log());
        }
    }

    @Test
    void startupChecksOptionsAndBindsLoopbackByDefault() throws Exception {
        try (ServeHarness h = ServeHarness.start()) {
            assertTrue(h.server().address().getAddress().isLoopbackAddress());
            assertTrue(h.log().contains("KV cache"), h.log());
        }
        CliRunner r = CliRunner.run("serve", "-m", ServeHarness.MODEL, "--parallel", "0");
        assertEquals(1, r.exitCode());
        assertTrue(r.err().contains("--parallel must be at least 1"), r.err());
        r = CliRunner.run("serve", "-m", ServeHarness.MODEL, "--max-body", "lots");
        assertTrue(r.err().contains("--max-body must be a size"), r.err());
        r = CliRunner.run("serve", "-m", ServeHarness.MODEL, "--think", "perhaps");
        assertTrue(r.err().contains("--think must be on or off"), r.err());
        r = CliRunner.run("serve", "--help");
        assertEquals(0, r.exitCode());
        for (String option : List.of("--host", "--port", "--parallel", "--queue", "--api-key", "--max-body", "--think")) {
            assertTrue(r.out().contains(option), option + " in help:\n" + r.out());
        }
    }
}
