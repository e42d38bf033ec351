package dev.panamax.cli.serve;

import dev.panamax.engine.chat.ChatTemplate;
import dev.panamax.engine.chat.Message;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.generate.SamplerConfig;
import dev.panamax.engine.tokenizer.Tokenizer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Reads OpenAI request bodies into generation requests, checking each field's type and range
 * (400 with the field's name otherwise). Fields Panamax does not know are ignored, as OpenAI-style
 * servers do; a few it knows but cannot honour are refused rather than silently dropped.
 */
final class Requests {
    private Requests() {}

    /** What to generate and how to answer. */
    record Generation(int[] prompt, Generator.Settings settings, boolean stream, boolean includeUsage,
            boolean startsInThink) {}

    static Generation chat(Map<String, Object> body, ServerConfig config, Tokenizer tok) {
        Fields f = new Fields(body);
        List<Message> messages = messages(f.required("messages"));
        boolean think = thinking(f, config.think());
        ChatTemplate template = config.template();
        String text = template.render(messages, true, think);
        int[] prompt = tok.encode(text, false, true);
        return generation(f, config, prompt, "messages", template.startsInThink(think));
    }

    static Generation completion(Map<String, Object> body, ServerConfig config, Tokenizer tok) {
        Fields f = new Fields(body);
        Object p = f.required("prompt");
        if (p instanceof List<?> list && list.size() == 1 && !(list.getFirst() instanceof Number)) {
            p = list.getFirst(); // a batch of one
        }
        int[] prompt;
        if (p instanceof String s) {
            prompt = tok.encode(s, tok.addBos(), true);
        } else if (p instanceof List<?> list && !list.isEmpty() && list.stream().allMatch(o -> o instanceof Number)) {
            prompt = new int[list.size()];
            for (int i = 0; i < prompt.length; i++) {
                long id = ((Number) list.get(i)).longValue();
                if (id < 0 || id >= tok.vocabSize()) {
                    throw ApiException.invalid("prompt", "token id " + id + " is outside the vocabulary of "
                            + tok.vocabSize());
                }
                prompt[i] = (int) id;
            }
        } else if (p instanceof List<?> list && list.size() > 1) {
            throw ApiException.invalid("prompt", "batched prompts are not supported: send one prompt per request");
        } else {
            throw ApiException.invalid("prompt", "prompt must be a string or an array of token ids");
        }
        return generation(f, config, prompt, "prompt", false);
    }

    private static Generation generation(Fields f, ServerConfig config, int[] prompt, String promptField,
            boolean startsInThink) {
        Integer n = f.integer("n", 1, Integer.MAX_VALUE);
        if (n != null && n != 1) {
            throw ApiException.invalid("n", "only n=1 is supported");
        }
        if (f.get("response_format") instanceof Map<?, ?> rf && rf.get("type") != null && !"text".equals(rf.get("type"))) {
            throw ApiException.invalid("response_format", "response_format '" + rf.get("type") + "' is not supported");
        }
        int context = config.session().context();
        if (prompt.length == 0) {
            throw ApiException.invalid(promptField, "the prompt is empty");
        }
        if (prompt.length >= context) {
            throw new ApiException(400, "invalid_request_error", promptField, "context_length_exceeded",
                    "the prompt is " + prompt.length + " tokens, but the context is " + context
                            + " tokens and must leave room to answer: shorten the prompt or start the server with a larger -c");
        }
        Integer maxTokens = f.integer("max_completion_tokens", -1, Integer.MAX_VALUE);
        String maxName = "max_completion_tokens";
        if (maxTokens == null) {
            maxTokens = f.integer("max_tokens", -1, Integer.MAX_VALUE);
            maxName = "max_tokens";
        }
        if (maxTokens == null) {
            maxTokens = f.integer("n_predict", -1, Integer.MAX_VALUE);
            maxName = "n_predict";
        }
        if (maxTokens != null && maxTokens == 0) {
            throw ApiException.invalid(maxName, maxName + " must be at least 1 (or -1: until the context is full)");
        }
        SamplerConfig d = config.sampling().get();
        Long seed = f.integer64("seed");
        SamplerConfig sampling = new SamplerConfig(
                f.number("temperature", 0, false, Double.MAX_VALUE, d.temperature()),
                orElse(f.integer("top_k", 0, Integer.MAX_VALUE), d.topK()),
                f.number("top_p", 0, true, 1, d.topP()),
                f.number("min_p", 0, false, 1, d.minP()),
                f.number("repeat_penalty", 0, true, Double.MAX_VALUE, d.repeatPenalty()),
                orElse(f.integer("repeat_last_n", -1, Integer.MAX_VALUE), d.repeatLastN()),
                f.number("frequency_penalty", -2, false, 2, d.frequencyPenalty()),
                f.number("presence_penalty", -2, false, 2, d.presencePenalty()),
                seed == null || seed == -1 ? d.seed() : seed);
        Generator.Settings settings = new Generator.Settings(maxTokens == null ? config.maxTokens() : maxTokens,
                f.stops(), config.loopGuard(), sampling);
        boolean stream = orElse(f.bool("stream"), false);
        boolean usage = false;
        if (f.get("stream_options") instanceof Map<?, ?> so) {
            usage = Boolean.TRUE.equals(so.get("include_usage"));
        }
        return new Generation(prompt, settings, stream, usage, startsInThink);
    }

    /** Thinking: chat_template_kwargs.enable_thinking (vLLM, llama-server), think (ollama), reasoning_effort "none". */
    private static boolean thinking(Fields f, boolean serverDefault) {
        if (f.get("chat_template_kwargs") instanceof Map<?, ?> kw && kw.get("enable_thinking") != null) {
            if (!(kw.get("enable_thinking") instanceof Boolean b)) {
                throw ApiException.invalid("chat_template_kwargs.enable_thinking", "enable_thinking must be true or false");
            }
            return b;
        }
        Boolean think = f.bool("think");
        if (think != null) {
            return think;
        }
        if (f.get("reasoning_effort") instanceof String effort && effort.equals("none")) {
            return false;
        }
        return serverDefault;
    }

    private static List<Message> messages(Object value) {
        if (!(value instanceof List<?> list) || list.isEmpty()) {
            throw ApiException.invalid("messages", "messages must be a non-empty array");
        }
        List<Message> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            String where = "messages[" + i + "]";
            if (!(list.get(i) instanceof Map<?, ?> m)) {
                throw ApiException.invalid(where, where + " must be an object");
            }
            if (!(m.get("role") instanceof String role)) {
                throw ApiException.invalid(where + ".role", where + ".role must be a string");
            }
            role = switch (role) {
                case "system", "developer" -> "system";
                case "user", "assistant", "tool" -> role;
                default -> throw ApiException.invalid(where + ".role", "unknown role '" + role
                        + "' (system, developer, user, assistant, tool)");
            };
            out.add(new Message(role, content(m.get("content"), role, where + ".content")));
        }
        return out;
    }

    /** A string, or an array of text parts (joined); null only for an assistant turn (tool calls). */
    private static String content(Object c, String role, String where) {
        if (c instanceof String s) {
            return s;
        }
        if (c == null && role.equals("assistant")) {
            return "";
        }
        if (c instanceof List<?> parts) {
            StringBuilder sb = new StringBuilder();
            for (Object p : parts) {
                if (!(p instanceof Map<?, ?> part) || !"text".equals(part.get("type")) || !(part.get("text") instanceof String t)) {
                    throw ApiException.invalid(where, where + ": only text parts ({\"type\": \"text\", \"text\": ...}) are supported");
                }
                if (!sb.isEmpty()) {
                    sb.append('\n');
                }
                sb.append(t);
            }
            return sb.toString();
        }
        throw ApiException.invalid(where, where + " must be a string or an array of text parts");
    }

    private static <T> T orElse(T v, T d) {
        return v != null ? v : d;
    }

    /** Typed access to a JSON object's fields; null or absent fields read as null. */
    private record Fields(Map<String, Object> m) {
        Object get(String name) {
            return m.get(name);
        }

        Object required(String name) {
            Object v = m.get(name);
            if (v == null) {
                throw ApiException.invalid(name, "'" + name + "' is required");
            }
            return v;
        }

        float number(String name, double min, boolean minExclusive, double max, float fallback) {
            Object v = m.get(name);
            if (v == null) {
                return fallback;
            }
            if (!(v instanceof Number n) || !(minExclusive ? n.doubleValue() > min : n.doubleValue() >= min)
                    || !(n.doubleValue() <= max)) {
                String range = max >= Integer.MAX_VALUE ? (minExclusive ? " > " : " >= ") + format(min)
                        : " in " + (minExclusive ? "(" : "[") + format(min) + ", " + format(max) + "]";
                throw ApiException.invalid(name, name + " must be a number" + range + ", got " + v);
            }
            return n.floatValue();
        }

        Integer integer(String name, long min, long max) {
            Long v = integer64(name);
            if (v == null) {
                return null;
            }
            if (v < min || v > max) {
                throw ApiException.invalid(name, name + " must be an integer" + range(min, max) + ", got " + v);
            }
            return v.intValue();
        }

        Long integer64(String name) {
            Object v = m.get(name);
            if (v == null) {
                return null;
            }
            if (v instanceof Number n && n.doubleValue() == Math.rint(n.doubleValue())
                    && Math.abs(n.doubleValue()) < 0x1p63) {
                return n.longValue();
            }
            throw ApiException.invalid(name, name + " must be an integer, got " + v);
        }

        Boolean bool(String name) {
            Object v = m.get(name);
            if (v == null || v instanceof Boolean) {
                return (Boolean) v;
            }
            throw ApiException.invalid(name, name + " must be true or false, got " + v);
        }

        /** stop: a string or an array of strings. */
        List<String> stops() {
            Object v = m.get("stop");
            if (v == null) {
                return List.of();
            }
            if (v instanceof String s) {
                return List.of(s);
            }
            if (v instanceof List<?> l && l.stream().allMatch(o -> o instanceof String)) {
                return l.stream().map(String.class::cast).toList();
            }
            throw ApiException.invalid("stop", "stop must be a string or an array of strings");
        }

        private static String range(long min, long max) {
            return max >= Integer.MAX_VALUE ? " >= " + min : " in [" + min + ", " + max + "]";
        }

        private static String format(double v) {
            return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
        }
    }
}
