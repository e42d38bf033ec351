package dev.panamax.cli;

import static dev.panamax.cli.ServeHarness.json;
import static dev.panamax.cli.ServeHarness.readUntil;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.regex.Matcher;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Clients that vanish cancel their generations (streamed, non-streamed, still queued); a full
 * queue answers 429. One slot, a queue of one, and requests that would run for 32000 tokens
 * (half a minute here) unless cancelled.
 */
class ServeCancelTest {
    static final String LONG = "{\"prompt\": \"hi\", \"max_tokens\": 32000, \"temperature\": 0, \"stream\": %s}";
    static ServeHarness h;

    @BeforeAll
    static void start() {
        h = ServeHarness.start("-np", "1", "--queue", "1", "--loop-guard", "0", "-c", "32768");
    }

    @AfterAll
    static void stop() {
        h.close();
    }

    static int cancelledTokens(int occurrence) throws InterruptedException {
        Matcher m = h.awaitLog("(?s)(?:.*?completion=\\d+ finish=cancelled){" + (occurrence - 1) + "}.*?"
                + "POST /v1/completions 200 \\S+ prompt=2 cached=\\d+ completion=(\\d+) finish=cancelled", Duration.ofSeconds(20));
        return Integer.parseInt(m.group(1));
    }

    static void awaitIdle() throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (h.server().stats().busySlots() > 0 || h.server().stats().waiting() > 0) {
            assertTrue(System.nanoTime() < deadline, "the slot frees itself: " + h.server().stats());
            Thread.sleep(10);
        }
    }

    @Test
    void disconnectsCancelStreamedAndQueuedRequestsAndAFullQueueGets429() throws Exception {
        long before = h.server().stats().cancelled();
        // A runs in the only slot
        Socket a = h.rawPost("/v1/completions", LONG.formatted(true));
        readUntil(a, "\"text\"");
        // B waits in the queue: its headers come at once, then comment lines keep it checked
        Socket b = h.rawPost("/v1/completions", LONG.formatted(true));
        assertTrue(readUntil(b, "\r\n\r\n").startsWith("HTTP/1.1 200"));
        assertEquals(1, h.server().stats().waiting());
        // C finds the queue full
        HttpResponse<String> c = h.post("/v1/completions", LONG.formatted(false));
        assertEquals(429, c.statusCode(), c.body());
        assertEquals("1", c.headers().firstValue("Retry-After").orElse(""));
        Map<String, Object> err = ServeApiTest.at(json(c.body()), "error");
        assertEquals("rate_limit_error", err.get("type"));
        assertTrue(((String) err.get("message")).contains("busy"), c.body());

        b.close(); // B leaves the queue without ever running
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (h.server().stats().waiting() > 0) {
            assertTrue(System.nanoTime() < deadline, "the vanished client leaves the queue");
            Thread.sleep(10);
        }
        assertEquals(1, h.server().stats().busySlots(), "A still runs");
        assertEquals(0, cancelledTokens(1), "B never generated");

        a.close(); // A stops at its next token
        int tokens = cancelledTokens(2);
        assertTrue(tokens < 4000, "A stopped early: " + tokens + " of 32000 tokens");
        awaitIdle();
        assertEquals(before + 2, h.server().stats().cancelled());
        assertEquals(200, h.post("/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 3}").statusCode());
    }

    @Test
    void aVanishedNonStreamingClientIsNoticedOnceItsAnswerIsLate() throws Exception {
        int already = h.logLines(l -> l.contains("finish=cancelled")).size();
        Socket s = h.rawPost("/v1/completions", LONG.formatted(false));
        Thread.sleep(200);
        s.close();
        int tokens = cancelledTokens(already + 1);
        assertTrue(tokens < 32000, "stopped early: " + tokens + " of 32000 tokens");
        awaitIdle();
    }

    @Test
    void aSlowNonStreamingAnswerIsStillValidJson() throws Exception {
        // longer than the commit delay (2 s): 200 and chunked spaces first, then the JSON body
        long t0 = System.nanoTime();
        HttpResponse<String> r = h.post("/v1/completions", "{\"prompt\": \"hi\", \"max_tokens\": 12000, \"temperature\": 0}");
        assertEquals(200, r.statusCode());
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L || r.body().startsWith("  "), "spaces kept the connection checked");
        assertEquals(12000, ServeApiTest.integer(json(r.body()), "usage", "completion_tokens"));
    }
}
