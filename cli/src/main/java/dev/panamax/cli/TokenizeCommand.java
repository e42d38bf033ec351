package dev.panamax.cli;

import dev.panamax.engine.tokenizer.Tokenizer;
import dev.panamax.gguf.GgufFile;
import dev.panamax.gguf.PanamaxException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panamax tokenize}: text to token ids, like llama-tokenize. */
@Command(name = "tokenize", description = "Print the token ids and pieces of a text.")
final class TokenizeCommand implements Callable<Integer> {
    @Option(names = {"-m", "--model"}, paramLabel = "MODEL.gguf", description = "GGUF model whose tokenizer to use (default: the embedded demo model).")
    Path model;

    @Option(names = {"-p", "--prompt"}, paramLabel = "TEXT", required = true, description = "Text to tokenize.")
    String text;

    @Option(names = "--ids", description = "Print only the ids, as a JSON array.")
    boolean ids;

    @Option(names = "--no-bos", description = "Do not add the BOS token even if the model asks for it.")
    boolean noBos;

    @Option(names = "--no-parse-special", description = "Treat special-token text as plain text.")
    boolean noParseSpecial;

    @Option(names = "--show-count", description = "Print the number of tokens at the end.")
    boolean showCount;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        Path p = model != null ? model : EmbeddedModels.defaultModel().orElseThrow(
                () -> new PanamaxException("no model given: pass -m MODEL.gguf"));
        PrintWriter out = spec.commandLine().getOut();
        try (GgufFile g = GgufFile.open(p)) {
            Tokenizer tok = Tokenizer.fromMetadata(g.metadata());
            int[] t = tok.encode(text, tok.addBos() && !noBos, !noParseSpecial);
            if (ids) {
                out.println(Arrays.toString(t));
            } else {
                for (int id : t) {
                    out.printf(Locale.ROOT, "%8d -> '%s'%n", id, tok.decode(new int[] {id}));
                }
            }
            if (showCount) {
                out.println("Total number of tokens: " + t.length);
            }
        }
        out.flush();
        return 0;
    }
}
