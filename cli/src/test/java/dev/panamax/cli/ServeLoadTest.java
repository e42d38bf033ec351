package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.cli.serve.ApiServer;
import java.lang.management.ManagementFactory;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * A bounded load test on loopback: 50 concurrent streaming chats with the demo model against two slots and a queue
 * of four, a third of the clients vanishing mid-stream. Only 200s and 429s, nothing leaks, and
 * the server still answers afterwards.
 */
class ServeLoadTest {
    static final int CLIENTS = 50;
    static final String REQUEST = "{\"messages\": [{\"role\": \"user\", \"content\": \"Say something, client %d.\"}],"
            + " \"max_tokens\": 200, \"stream\": true}";

    /**
     * Platform threads, less the JDK's own that start on first use or grow and shrink on demand
     * (virtual-thread carriers and I/O pollers, the HTTP client's workers).
     */
    static Set<String> serverThreads() {
        return Thread.getAllStackTraces().keySet().stream().filter(Thread::isAlive).map(Thread::getName)
                .filter(n -> !n.startsWith("ForkJoinPool") && !n.startsWith("HttpClient") && !n.startsWith("InnocuousThread")
                        && !n.endsWith("Poller") && !n.startsWith("VirtualThread-") && !n.startsWith("Attach Listener"))
                .collect(Collectors.toSet());
    }

    static long usedHeap() {
        System.gc();
        return ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    }

    @Test
    void fiftyConcurrentStreamsGet200Or429AndLeaveNothingBehind() throws Exception {
        long t0 = System.nanoTime();
        // the trained demo model writes real text (and stops by itself at times), unlike the random fixtures
        String demo = java.nio.file.Path.of("../models/demo-target-Q4_K_M.gguf").toAbsolutePath().normalize().toString();
        try (ServeHarness h = ServeHarness.startOn(demo, "-np", "2", "--queue", "4", "-c", "512")) {
            ApiServer server = h.server();
            assertEquals(200, h.post("/v1/chat/completions", REQUEST.formatted(-1).replace("true", "false")).statusCode());
            Set<String> threadsBefore = serverThreads();
            long heapBefore = usedHeap();

            Map<Integer, AtomicInteger> statuses = new ConcurrentHashMap<>();
            AtomicInteger vanished = new AtomicInteger();
            AtomicInteger completeStreams = new AtomicInteger();
            CountDownLatch go = new CountDownLatch(1);
            try (ExecutorService clients = Executors.newVirtualThreadPerTaskExecutor()) {
                List<Future<?>> futures = new java.util.ArrayList<>();
                for (int i = 0; i < CLIENTS; i++) {
                    int id = i;
                    futures.add(clients.submit(() -> {
                        go.await();
                        if (id >= 9 || id % 3 != 0) {
                            Thread.sleep(100); // three vanishing clients (0, 3, 6) are surely among those served
                        }
                        if (id % 3 == 0) {
                            // reads the status and the first text, then drops the connection
                            try (Socket s = h.rawPost("/v1/chat/completions", REQUEST.formatted(id))) {
                                String head = ServeHarness.readUntil(s, "\r\n");
                                int status = Integer.parseInt(head.substring(9, 12));
                                statuses.computeIfAbsent(status, k -> new AtomicInteger()).incrementAndGet();
                                if (status == 200) {
                                    ServeHarness.readUntil(s, "\"content\":\"");
                                    vanished.incrementAndGet();
                                }
                            }
                            return null;
                        }
                        HttpResponse<String> r = h.post("/v1/chat/completions", REQUEST.formatted(id));
                        statuses.computeIfAbsent(r.statusCode(), k -> new AtomicInteger()).incrementAndGet();
                        if (r.statusCode() == 200) {
                            List<String> data = ServeHarness.sseData(r.body());
                            assertEquals("[DONE]", data.getLast(), r.body());
                            assertTrue(data.get(data.size() - 2).contains("\"finish_reason\":\""), r.body());
                            completeStreams.incrementAndGet();
                        } else {
                            assertEquals(429, r.statusCode(), r.body());
                            assertEquals("rate_limit_error", ServeApiTest.at(ServeHarness.json(r.body()), "error", "type"));
                        }
                        return null;
                    }));
                }
                go.countDown();
                for (Future<?> f : futures) {
                    f.get(60, TimeUnit.SECONDS); // rethrows a client's assertion
                }
            }
            Map<Integer, Integer> counts = statuses.entrySet().stream()
                    .collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().get()));
            assertEquals(Set.of(200, 429), counts.keySet(), "only 200 and 429: " + counts);
            assertEquals(CLIENTS, counts.get(200) + counts.get(429));
            assertTrue(counts.get(200) >= 6, "at least the two slots and the queue of four were served: " + counts);
            assertTrue(vanished.get() >= 3, "clients 0, 3 and 6 were served and vanished mid-stream: " + vanished);

            // everything settles: no request open, no slot busy, nothing queued
            long deadline = System.nanoTime() + Duration.ofSeconds(15).toNanos();
            while (server.stats().openRequests() > 0 || server.stats().busySlots() > 0 || server.stats().waiting() > 0) {
                assertTrue(System.nanoTime() < deadline, "the server settles: " + server.stats());
                Thread.sleep(20);
            }
            // a vanished client's generation may have ended before the server noticed; no other is cancelled
            assertTrue(server.stats().cancelled() <= vanished.get(), server.stats() + ", vanished " + vanished);
            HttpResponse<String> health = h.get("/health");
            assertEquals(200, health.statusCode());
            assertEquals(2, ServeApiTest.integer(ServeHarness.json(health.body()), "slots_idle"));
            HttpResponse<String> after = h.post("/v1/chat/completions", REQUEST.formatted(99));
            assertEquals(200, after.statusCode());
            assertEquals("[DONE]", ServeHarness.sseData(after.body()).getLast());

            assertEquals(threadsBefore, serverThreads(), "no platform thread leaked");
            long grown = usedHeap() - heapBefore;
            assertTrue(grown < 32L << 20, "heap grew by " + (grown >> 20) + " MiB");
            System.err.printf("ServeLoadTest: %s, %d complete streams, %d vanished mid-stream, %s, %.1f s%n", counts,
                    completeStreams.get(), vanished.get(), server.stats(), (System.nanoTime() - t0) / 1e9);
        }
    }
}
