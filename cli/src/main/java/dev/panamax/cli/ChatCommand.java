package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.chat.ChatTemplate;
import dev.panamax.engine.chat.Message;
import dev.panamax.engine.generate.Generator;
import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.gguf.PanamaxException;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code panamax chat}: an interactive conversation. The KV cache keeps the conversation, so each
 * turn only evaluates its new tokens; reasoning is shown dimmed and never fed back.
 */
@Command(name = "chat", description = "Talk with a model. /reset clears the conversation, /system TEXT sets the "
        + "system prompt, /exit quits; Ctrl-C stops the current answer.")
final class ChatCommand implements Callable<Integer> {
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

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        generation.validate();
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean terminal = System.console() != null;
        try (Model model = modelOptions.open(); Session session = model.newSession(modelOptions.sessionOptions().withBackend(gpu.backendOptions()));
                DraftOptions.Draft draft = draftOptions.enabled() ? draftOptions.open(model, session.options()) : null) {
            session.warmUp();
            Tokenizer tok = model.tokenizer();
            ChatTemplate template = generation.template(model).orElseThrow(() -> new PanamaxException(model.file().name()
                    + ": the model has no chat template Panamax recognises; pick one with --chat-template"
                    + " (deepseek-r1, chatml, llama3) or use 'panamax run --raw'"));
            boolean think = generation.thinkEnabled();
            Generator generator = new Generator(session, tok, draft == null ? null : draft.drafter);
            List<Message> history = new ArrayList<>();
            String system = generation.system;
            AtomicBoolean cancel = new AtomicBoolean();
            Interrupts interrupts = Interrupts.install(cancel);
            GpuOptions.report(session, err);
            err.println("panamax chat: " + model.displayName() + " (" + template.id() + " template, context "
                    + session.context() + "). /help for commands.");
            err.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            while (true) {
                if (terminal) {
                    out.print("> ");
                    out.flush();
                }
                String line = readInput(in);
                if (line == null) {
                    break;
                }
                String cmd = line.strip();
                if (cmd.isEmpty()) {
                    continue;
                }
                if (cmd.equals("/exit") || cmd.equals("/quit")) {
                    break;
                }
                if (cmd.equals("/help")) {
                    out.println("/reset  forget the conversation\n/system TEXT  set the system prompt (resets)\n/exit  quit");
                    continue;
                }
                if (cmd.equals("/reset")) {
                    history.clear();
                    generator.reset();
                    err.println("(conversation cleared)");
                    continue;
                }
                if (cmd.startsWith("/system")) {
                    system = cmd.substring("/system".length()).strip();
                    history.clear();
                    generator.reset();
                    err.println(system.isEmpty() ? "(system prompt removed)" : "(system prompt set)");
                    continue;
                }
                List<Message> messages = new ArrayList<>();
                if (system != null && !system.isEmpty()) {
                    messages.add(Message.system(system));
                }
                messages.addAll(history);
                messages.add(Message.user(line));
                int[] tokens = tok.encode(template.render(messages, true, think), false, true);
                TextPrinter printer = new TextPrinter(out, template.startsInThink(think), generation.hideThink, terminal, true);
                cancel.set(false);
                interrupts.generating(true);
                Generator.Result r;
                try {
                    r = generator.generate(tokens, new Generator.Settings(generation.maxTokens, generation.stop,
                            generation.loopGuard, sampling.config()), printer::accept, cancel::get);
                } catch (PanamaxException e) {
                    interrupts.generating(false);
                    err.println("panamax: error: " + e.getMessage());
                    continue;
                }
                interrupts.generating(false);
                printer.finish();
                out.println();
                out.flush();
                err.println(Stats.line(r));
                err.flush();
                history.add(Message.user(line));
                history.add(Message.assistant(printer.answer()));
            }
        }
        return 0;
    }

    /** One message: a line, or several lines joined while they end with a backslash. */
    private static String readInput(BufferedReader in) throws IOException {
        StringBuilder sb = new StringBuilder();
        while (true) {
            String line = in.readLine();
            if (line == null) {
                return sb.isEmpty() ? null : sb.toString();
            }
            if (line.endsWith("\\")) {
                sb.append(line, 0, line.length() - 1).append('\n');
                continue;
            }
            return sb.append(line).toString();
        }
    }
}
