package dev.panamax.engine.chat;

import dev.panamax.gguf.PanamaxException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Built-in chat templates (no Jinja engine): DeepSeek-R1 distill, Qwen ChatML and Llama 3,
 * recognised from the GGUF's tokenizer.chat_template or chosen by name. Rendered text contains the
 * special tokens literally; encode it with special-token parsing on and no extra BOS.
 */
public enum ChatTemplate {
    /** {@code <｜begin▁of▁sentence｜>{system}<｜User｜>{u}<｜Assistant｜>{a}<｜end▁of▁sentence｜>...<｜Assistant｜><think>\n}. */
    DEEPSEEK_R1("deepseek-r1", "<\uff5cAssistant\uff5c>"),
    /** Qwen's ChatML: {@code <|im_start|>role\n...<|im_end|>\n}. */
    CHATML("chatml", "<|im_start|>"),
    /** Llama 3: {@code <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|>}. */
    LLAMA3("llama3", "<|start_header_id|>");

    public static final String BOS_DEEPSEEK = "<\uff5cbegin\u2581of\u2581sentence\uff5c>";
    public static final String EOS_DEEPSEEK = "<\uff5cend\u2581of\u2581sentence\uff5c>";
    /** What --think off injects at the start of the assistant turn. */
    public static final String EMPTY_THINK = "<think>\n\n</think>\n\n";

    private final String id;
    private final String marker;

    ChatTemplate(String id, String marker) {
        this.id = id;
        this.marker = marker;
    }

    public String id() {
        return id;
    }

    /** Whether generated text starts inside a reasoning block that ends with {@code </think>}. */
    public boolean startsInThink(boolean thinkEnabled) {
        return this == DEEPSEEK_R1 && thinkEnabled;
    }

    /** The template named by --chat-template. */
    public static ChatTemplate byName(String name) {
        String n = name.strip().toLowerCase(Locale.ROOT);
        for (ChatTemplate t : values()) {
            if (t.id.equals(n) || t.name().equalsIgnoreCase(n)) {
                return t;
            }
        }
        if (n.equals("qwen") || n.equals("qwen2") || n.equals("qwen3")) {
            return CHATML;
        }
        if (n.equals("deepseek") || n.equals("deepseek-r1-qwen")) {
            return DEEPSEEK_R1;
        }
        throw new PanamaxException("unknown chat template '" + name + "' (known: "
                + Arrays.stream(values()).map(ChatTemplate::id).toList() + ")");
    }

    /** Recognises a GGUF's Jinja chat template by its special tokens. */
    public static Optional<ChatTemplate> detect(String jinja) {
        if (jinja == null) {
            return Optional.empty();
        }
        for (ChatTemplate t : values()) {
            if (jinja.contains(t.marker)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /**
     * Renders a conversation, ending with the assistant's generation prompt when
     * {@code generationPrompt} is set. With {@code think} false, the reasoning block is bypassed by
     * starting the assistant turn with an empty {@code <think>} block.
     */
    public String render(List<Message> messages, boolean generationPrompt, boolean think) {
        StringBuilder sb = new StringBuilder();
        switch (this) {
            case DEEPSEEK_R1 -> {
                sb.append(BOS_DEEPSEEK);
                messages.stream().filter(m -> m.role().equals("system")).forEach(m -> sb.append(m.content()));
                for (Message m : messages) {
                    switch (m.role()) {
                        case "user" -> sb.append("<\uff5cUser\uff5c>").append(m.content());
                        case "assistant" -> sb.append("<\uff5cAssistant\uff5c>").append(stripThink(m.content()))
                                .append(EOS_DEEPSEEK);
                        default -> { }
                    }
                }
                if (generationPrompt) {
                    sb.append("<\uff5cAssistant\uff5c>").append(think ? "<think>\n" : EMPTY_THINK);
                }
            }
            case CHATML -> {
                for (Message m : messages) {
                    String content = m.role().equals("assistant") ? stripThink(m.content()) : m.content();
                    sb.append("<|im_start|>").append(m.role()).append('\n').append(content).append("<|im_end|>\n");
                }
                if (generationPrompt) {
                    sb.append("<|im_start|>assistant\n");
                    if (!think) {
                        sb.append(EMPTY_THINK);
                    }
                }
            }
            case LLAMA3 -> {
                sb.append("<|begin_of_text|>");
                for (Message m : messages) {
                    sb.append("<|start_header_id|>").append(m.role()).append("<|end_header_id|>\n\n")
                            .append(m.content().strip()).append("<|eot_id|>");
                }
                if (generationPrompt) {
                    sb.append("<|start_header_id|>assistant<|end_header_id|>\n\n");
                }
            }
        }
        return sb.toString();
    }

    /** An assistant message without its reasoning block: reasoning is never fed back. */
    public static String stripThink(String content) {
        int end = content.lastIndexOf("</think>");
        return end < 0 ? content : content.substring(end + "</think>".length()).stripLeading();
    }
}
