package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.chat.ChatTemplate;
import dev.panamax.gguf.PanamaxException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import picocli.CommandLine.Option;

/** Options of commands that generate text. */
final class GenerationOptions {
    @Option(names = {"-n", "--n-predict"}, paramLabel = "N", defaultValue = "-1",
            description = "Tokens to generate; -1 = until the model stops or the context is full (default: ${DEFAULT-VALUE}).")
    int maxTokens;

    @Option(names = "--stop", paramLabel = "TEXT", description = "Stop when this text appears (repeatable; not printed).")
    List<String> stop = new ArrayList<>();

    @Option(names = "--loop-guard", paramLabel = "N", defaultValue = "96",
            description = "Stop when the output repeats a block covering N tokens (3+ copies); 0 = off (default: ${DEFAULT-VALUE}).")
    int loopGuard;

    @Option(names = "--think", paramLabel = "on|off", defaultValue = "on",
            description = "Reasoning block of R1-style models: 'off' bypasses it (default: ${DEFAULT-VALUE}).")
    String think;

    @Option(names = "--hide-think", description = "Do not print the reasoning block (it is shown dimmed otherwise).")
    boolean hideThink;

    @Option(names = "--chat-template", paramLabel = "NAME", description = "deepseek-r1, chatml or llama3 (default: from the model).")
    String chatTemplate;

    @Option(names = {"-sys", "--system"}, paramLabel = "TEXT", description = "System prompt.")
    String system;

    boolean thinkEnabled() {
        return onOff("--think", think);
    }

    /** An on/off option's value (also true/false, yes/no). */
    static boolean onOff(String option, String value) {
        return switch (value.toLowerCase(Locale.ROOT)) {
            case "on", "true", "yes" -> true;
            case "off", "false", "no" -> false;
            default -> throw new PanamaxException(option + " must be on or off, got '" + value + "'");
        };
    }

    /** The chat template: --chat-template, else recognised from the model's tokenizer.chat_template. */
    Optional<ChatTemplate> template(Model model) {
        if (chatTemplate != null) {
            return Optional.of(ChatTemplate.byName(chatTemplate));
        }
        return ChatTemplate.detect(model.tokenizer().chatTemplate().orElse(null));
    }

    void validate() {
        if (loopGuard < 0) {
            throw new PanamaxException("--loop-guard must be 0 (off) or a token count, got " + loopGuard);
        }
        thinkEnabled();
    }
}
