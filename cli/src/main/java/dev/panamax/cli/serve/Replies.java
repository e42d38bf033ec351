package dev.panamax.cli.serve;

import dev.panamax.engine.chat.ReasoningSplitter;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.generate.StopReason;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The response objects of one request in OpenAI's shapes: {@code chat.completion} and its
 * {@code chat.completion.chunk}s, or {@code text_completion}s. Chat output is split into the
 * answer ({@code content}) and the reasoning block ({@code reasoning_content}, as DeepSeek's API
 * returns it).
 */
final class Replies {
    private static final SecureRandom RANDOM = new SecureRandom();
    private static final String ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    private final boolean chat;
    private final String id;
    private final long created = System.currentTimeMillis() / 1000;
    private final String model;
    private final boolean includeUsage;
    private final ReasoningSplitter splitter;

    Replies(boolean chat, String model, boolean includeUsage, boolean startsInThink) {
        this.chat = chat;
        this.id = (chat ? "chatcmpl-" : "cmpl-") + randomId(24);
        this.model = model;
        this.includeUsage = includeUsage;
        this.splitter = new ReasoningSplitter(startsInThink);
    }

    static String randomId(int n) {
        StringBuilder sb = new StringBuilder(n);
        for (int i = 0; i < n; i++) {
            sb.append(ID_CHARS.charAt(RANDOM.nextInt(ID_CHARS.length())));
        }
        return sb.toString();
    }

    static String finishReason(StopReason r) {
        return switch (r) {
            case LENGTH, CONTEXT -> "length";
            case EOS, STOP_STRING, LOOP, CANCELLED -> "stop";
        };
    }

    /** The first chunk of a chat stream: the assistant's role, no text yet. */
    List<Map<String, Object>> start() {
        if (!chat) {
            return List.of();
        }
        Map<String, Object> delta = new LinkedHashMap<>();
        delta.put("role", "assistant");
        delta.put("content", "");
        return List.of(chunk(delta, null));
    }

    /** Chunks for generated text (reasoning and answer pieces of it). */
    List<Map<String, Object>> text(String text) {
        return pieces(chat ? splitter.feed(text) : List.of(new ReasoningSplitter.Piece(text, false)));
    }

    /** The last chunks: held-back text, the finish reason, then usage when asked for. */
    List<Map<String, Object>> finish(Generator.Result r) {
        List<Map<String, Object>> out = new ArrayList<>(chat ? pieces(splitter.flush()) : List.of());
        Map<String, Object> last = chunk(chat ? Map.of() : null, finishReason(r.reason()));
        last.put("timings", timings(r));
        out.add(last);
        if (includeUsage) {
            Map<String, Object> u = base(chat ? "chat.completion.chunk" : "text_completion");
            u.put("choices", List.of());
            u.put("usage", usage(r));
            out.add(u);
        }
        return out;
    }

    /** The whole (non-streamed) response. */
    Map<String, Object> complete(Generator.Result r) {
        Map<String, Object> body = base(chat ? "chat.completion" : "text_completion");
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (chat) {
            StringBuilder answer = new StringBuilder();
            StringBuilder reasoning = new StringBuilder();
            List<ReasoningSplitter.Piece> pieces = new ArrayList<>(splitter.feed(r.text()));
            pieces.addAll(splitter.flush());
            for (ReasoningSplitter.Piece p : pieces) {
                (p.reasoning() ? reasoning : answer).append(p.text());
            }
            Map<String, Object> message = new LinkedHashMap<>();
            message.put("role", "assistant");
            message.put("content", answer.toString());
            if (!reasoning.isEmpty()) {
                message.put("reasoning_content", reasoning.toString());
            }
            choice.put("message", message);
        } else {
            choice.put("text", r.text());
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", finishReason(r.reason()));
        body.put("choices", List.of(choice));
        body.put("usage", usage(r));
        body.put("timings", timings(r));
        return body;
    }

    private List<Map<String, Object>> pieces(List<ReasoningSplitter.Piece> pieces) {
        List<Map<String, Object>> out = new ArrayList<>();
        StringBuilder run = new StringBuilder();
        Boolean reasoning = null;
        for (ReasoningSplitter.Piece p : pieces) {
            if (reasoning != null && reasoning != p.reasoning()) {
                out.add(textChunk(run.toString(), reasoning));
                run.setLength(0);
            }
            reasoning = p.reasoning();
            run.append(p.text());
        }
        if (reasoning != null) {
            out.add(textChunk(run.toString(), reasoning));
        }
        return out;
    }

    private Map<String, Object> textChunk(String text, boolean reasoning) {
        if (!chat) {
            return chunk(text, null);
        }
        Map<String, Object> delta = new HashMap<>();
        delta.put(reasoning ? "reasoning_content" : "content", text);
        return chunk(delta, null);
    }

    /** A chunk: a chat delta (a map) or completion text (a string). */
    private Map<String, Object> chunk(Object deltaOrText, String finishReason) {
        Map<String, Object> body = base(chat ? "chat.completion.chunk" : "text_completion");
        Map<String, Object> choice = new LinkedHashMap<>();
        choice.put("index", 0);
        if (chat) {
            choice.put("delta", deltaOrText);
        } else {
            choice.put("text", deltaOrText == null ? "" : deltaOrText);
        }
        choice.put("logprobs", null);
        choice.put("finish_reason", finishReason);
        body.put("choices", List.of(choice));
        if (includeUsage) {
            body.put("usage", null);
        }
        return body;
    }

    private Map<String, Object> base(String object) {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("id", id);
        body.put("object", object);
        body.put("created", created);
        body.put("model", model);
        return body;
    }

    static Map<String, Object> usage(Generator.Result r) {
        Map<String, Object> u = new LinkedHashMap<>();
        u.put("prompt_tokens", r.promptTokens());
        u.put("completion_tokens", r.tokens().length);
        u.put("total_tokens", r.promptTokens() + r.tokens().length);
        u.put("prompt_tokens_details", Map.of("cached_tokens", r.reusedTokens()));
        return u;
    }

    /** llama-server's timings object (prompt = tokens evaluated, cache = tokens reused). */
    static Map<String, Object> timings(Generator.Result r) {
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("cache_n", r.reusedTokens());
        t.put("prompt_n", r.promptTokens() - r.reusedTokens());
        t.put("prompt_ms", r.promptNanos() / 1e6);
        t.put("prompt_per_second", r.promptTokensPerSecond());
        t.put("predicted_n", r.tokens().length);
        t.put("predicted_ms", r.generationNanos() / 1e6);
        t.put("predicted_per_second", r.tokensPerSecond());
        return t;
    }
}
