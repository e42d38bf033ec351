package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.chat.ChatTemplate;
import dev.panamax.engine.chat.Message;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panamax run}: one prompt in, streamed text out. */
@Command(name = "run", description = "Generate a reply to one prompt (-p, -f or standard input) and stream it.")
final class RunCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Mixin
    GpuOptions gpu;

    @Mixin
    SamplingOptions sampling;

    @Mixin
    GenerationOptions generation;

    @Mixin
    DraftOptions draftOptions;

    static final class PromptSource {
        @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", description = "The prompt.")
        String text;

        @Option(names = {"-f", "--file"}, paramLabel = "FILE", description = "Read the prompt from a file.")
        Path file;
    }

    @ArgGroup(exclusive = true)
    PromptSource prompt;

    @Option(names = "--raw", description = "Complete the prompt as plain text (no chat template).")
    boolean raw;

    @Option(names = "--spec-speedup", description = "With -md: run the same generation again without the draft and report the"
            + " speedup (and whether the text is identical).")
    boolean specSpeedup;

    @Option(names = "--json", description = "Print one JSON object with the result instead of streaming text.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        generation.validate();
        String text = promptText();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Model model = modelOptions.open(); Session session = model.newSession(modelOptions.sessionOptions().withBackend(gpu.backendOptions()));
                DraftOptions.Draft draft = draftOptions.enabled() ? draftOptions.open(model, session.options()) : null) {
            GpuOptions.report(session, err);
            session.warmUp();
            Tokenizer tok = model.tokenizer();
            Optional<ChatTemplate> template = raw ? Optional.empty() : generation.template(model);
            boolean think = generation.thinkEnabled();
            int[] tokens;
            if (template.isPresent()) {
                List<Message> messages = new ArrayList<>();
                if (generation.system != null) {
                    messages.add(Message.system(generation.system));
                }
                messages.add(Message.user(text));
                tokens = tok.encode(template.get().render(messages, true, think), false, true);
            } else {
                tokens = tok.encode(text, tok.addBos(), true);
            }
            boolean startsInThink = template.map(t -> t.startsInThink(think)).orElse(false);
            TextPrinter printer = new TextPrinter(out, startsInThink, generation.hideThink, System.console() != null, !json);
            Generator generator = new Generator(session, tok, draft == null ? null : draft.drafter);
            if (draft != null) {
                err.println("speculative decoding: " + draft.model.displayName() + ", N=" + draftOptions.draftMax + ", "
                        + draft.drafter.bridge().describe());
            }
            Generator.Settings settings = new Generator.Settings(generation.maxTokens, generation.stop, generation.loopGuard,
                    sampling.config());
            Generator.Result r = generator.generate(tokens, settings, printer::accept, () -> false);
            printer.finish();
            Generator.Result plain = null;
            if (draft != null && specSpeedup) {
                // the same generation without the draft, from an empty cache, for the speedup
                Generator alone = new Generator(session, tok);
                alone.reset();
                plain = alone.generate(tokens, settings, t -> { }, () -> false);
            }
            if (json) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("model", model.displayName());
                j.put("text", printer.answer());
                j.put("reasoning", printer.reasoning());
                j.put("stop_reason", r.reason().name().toLowerCase(Locale.ROOT));
                j.put("prompt_tokens", r.promptTokens());
                j.put("generated_tokens", r.tokens().length);
                j.put("prompt_tokens_per_second", round(r.promptTokensPerSecond()));
                j.put("tokens_per_second", round(r.tokensPerSecond()));
                if (draft != null) {
                    Map<String, Object> spec = Stats.speculation(r);
                    if (plain != null) {
                        spec.put("tokens_per_second_without_draft", round(plain.tokensPerSecond()));
                        spec.put("speedup", round(r.tokensPerSecond() / plain.tokensPerSecond()));
                        spec.put("identical_to_plain", java.util.Arrays.equals(r.tokens(), plain.tokens()));
                    }
                    j.put("speculation", spec);
                }
                out.println(Json.pretty(j));
            } else {
                out.println();
            }
            out.flush();
            err.println(Stats.line(r));
            if (plain != null) {
                err.println(Stats.speedupLine(r, plain));
            }
            err.flush();
        }
        return 0;
    }

    private String promptText() throws IOException {
        if (prompt != null && prompt.text != null) {
            return prompt.text;
        }
        if (prompt != null && prompt.file != null) {
            if (!Files.isRegularFile(prompt.file)) {
                throw new PanamaxException(prompt.file + ": no such file (-f)");
            }
            return Files.readString(prompt.file, StandardCharsets.UTF_8);
        }
        if (System.console() == null) {
            String s = new String(System.in.readAllBytes(), StandardCharsets.UTF_8);
            if (!s.isBlank()) {
                return s;
            }
        }
        throw new PanamaxException("no prompt: pass -p TEXT, -f FILE or pipe it on standard input");
    }

    static double round(double v) {
        return Math.round(v * 100) / 100.0;
    }
}
