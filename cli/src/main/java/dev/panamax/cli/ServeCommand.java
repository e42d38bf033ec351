package dev.panamax.cli;

import dev.panamax.cli.serve.ApiServer;
import dev.panamax.cli.serve.ServerConfig;
import dev.panamax.engine.Model;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.chat.ChatTemplate;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code panamax serve}: an OpenAI-compatible HTTP server (chat completions, completions, models, health). */
@Command(name = "serve", description = {
    "Serve the model over an OpenAI-compatible HTTP API: POST /v1/chat/completions, POST /v1/completions, "
            + "GET /v1/models, GET /health. Ctrl-C or SIGTERM stops it gracefully.",
    "Each of the --parallel slots has its own KV cache of -c tokens; requests beyond the slots wait in a queue "
            + "of --queue, and beyond that get 429."})
final class ServeCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    SamplingOptions sampling;

    @Mixin
    DraftOptions draftOptions;

    /** The draft model when speculative decoding is on (one model, a draft session per slot). */
    private Model draftHolder;

    @Option(names = "--host", paramLabel = "ADDRESS", defaultValue = "127.0.0.1",
            description = "Address to listen on; 0.0.0.0 for every interface (default: ${DEFAULT-VALUE}).")
    String host;

    @Option(names = "--port", paramLabel = "N", defaultValue = "8080",
            description = "Port to listen on; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = {"-np", "--parallel"}, paramLabel = "N", defaultValue = "1",
            description = "Requests generated at once, each with its own KV cache of -c tokens (default: ${DEFAULT-VALUE}).")
    int parallel;

    @Option(names = "--queue", paramLabel = "N", defaultValue = "32",
            description = "Requests that may wait for a free slot; more get 429 (default: ${DEFAULT-VALUE}).")
    int queue;

    @Option(names = "--api-key", paramLabel = "KEY", defaultValue = "${env:PANAMAX_API_KEY}",
            description = "Require 'Authorization: Bearer KEY' on every request but /health (default: env PANAMAX_API_KEY).")
    String apiKey;

    @Option(names = "--max-body", paramLabel = "SIZE", defaultValue = "8m",
            description = "Largest request body, in bytes or with k/m suffix; larger ones get 413 (default: ${DEFAULT-VALUE}).")
    String maxBody;

    @Option(names = {"-a", "--alias"}, paramLabel = "NAME",
            description = "Model id in /v1/models and responses (default: the file name without .gguf).")
    String alias;

    @Option(names = {"-n", "--n-predict"}, paramLabel = "N", defaultValue = "-1",
            description = "Default max_tokens of a request; -1 = until the model stops or the context is full (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--loop-guard", paramLabel = "N", defaultValue = "96",
            description = "Stop when the output repeats a block covering N tokens (3+ copies); 0 = off (default: ${DEFAULT-VALUE}).")
    int loopGuard;

    @Option(names = "--think", paramLabel = "on|off", defaultValue = "on",
            description = "Reasoning of R1-style models, unless a request sets chat_template_kwargs.enable_thinking; "
                    + "'off' bypasses it (default: ${DEFAULT-VALUE}).")
    String think;

    @Option(names = "--chat-template", paramLabel = "NAME",
            description = "deepseek-r1, chatml or llama3 (default: from the model, else chatml).")
    String chatTemplate;

    @Spec
    CommandSpec spec;

    /** A started server and the model it serves; closing stops the server, then frees the model. */
    record Running(ApiServer server, Model model, Model draft) implements AutoCloseable {
        @Override
        public void close() {
            try {
                server.close();
            } finally {
                model.close();
                if (draft != null) {
                    draft.close();
                }
            }
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter err = spec.commandLine().getErr();
        Running running = start(err);
        Thread hook = new Thread(() -> {
            synchronized (err) {
                err.println("panamax serve: shutting down");
                err.flush();
            }
            running.close();
            synchronized (err) {
                err.println("panamax serve: stopped");
                err.flush();
            }
        }, "panamax-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            running.server().warmUp();
        } catch (IllegalStateException e) {
            // stopped while warming up (its pool closed): the hook reports the shutdown
        }
        running.server().awaitClosed();
        return 0;
    }

    /** Checks the options, opens the model and starts serving; messages go to {@code log}. */
    Running start(PrintWriter log) throws IOException {
        ServerConfig config;
        Model model = modelOptions.open();
        try {
            config = config(model, log);
        } catch (RuntimeException e) {
            model.close();
            if (draftHolder != null) {
                draftHolder.close();
            }
            throw e;
        }
        ApiServer server;
        try {
            server = ApiServer.start(model, config, log);
        } catch (IOException | RuntimeException e) {
            model.close();
            if (draftHolder != null) {
                draftHolder.close();
            }
            if (e instanceof java.net.BindException) {
                throw new PanamaxException("cannot listen on " + host + ":" + port + ": " + e.getMessage());
            }
            throw e;
        }
        long kv = server.kvCacheBytesPerSlot();
        SessionOptions s = config.session();
        synchronized (log) {
            log.println("panamax serve: " + model.displayName() + " as '" + config.modelId() + "' (" + config.template().id()
                    + " template" + (config.think() ? "" : ", thinking off") + "), " + config.threads()
                    + (config.threads() == 1 ? " thread" : " threads"));
            log.println("panamax serve: " + parallel + (parallel == 1 ? " slot" : " slots") + " of " + s.context()
                    + " tokens, KV cache " + Format.bytes(kv) + " per slot (" + Format.bytes(kv * parallel) + " in all, "
                    + s.keyType() + "/" + s.valueType() + "), queue " + queue);
            log.println("panamax serve: listening on " + server.baseUri() + (apiKey == null ? "" : " (API key required)"));
            log.flush();
        }
        return new Running(server, model, draftHolder);
    }

    private ServerConfig config(Model model, PrintWriter log) {
        if (port < 0 || port > 65535) {
            throw new PanamaxException("--port must be in 0..65535, got " + port);
        }
        if (parallel < 1) {
            throw new PanamaxException("--parallel must be at least 1, got " + parallel);
        }
        if (queue < 0) {
            throw new PanamaxException("--queue must be 0 or more, got " + queue);
        }
        if (loopGuard < 0) {
            throw new PanamaxException("--loop-guard must be 0 (off) or a token count, got " + loopGuard);
        }
        if (maxTokens == 0 || maxTokens < -1) {
            throw new PanamaxException("-n/--n-predict must be a token count or -1, got " + maxTokens);
        }
        if (apiKey != null && apiKey.isBlank()) {
            apiKey = null;
        }
        boolean thinking = GenerationOptions.onOff("--think", think);
        long bodyLimit = parseSize("--max-body", maxBody);
        sampling.config(); // validates the defaults once, at start
        ChatTemplate template;
        if (chatTemplate != null) {
            template = ChatTemplate.byName(chatTemplate);
        } else {
            template = ChatTemplate.detect(model.tokenizer().chatTemplate().orElse(null)).orElse(null);
            if (template == null) {
                template = ChatTemplate.CHATML;
                log.println("panamax serve: warning: the model has no chat template Panamax recognises; chat requests use "
                        + "chatml (pick one with --chat-template)");
            }
        }
        if (!isLoopback(host) && apiKey == null) {
            log.println("panamax serve: warning: listening on " + host + " without --api-key: anyone who can reach it may use it");
        }
        String id = alias != null ? alias : modelOptions.modelPath().getFileName().toString().replaceFirst("(?i)\\.gguf$", "");
        ServerConfig.DraftFactory drafts = null;
        if (draftOptions.enabled()) {
            Model draftModel = draftOptions.openModel();
            draftHolder = draftModel;
            SessionOptions draftSession = draftOptions.sessionOptions(modelOptions.sessionOptions());
            drafts = pool -> draftOptions.drafter(model, draftModel, draftModel.newSession(draftSession, pool)).owningSession();
            log.println("panamax serve: speculative decoding with " + draftModel.displayName() + ", N=" + draftOptions.draftMax);
        }
        return new ServerConfig(host, port, apiKey, bodyLimit, parallel, queue, id, template, thinking, maxTokens, loopGuard,
                sampling::config, modelOptions.sessionOptions(), modelOptions.threads(), drafts);
    }

    private static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    /** "8m", "512k", "1048576" -> bytes. */
    static long parseSize(String option, String value) {
        String v = value.strip().toLowerCase(Locale.ROOT);
        long unit = 1;
        if (v.endsWith("k") || v.endsWith("m")) {
            unit = v.endsWith("k") ? 1024 : 1024 * 1024;
            v = v.substring(0, v.length() - 1);
        }
        try {
            long n = Long.parseLong(v) * unit;
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // below
        }
        throw new PanamaxException(option + " must be a size in bytes, e.g. 8m or 65536, got '" + value + "'");
    }
}
