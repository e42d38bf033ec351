package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.Session;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.speculative.DraftModel;
import dev.panamax.engine.speculative.VocabBridge;
import dev.panamax.gguf.PanamaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Option;

/** Speculative decoding options (llama.cpp's names). */
final class DraftOptions {
    @Option(names = {"-md", "--model-draft"}, paramLabel = "DRAFT.gguf", description = "Draft model for speculative decoding.")
    Path draft;

    @Option(names = "--draft", paramLabel = "N", defaultValue = "2",
            description = "Draft block length (tokens proposed per target pass); 0 disables (default: ${DEFAULT-VALUE}).")
    int draftMax;

    @Option(names = "--draft-min", paramLabel = "N", defaultValue = "0",
            description = "Draft at least this many tokens before the confidence cut applies (default: ${DEFAULT-VALUE}).")
    int draftMin;

    @Option(names = "--draft-p-min", paramLabel = "P", defaultValue = "0",
            description = "Stop drafting when the draft's top probability falls below P (default: ${DEFAULT-VALUE}, off).")
    float draftPMin;

    @Option(names = {"-td", "--threads-draft"}, paramLabel = "N", description = "Threads for the draft model (default: as -t).")
    Integer draftThreads;

    @Option(names = {"-ctkd", "--cache-type-k-draft"}, paramLabel = "TYPE", defaultValue = "f16", description = "Draft KV key type (default: ${DEFAULT-VALUE}).")
    String draftCacheK;

    @Option(names = {"-ctvd", "--cache-type-v-draft"}, paramLabel = "TYPE", defaultValue = "f16", description = "Draft KV value type (default: ${DEFAULT-VALUE}).")
    String draftCacheV;

    @Option(names = "--spec-replace", arity = "2", paramLabel = "TEXT",
            description = "Substitute target text TARGET by DRAFT when translating between vocabularies (repeatable: --spec-replace TARGET DRAFT).")
    List<String> replacements = new ArrayList<>();

    boolean enabled() {
        return draft != null && draftMax > 0;
    }

    /** A draft model, its session and the drafter; closes with {@link #close()}. */
    static final class Draft implements AutoCloseable {
        final Model model;
        final Session session;
        final DraftModel drafter;

        Draft(Model model, Session session, DraftModel drafter) {
            this.model = model;
            this.session = session;
            this.drafter = drafter;
        }

        @Override
        public void close() {
            session.close();
            model.close();
        }
    }

    Draft open(Model target, SessionOptions targetOptions) {
        Model m = openModel();
        try {
            Session s = m.newSession(sessionOptions(targetOptions));
            return new Draft(m, s, drafter(target, m, s));
        } catch (RuntimeException e) {
            m.close();
            throw e;
        }
    }

    /** The draft model file, checked. */
    Model openModel() {
        if (!Files.exists(draft)) {
            throw new PanamaxException(draft + ": no such file (-md)");
        }
        if (draftMax < 0 || draftMin < 0 || draftPMin < 0 || draftPMin > 1) {
            throw new PanamaxException("--draft and --draft-min must be >= 0 and --draft-p-min in [0, 1]");
        }
        return Model.open(draft);
    }

    SessionOptions sessionOptions(SessionOptions target) {
        // the draft takes what is left of the same GPU (as many of its layers as fit)
        dev.panamax.engine.backend.BackendOptions b = target.backend();
        return new SessionOptions(target.context(), target.batch(), ModelOptions.cacheType("-ctkd", draftCacheK),
                ModelOptions.cacheType("-ctvd", draftCacheV), draftThreads != null ? draftThreads : target.threads(),
                new dev.panamax.engine.backend.BackendOptions(b.disabled(), b.layers() == 0 ? 0 : -1, b.mainDevice(),
                        b.reserveBytes(), b.limitBytes()));
    }

    DraftModel drafter(Model target, Model draftModel, Session draftSession) {
        List<String[]> pairs = new ArrayList<>();
        for (int i = 0; i + 1 < replacements.size(); i += 2) {
            pairs.add(new String[] {unescape(replacements.get(i)), unescape(replacements.get(i + 1))});
        }
        VocabBridge bridge = new VocabBridge(target.tokenizer(), draftModel.tokenizer(), pairs);
        return new DraftModel(draftSession, draftModel.tokenizer(), bridge, draftMax, draftMin, draftPMin);
    }

    /** Lets \n and \t be typed in --spec-replace arguments. */
    private static String unescape(String s) {
        return s.replace("\\n", "\n").replace("\\t", "\t");
    }
}
