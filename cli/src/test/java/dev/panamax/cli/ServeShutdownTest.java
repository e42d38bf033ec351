package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** Graceful stop: in-process close(), and SIGTERM to a real {@code panamax serve} process. */
class ServeShutdownTest {
    static final String LONG = "{\"prompt\": \"hi\", \"max_tokens\": 32000, \"temperature\": 0, \"stream\": true}";

    @Test
    void closeEndsQueuedRequestsAtOnceAndRunningOnesAfterTheGracePeriod() throws Exception {
        ServeHarness h = ServeHarness.start("-np", "1", "--loop-guard", "0", "-c", "32768");
        int port = h.base.getPort();
        Socket running = h.rawPost("/v1/completions", LONG);
        ServeHarness.readUntil(running, "\"text\"");
        Socket queued = h.rawPost("/v1/completions", LONG);
        ServeHarness.readUntil(queued, "\r\n\r\n");
        long t0 = System.nanoTime();
        Thread closer = Thread.ofVirtual().start(h::close);
        String q = ServeHarness.readUntil(queued, "shutting_down");
        assertTrue(q.contains("\"code\":\"shutting_down\""), q);
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "the queued request is told at once");
        String r = ServeHarness.readUntil(running, "data: [DONE]");
        assertTrue(r.contains("shutting_down"), "the running one is cancelled after the grace period");
        closer.join(15_000);
        assertTrue(!closer.isAlive(), "close() returns");
        double seconds = (System.nanoTime() - t0) / 1e9;
        assertTrue(seconds < 12, "stopped in " + seconds + " s");
        running.close();
        queued.close();
        assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", port).close(), "the port is closed");
    }

    @Test
    void sigtermStopsAServeProcessGracefully() throws Exception {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(List.of(java, "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "-cp", System.getProperty("java.class.path"), "dev.panamax.cli.Panamax", "serve", "-m", ServeHarness.MODEL,
                "--port", "0", "-t", "1")).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        try {
            BufferedReader err = new BufferedReader(new InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8));
            Pattern listening = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)/v1");
            int port = -1;
            StringBuilder seen = new StringBuilder();
            for (String line; port < 0 && (line = err.readLine()) != null; ) {
                seen.append(line).append('\n');
                Matcher m = listening.matcher(line);
                if (m.find()) {
                    port = Integer.parseInt(m.group(1));
                }
            }
            assertTrue(port > 0, "the server says where it listens:\n" + seen);
            try (Socket s = new Socket("127.0.0.1", port)) {
                s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
                assertTrue(ServeHarness.readUntil(s, "\"status\":\"ok\"").startsWith("HTTP/1.1 200"));
            }
            StringBuffer rest = new StringBuffer();
            Thread reader = Thread.ofVirtual().start(() -> err.lines().forEach(l -> rest.append(l).append('\n')));
            p.toHandle().destroy(); // SIGTERM (Process.destroy would also close our end of its stderr)
            assertTrue(p.waitFor(20, TimeUnit.SECONDS), "the process exits");
            reader.join(5_000);
            String all = seen + rest.toString();
            assertTrue(all.contains("GET /health 200"), all);
            assertTrue(all.contains("panamax serve: shutting down") && all.contains("panamax serve: stopped"), all);
            assertEquals(143, p.exitValue(), "128 + SIGTERM, as the JVM exits on a signal");
        } finally {
            p.destroyForcibly();
        }
    }

}
