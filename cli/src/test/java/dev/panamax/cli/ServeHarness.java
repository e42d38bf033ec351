package dev.panamax.cli;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.panamax.cli.serve.ApiServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import picocli.CommandLine;

/** A {@code panamax serve} started in-process on an ephemeral loopback port, with a small HTTP client. */
final class ServeHarness implements AutoCloseable {
    static final String MODEL = RunCommandTest.model("qwen2-f32");

    final ServeCommand.Running running;
    final URI base;
    private final StringWriter logText = new StringWriter();
    final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5)).build();

    private ServeHarness(String model, String... args) throws IOException {
        // one compute thread: the tests share two cores, and spinning workers would slow everything
        String[] all = Stream.concat(Stream.of("-m", model, "--port", "0", "-t", "1", "-ctk", "f32", "-ctv", "f32"),
                Arrays.stream(args)).toArray(String[]::new);
        ServeCommand cmd = new ServeCommand();
        new CommandLine(cmd).parseArgs(all);
        PrintWriter log = new PrintWriter(logText, true);
        this.running = cmd.start(log);
        this.base = URI.create("http://127.0.0.1:" + running.server().port());
    }

    static ServeHarness start(String... args) {
        return startOn(MODEL, args);
    }

    /** A server on another model file (e.g. the trained demo model in models/). */
    static ServeHarness startOn(String model, String... args) {
        try {
            return new ServeHarness(model, args);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    ApiServer server() {
        return running.server();
    }

    String log() {
        return logText.toString(); // StringWriter's buffer is synchronized
    }

    /** The request log lines that match. */
    List<String> logLines(Predicate<String> p) {
        return log().lines().filter(p).toList();
    }

    /** Waits (bounded) for a request log line matching the pattern and returns its match. */
    Matcher awaitLog(String regex, Duration timeout) throws InterruptedException {
        Pattern pattern = Pattern.compile(regex);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            Matcher m = pattern.matcher(log());
            if (m.find()) {
                return m;
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no log line matching " + regex + " within " + timeout + ":\n" + log());
    }

    HttpResponse<String> post(String path, String json, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60))
                .POST(HttpRequest.BodyPublishers.ofString(json)).header("Content-Type", "application/json");
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, Map<String, Object> body, String... headers) throws IOException, InterruptedException {
        return post(path, JSON.std.asString(body), headers);
    }

    HttpResponse<String> get(String path, String... headers) throws IOException, InterruptedException {
        HttpRequest.Builder b = HttpRequest.newBuilder(base.resolve(path)).timeout(Duration.ofSeconds(60)).GET();
        if (headers.length > 0) {
            b.headers(headers);
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> send(String method, String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(base.resolve(path)).method(method, HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    static Map<String, Object> json(String s) {
        try {
            return JSON.std.mapFrom(s);
        } catch (IOException e) {
            throw new AssertionError("not JSON: " + s, e);
        }
    }

    /** The data payloads of an SSE body, in order ("[DONE]" included as is). */
    static List<String> sseData(String body) {
        List<String> out = new ArrayList<>();
        for (String event : body.split("\n\n")) {
            StringBuilder data = new StringBuilder();
            for (String line : event.split("\n")) {
                if (line.startsWith("data: ")) {
                    data.append(line.substring(6));
                } else if (!line.isEmpty() && !line.startsWith(":")) {
                    throw new AssertionError("not an SSE line: " + line);
                }
            }
            if (!data.isEmpty()) {
                out.add(data.toString());
            }
        }
        return out;
    }

    /** A raw HTTP/1.1 connection, for clients that vanish. */
    Socket rawPost(String path, String json) throws IOException {
        Socket s = new Socket(base.getHost(), base.getPort());
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        OutputStream o = s.getOutputStream();
        o.write(("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: "
                + body.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        o.write(body);
        o.flush();
        return s;
    }

    /** Reads from a raw connection until {@code text} has appeared (or the stream ends); returns what was read. */
    static String readUntil(Socket s, String text) throws IOException {
        InputStream in = s.getInputStream();
        StringBuilder sb = new StringBuilder();
        byte[] buf = new byte[4096];
        while (!sb.toString().contains(text)) {
            int n = in.read(buf);
            if (n < 0) {
                break;
            }
            sb.append(new String(buf, 0, n, StandardCharsets.UTF_8));
        }
        return sb.toString();
    }

    @Override
    public void close() {
        client.close();
        running.close();
    }
}
