package dev.panamax.cli.serve;

import com.fasterxml.jackson.jr.ob.JSON;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.panamax.engine.Model;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.generate.StopReason;
import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.kernels.WorkerPool;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The OpenAI-compatible HTTP server: the JDK's HttpServer, one virtual thread per exchange, the
 * generations on the {@link Slots}' platform threads. Endpoints: {@code POST /v1/chat/completions},
 * {@code POST /v1/completions}, {@code GET /v1/models}, {@code GET /health} (also without the
 * {@code /v1} prefix). Every error is a JSON body in OpenAI's shape; nothing serves files.
 *
 * <p>A client that goes away cancels its generation: a streamed response fails on its next write
 * (a token, or a comment line sent every {@value #HEARTBEAT_MS} ms while the request waits in the
 * queue or its prompt is evaluated); a non-streamed one that takes longer than {@value
 * #COMMIT_AFTER_MS} ms is sent as a chunked 200 whose JSON body is preceded by a space every
 * {@value #HEARTBEAT_MS} ms, which is valid JSON and fails the same way.
 */
public final class ApiServer implements AutoCloseable {
    static final long HEARTBEAT_MS = 250;
    static final long COMMIT_AFTER_MS = 2000;
    /** On shutdown, how long running requests may take to finish before they are cancelled. */
    static final long GRACE_MS = 5000;
    /** How long a cancelled generation may take to stop before its request is logged without it. */
    private static final long CANCEL_WAIT_MS = 10_000;
    private static final JSON JSON_OUT = JSON.std.with(JSON.Feature.WRITE_NULL_PROPERTIES);
    private static final byte[] SSE_HEARTBEAT = ":\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] SSE_DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    /** Counters for /health, the request log and tests. */
    public record Stats(int busySlots, int waiting, int openRequests, long requests, long cancelled, long generatedTokens) {}

    private enum Endpoint {
        CHAT("POST", true), COMPLETIONS("POST", true), MODELS("GET", true), MODEL("GET", true), HEALTH("GET", false);

        final String method;
        final boolean needsKey;

        Endpoint(String method, boolean needsKey) {
            this.method = method;
            this.needsKey = needsKey;
        }
    }

    /** What the request log line says about one exchange. */
    private static final class Outcome {
        int status;
        boolean committed;
        int promptTokens = -1;
        int cachedTokens;
        int completionTokens;
        String finish;
        int slot = -1;
    }

    private final ServerConfig config;
    private final Tokenizer tokenizer;
    private final PrintWriter log;
    private final WorkerPool pool;
    private final Slots slots;
    private final ExecutorService executor;
    private final HttpServer http;
    private final byte[] expectedAuth;
    private final long startedSeconds = System.currentTimeMillis() / 1000;
    private final AtomicBoolean closing = new AtomicBoolean();
    private final CountDownLatch closed = new CountDownLatch(1);
    private final AtomicInteger open = new AtomicInteger();
    private final AtomicLong requests = new AtomicLong();
    private final AtomicLong cancelled = new AtomicLong();

    private ApiServer(Model model, ServerConfig config, PrintWriter log) throws IOException {
        this.config = config;
        this.tokenizer = model.tokenizer();
        this.log = log;
        this.expectedAuth = config.apiKey() == null ? null : ("Bearer " + config.apiKey()).getBytes(StandardCharsets.UTF_8);
        this.pool = new WorkerPool(config.threads());
        try {
            this.slots = new Slots(model, config.session(), config.parallel(), config.queue(), pool, config.drafts());
        } catch (RuntimeException e) {
            pool.close();
            throw e;
        }
        // small SSE writes must not wait for Nagle (read once, when the JDK's server is first used)
        System.setProperty("sun.net.httpserver.nodelay", "true");
        try {
            this.http = HttpServer.create(new InetSocketAddress(config.host(), config.port()), 128);
        } catch (IOException | RuntimeException e) {
            slots.close();
            pool.close();
            throw e;
        }
        this.executor = Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("panamax-http-", 0).factory());
        http.setExecutor(executor);
        http.createContext("/", this::handle);
    }

    /** Opens the slots (one KV cache each) and starts listening. */
    public static ApiServer start(Model model, ServerConfig config, PrintWriter log) throws IOException {
        ApiServer s = new ApiServer(model, config, log);
        s.http.start();
        return s;
    }

    /** Compiles the kernels the slots run, so that the first request is not the one that waits for the JIT. */
    public void warmUp() {
        slots.warmUp();
    }

    public InetSocketAddress address() {
        return http.getAddress();
    }

    public int port() {
        return http.getAddress().getPort();
    }

    /** The base URL clients use, e.g. {@code http://127.0.0.1:8080/v1}. */
    public URI baseUri() {
        String host = http.getAddress().getAddress().getHostAddress();
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return URI.create("http://" + host + ":" + port() + "/v1");
    }

    public long kvCacheBytesPerSlot() {
        return slots.cacheBytesPerSlot();
    }

    public Stats stats() {
        return new Stats(slots.busy(), slots.waiting(), open.get(), requests.get(), cancelled.get(), slots.generatedTokens());
    }

    /**
     * Graceful stop: new requests get 503 and waiting ones are failed at once; running ones get
     * {@value #GRACE_MS} ms to finish, then are cancelled; then the slots and threads are freed.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) {
            try {
                closed.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return;
        }
        boolean interrupted = false;
        slots.stopAdmitting();
        Thread stopper = Thread.ofVirtual().start(() -> http.stop((int) (GRACE_MS / 1000) + 2));
        try {
            if (!slots.awaitIdle(GRACE_MS)) {
                say("cancelling the requests still running");
            }
        } catch (InterruptedException e) {
            interrupted = true;
        }
        try {
            slots.close(); // cancels what still runs; joins the slot threads before their sessions go
            stopper.join();
            executor.shutdownNow();
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            interrupted = true;
        } finally {
            pool.close();
            closed.countDown();
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /** Blocks until {@link #close} has finished. */
    public void awaitClosed() throws InterruptedException {
        closed.await();
    }

    private void say(String line) {
        synchronized (log) {
            log.println("panamax serve: " + line);
            log.flush();
        }
    }

    // ---- requests

    private void handle(HttpExchange ex) {
        long t0 = System.nanoTime();
        open.incrementAndGet();
        requests.incrementAndGet();
        Outcome out = new Outcome();
        try {
            route(ex, out);
        } catch (ApiException e) {
            fail(ex, out, e);
        } catch (IOException | UncheckedIOException e) {
            // the client went away; nothing to answer
            if (out.status == 0) {
                out.status = 499;
            }
        } catch (RuntimeException e) {
            fail(ex, out, new ApiException(500, "server_error", null, null, "internal error: " + e));
            say("internal error on " + ex.getRequestMethod() + " " + ex.getRequestURI().getRawPath() + ": " + e);
        } finally {
            ex.close();
            open.decrementAndGet();
            logRequest(ex, out, System.nanoTime() - t0);
        }
    }

    private void route(HttpExchange ex, Outcome out) throws IOException {
        String path = ex.getRequestURI().getPath();
        String method = ex.getRequestMethod();
        if (path.startsWith("/v1/")) {
            path = path.substring(3);
        }
        Endpoint endpoint = switch (path) {
            case "/chat/completions" -> Endpoint.CHAT;
            case "/completions" -> Endpoint.COMPLETIONS;
            case "/models" -> Endpoint.MODELS;
            case "/health" -> Endpoint.HEALTH;
            default -> path.startsWith("/models/") ? Endpoint.MODEL : null;
        };
        if (endpoint == null) {
            throw new ApiException(404, "not_found_error", null, null, "no such endpoint: " + method + " "
                    + ex.getRequestURI().getRawPath() + " (the API is at /v1: chat/completions, completions, models; and /health)");
        }
        if (endpoint.needsKey && !authorized(ex)) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Bearer");
            throw new ApiException(401, "authentication_error", null, "invalid_api_key",
                    "missing or wrong API key: send it as 'Authorization: Bearer KEY'");
        }
        if (!method.equals(endpoint.method)) {
            ex.getResponseHeaders().set("Allow", endpoint.method);
            throw new ApiException(405, "invalid_request_error", null, "method_not_allowed",
                    method + " is not allowed on " + ex.getRequestURI().getRawPath() + "; use " + endpoint.method);
        }
        switch (endpoint) {
            case HEALTH -> health(ex, out);
            case MODELS -> send(ex, out, 200, Map.of("object", "list", "data", List.of(modelObject())));
            case MODEL -> {
                String id = path.substring("/models/".length());
                if (!id.equals(config.modelId())) {
                    throw new ApiException(404, "invalid_request_error", "model", "model_not_found",
                            "the model '" + id + "' does not exist (this server has '" + config.modelId() + "')");
                }
                send(ex, out, 200, modelObject());
            }
            case CHAT, COMPLETIONS -> generate(ex, out, endpoint == Endpoint.CHAT);
        }
    }

    private boolean authorized(HttpExchange ex) {
        if (expectedAuth == null) {
            return true;
        }
        String h = ex.getRequestHeaders().getFirst("Authorization");
        return h != null && MessageDigest.isEqual(expectedAuth, h.strip().getBytes(StandardCharsets.UTF_8));
    }

    private void health(HttpExchange ex, Outcome out) throws IOException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("status", closing.get() ? "shutting down" : "ok");
        int busy = slots.busy();
        body.put("slots_idle", slots.parallel() - busy);
        body.put("slots_processing", busy);
        body.put("requests_waiting", slots.waiting());
        send(ex, out, closing.get() ? 503 : 200, body);
    }

    private Map<String, Object> modelObject() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", config.modelId());
        m.put("object", "model");
        m.put("created", startedSeconds);
        m.put("owned_by", "panamax");
        return m;
    }

    private void generate(HttpExchange ex, Outcome out, boolean chat) throws IOException {
        if (closing.get()) {
            throw unavailable();
        }
        Map<String, Object> body = readJson(ex);
        Requests.Generation g = chat ? Requests.chat(body, config, tokenizer) : Requests.completion(body, config, tokenizer);
        out.promptTokens = g.prompt().length;
        Job job = new Job(g.prompt(), g.settings());
        try {
            if (!slots.submit(job)) {
                ex.getResponseHeaders().set("Retry-After", "1");
                throw new ApiException(429, "rate_limit_error", null, "server_busy", "the server is busy: "
                        + slots.parallel() + " requests are running and " + slots.queueCapacity()
                        + " are waiting (--parallel, --queue); retry later");
            }
        } catch (Slots.ClosedException e) {
            throw unavailable();
        }
        Replies replies = new Replies(chat, config.modelId(), g.includeUsage(), g.startsInThink());
        try {
            if (g.stream()) {
                stream(ex, out, job, replies);
            } else {
                respond(ex, out, job, replies);
            }
        } catch (IOException | UncheckedIOException e) {
            clientGone(job, out);
            throw e;
        } finally {
            slots.cancel(job); // a no-op unless the job is still queued or running
        }
    }

    private static ApiException unavailable() {
        return new ApiException(503, "unavailable_error", null, "shutting_down", "the server is shutting down");
    }

    /** The client went away: cancel its generation, and wait (bounded) to log how far it got. */
    private void clientGone(Job job, Outcome out) {
        cancelled.incrementAndGet();
        out.finish = "cancelled";
        if (slots.cancel(job)) {
            return; // it was still waiting for a slot
        }
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CANCEL_WAIT_MS);
        try {
            while (System.nanoTime() < deadline) {
                Job.Event e = job.poll(HEARTBEAT_MS);
                if (e instanceof Job.Done d) {
                    record(out, d);
                    out.finish = "cancelled";
                    return;
                }
                if (e instanceof Job.Failed) {
                    return;
                }
            }
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
    }

    private void stream(HttpExchange ex, Outcome out, Job job, Replies replies) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.getResponseHeaders().set("X-Accel-Buffering", "no");
        ex.sendResponseHeaders(200, 0);
        out.status = 200;
        out.committed = true;
        OutputStream os = ex.getResponseBody();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        for (Map<String, Object> c : replies.start()) {
            sse(buf, c);
        }
        flush(os, buf);
        while (true) {
            Job.Event e = await(job);
            if (e == null) {
                os.write(SSE_HEARTBEAT);
                os.flush();
                continue;
            }
            boolean done = false;
            // everything already generated goes out in one write
            for (; e != null && !done; e = done ? null : job.poll()) {
                switch (e) {
                    case Job.Text t -> {
                        for (Map<String, Object> c : replies.text(t.text())) {
                            sse(buf, c);
                        }
                    }
                    case Job.Done d -> {
                        record(out, d);
                        if (d.result().reason() == StopReason.CANCELLED) {
                            sse(buf, unavailable().body()); // only the server cancels while the client listens
                        } else {
                            for (Map<String, Object> c : replies.finish(d.result())) {
                                sse(buf, c);
                            }
                        }
                        buf.write(SSE_DONE);
                        done = true;
                    }
                    case Job.Failed f -> {
                        ApiException err = failure(f.error());
                        out.finish = "error";
                        out.status = err.status;
                        sse(buf, err.body());
                        done = true;
                    }
                }
            }
            flush(os, buf);
            if (done) {
                return;
            }
        }
    }

    private void respond(HttpExchange ex, Outcome out, Job job, Replies replies) throws IOException {
        long commitAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(COMMIT_AFTER_MS);
        OutputStream os = null;
        while (true) {
            Job.Event e = await(job);
            if (e == null || e instanceof Job.Text) {
                if (System.nanoTime() - commitAt >= 0) {
                    if (os == null) {
                        ex.getResponseHeaders().set("Content-Type", "application/json");
                        ex.sendResponseHeaders(200, 0);
                        out.status = 200;
                        out.committed = true;
                        os = ex.getResponseBody();
                        commitAt = System.nanoTime();
                    }
                    if (System.nanoTime() - commitAt >= 0) {
                        os.write(' ');
                        os.flush();
                        commitAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(HEARTBEAT_MS);
                    }
                }
                continue;
            }
            if (e instanceof Job.Done d) {
                record(out, d);
                if (d.result().reason() == StopReason.CANCELLED) {
                    throw unavailable();
                }
                send(ex, out, 200, replies.complete(d.result()));
                return;
            }
            Job.Failed f = (Job.Failed) e;
            out.finish = "error";
            throw failure(f.error());
        }
    }

    /** The next event, or null after a heartbeat interval. */
    private static Job.Event await(Job job) throws IOException {
        try {
            return job.poll(HEARTBEAT_MS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        }
    }

    private ApiException failure(Throwable t) {
        if (t instanceof Slots.ClosedException) {
            return unavailable();
        }
        say("generation failed: " + t);
        return new ApiException(500, "server_error", null, null, "generation failed: " + t.getMessage());
    }

    private static void record(Outcome out, Job.Done d) {
        Generator.Result r = d.result();
        out.slot = d.slot();
        out.cachedTokens = r.reusedTokens();
        out.completionTokens = r.tokens().length;
        out.finish = r.reason().name().toLowerCase(Locale.ROOT);
    }

    // ---- bodies

    private Map<String, Object> readJson(HttpExchange ex) throws IOException {
        long limit = config.maxBodyBytes();
        String length = ex.getRequestHeaders().getFirst("Content-Length");
        if (length != null) {
            long n;
            try {
                n = Long.parseLong(length.strip());
            } catch (NumberFormatException e) {
                throw ApiException.invalid(null, "bad Content-Length: " + length);
            }
            if (n > limit) {
                throw tooLarge(limit);
            }
        }
        byte[] bytes;
        try (InputStream in = ex.getRequestBody()) {
            bytes = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
        }
        if (bytes.length > limit) {
            throw tooLarge(limit);
        }
        Object parsed;
        try {
            parsed = JSON.std.anyFrom(bytes);
        } catch (IOException | RuntimeException e) {
            throw ApiException.invalid(null, "the body is not valid JSON: " + firstLine(e.getMessage()));
        }
        if (!(parsed instanceof Map<?, ?> map)) {
            throw ApiException.invalid(null, "the body must be a JSON object");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> m = (Map<String, Object>) map;
        return m;
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    private static ApiException tooLarge(long limit) {
        return new ApiException(413, "invalid_request_error", null, "request_too_large",
                "the request body is larger than " + limit + " bytes (--max-body)");
    }

    private void fail(HttpExchange ex, Outcome out, ApiException e) {
        if (out.committed) {
            // headers are gone: a non-streamed answer ends with the error as its JSON body
            out.status = e.status;
            try {
                OutputStream os = ex.getResponseBody();
                os.write(JSON_OUT.asBytes(e.body()));
                os.flush();
            } catch (IOException ignored) {
                // the client is gone too
            }
            return;
        }
        try {
            send(ex, out, e.status, e.body());
        } catch (IOException ignored) {
            out.status = e.status;
        }
    }

    /** A JSON response: fixed length when nothing was sent yet, else the rest of the chunked body. */
    private static void send(HttpExchange ex, Outcome out, int status, Object body) throws IOException {
        byte[] bytes = JSON_OUT.asBytes(body);
        if (!out.committed) {
            out.status = status;
            ex.getResponseHeaders().set("Content-Type", "application/json");
            ex.sendResponseHeaders(status, bytes.length);
            out.committed = true;
        }
        OutputStream os = ex.getResponseBody();
        os.write(bytes);
        os.flush();
    }

    private static void sse(ByteArrayOutputStream buf, Object chunk) throws IOException {
        buf.write("data: ".getBytes(StandardCharsets.US_ASCII));
        buf.write(JSON_OUT.asBytes(chunk));
        buf.write("\n\n".getBytes(StandardCharsets.US_ASCII));
    }

    private static void flush(OutputStream os, ByteArrayOutputStream buf) throws IOException {
        buf.writeTo(os);
        os.flush();
        buf.reset();
    }

    private void logRequest(HttpExchange ex, Outcome out, long nanos) {
        StringBuilder sb = new StringBuilder();
        sb.append(Instant.now().truncatedTo(ChronoUnit.MILLIS)).append(' ')
                .append(ex.getRemoteAddress().getAddress().getHostAddress()).append(' ')
                .append(ex.getRequestMethod()).append(' ').append(ex.getRequestURI().getRawPath()).append(' ')
                .append(out.status).append(' ')
                .append(String.format(Locale.ROOT, "%.3fs", nanos / 1e9));
        if (out.promptTokens >= 0) {
            sb.append(" prompt=").append(out.promptTokens).append(" cached=").append(out.cachedTokens)
                    .append(" completion=").append(out.completionTokens);
        }
        if (out.finish != null) {
            sb.append(" finish=").append(out.finish);
        }
        if (out.slot >= 0) {
            sb.append(" slot=").append(out.slot);
        }
        synchronized (log) {
            log.println(sb);
            log.flush();
        }
    }
}
