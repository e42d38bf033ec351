package dev.panamax.cli;

import dev.panamax.engine.Model;
import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.perplexity.KlBaseFile;
import dev.panamax.engine.perplexity.Perplexity;
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
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panamax perplexity}: llama-perplexity, with KL divergence against a saved reference. */
@Command(name = "perplexity", sortOptions = false,
        description = {"Perplexity of a model on a text, computed as llama-perplexity does: non-overlapping chunks "
                + "of -c tokens, each starting with BOS when the model adds one, the second half of each chunk "
                + "scored. Prints the running value of each chunk with its error estimate, then the final estimate.",
            "KL divergence: run the reference model (e.g. F16) with --kl-divergence-base FILE to save its top "
                + "token probabilities, then another quantization with --kl-divergence --kl-divergence-base FILE "
                + "(the tokens come from FILE; -f is not needed) for mean KL divergence, top-token agreement and "
                + "the perplexity difference."})
final class PerplexityCommand implements Callable<Integer> {
    @Mixin
    ModelOptions modelOptions;

    @Option(names = {"-f", "--file"}, paramLabel = "TEXT", description = "Text file to evaluate (UTF-8).")
    Path textFile;

    @Option(names = "--chunks", paramLabel = "N", description = "Evaluate at most N chunks (default: all).")
    int maxChunks = -1;

    @Option(names = "--kl-divergence-base", paramLabel = "FILE", description = "Without --kl-divergence: save the reference data to FILE. With it: read the reference from FILE.")
    Path klBase;

    @Option(names = "--kl-divergence", description = "Compare with the reference saved in --kl-divergence-base.")
    boolean klDivergence;

    @Option(names = "--kl-top-k", paramLabel = "K", defaultValue = "64", description = "Tokens per position the reference file keeps (default: ${DEFAULT-VALUE}).")
    int topK;

    @Option(names = "--json", description = "Print a JSON result on standard output instead of the text report.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        boolean ctxGiven = spec.commandLine().getParseResult().hasMatchedOption("-c");
        if (klDivergence) {
            if (klBase == null) {
                throw new PanamaxException("--kl-divergence needs --kl-divergence-base FILE (made by a run without --kl-divergence)");
            }
            return compare(out, err, ctxGiven);
        }
        if (textFile == null) {
            throw new PanamaxException("no text: pass -f TEXT_FILE");
        }
        if (!Files.isRegularFile(textFile)) {
            throw new PanamaxException(textFile + ": no such file (-f)");
        }
        if (klBase != null && (topK < 1)) {
            throw new PanamaxException("--kl-top-k must be at least 1, got " + topK);
        }
        String text = Files.readString(textFile, StandardCharsets.UTF_8);
        int nCtx = ctxGiven ? modelOptions.context : 512;
        try (Model model = modelOptions.open()) {
            int[] tokens = Perplexity.tokenize(model, text);
            int chunks = Perplexity.chunks(tokens.length, nCtx, maxChunks, textFile.toString());
            SessionOptions so = sessionOptions(nCtx);
            int k = Math.min(topK, model.config().vocab());
            err.printf(Locale.ROOT, "perplexity: %d tokens, %d chunks of %d (%d scored each), batch %d, %d threads%s%n",
                    tokens.length, chunks, nCtx, KlBaseFile.scoredPerChunk(nCtx), so.batch(), so.threads(),
                    klBase != null ? ", saving the top " + k + " tokens of each position to " + klBase : "");
            err.flush();
            Perplexity.Result r;
            try (KlBaseFile.Writer w = klBase == null ? null : new KlBaseFile.Writer(klBase, nCtx,
                    model.config().vocab(), k, chunks, model.tokenizer().addBos(), tokens)) {
                r = Perplexity.run(model, so, tokens, chunks, w, k, (c, n, s, seconds) -> {
                    if (c == 0) {
                        err.printf(Locale.ROOT, "perplexity: %.2f s per chunk, ETA %s%n", seconds,
                                ProgressBar.clock(seconds * (n - 1)));
                        err.flush();
                    }
                    if (!json) {
                        out.printf(Locale.ROOT, "[%d] %.4f +/- %.4f%n", c + 1, s.ppl(), s.error());
                        out.flush();
                    }
                });
                if (w != null) {
                    w.finish();
                }
            }
            if (json) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("model", model.displayName());
                j.put("tokens", r.tokens());
                j.put("n_ctx", nCtx);
                j.put("chunks", r.chunks());
                j.put("scored", r.stats().count());
                j.put("ppl", r.stats().ppl());
                j.put("ppl_error", r.stats().error());
                List<Object> running = new ArrayList<>();
                for (int i = 0; i < r.runningPpl().size(); i++) {
                    running.add(Map.of("chunk", i + 1, "ppl", r.runningPpl().get(i), "error", nanToNull(r.runningError().get(i))));
                }
                j.put("running", running);
                j.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
                if (klBase != null) {
                    j.put("kl_divergence_base", klBase.toString());
                }
                out.println(Json.pretty(j));
            } else {
                out.printf(Locale.ROOT, "Final estimate: PPL = %.4f +/- %.5f%n", r.stats().ppl(), r.stats().error());
            }
            out.flush();
        }
        return 0;
    }

    private static Object nanToNull(double v) {
        return Double.isNaN(v) ? "NaN" : v;
    }

    private SessionOptions sessionOptions(int nCtx) {
        SessionOptions base = modelOptions.sessionOptions();
        return new SessionOptions(nCtx, Math.min(base.batch(), nCtx), base.keyType(), base.valueType(), base.threads());
    }

    private int compare(PrintWriter out, PrintWriter err, boolean ctxGiven) {
        try (KlBaseFile.Reader base = new KlBaseFile.Reader(klBase); Model model = modelOptions.open()) {
            if (ctxGiven && modelOptions.context != base.nCtx) {
                throw new PanamaxException("-c " + modelOptions.context + " differs from the " + base.nCtx
                        + " tokens per chunk of " + klBase + "; leave -c out to use the base's");
            }
            if (textFile != null) {
                err.println("note: --kl-divergence takes the tokens from " + klBase + "; -f is not used");
            }
            SessionOptions so = sessionOptions(base.nCtx);
            int chunks = maxChunks > 0 ? Math.min(maxChunks, base.nChunk) : base.nChunk;
            err.printf(Locale.ROOT, "kl-divergence: %d chunks of %d from %s (top %d tokens per position), batch %d, "
                    + "%d threads%n", chunks, base.nCtx, klBase, base.topK, so.batch(), so.threads());
            err.flush();
            Perplexity.KlResult r = Perplexity.compare(model, so, base, maxChunks, (c, n, q, kl, same, seconds) -> {
                if (c == 0) {
                    err.printf(Locale.ROOT, "kl-divergence: %.2f s per chunk, ETA %s%n", seconds,
                            ProgressBar.clock(seconds * (n - 1)));
                    err.flush();
                }
                if (!json) {
                    out.printf(Locale.ROOT, "[%d] PPL %.4f +/- %.4f  KLD %.6f  same top %.2f%%%n", c + 1, q.ppl(),
                            q.error(), kl, 100 * same);
                    out.flush();
                }
            });
            if (json) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("model", model.displayName());
                j.put("kl_divergence_base", klBase.toString());
                j.put("n_ctx", r.nCtx());
                j.put("chunks", r.chunks());
                j.put("positions", r.positions());
                j.put("top_k", r.topK());
                j.put("ppl", r.q().ppl());
                j.put("ppl_error", r.q().error());
                j.put("ppl_base", r.base().ppl());
                j.put("ppl_base_error", r.base().error());
                j.put("ppl_difference", r.pplDiff());
                j.put("ppl_difference_error", r.pplDiffError());
                j.put("ppl_ratio", r.pplRatio());
                j.put("ppl_ratio_error", r.pplRatioError());
                j.put("ln_ppl_ratio", r.meanLogRatio());
                j.put("ln_ppl_ratio_error", r.logRatioError());
                j.put("ln_ppl_correlation", r.correlation());
                j.put("kl_divergence", r.meanKl());
                j.put("kl_divergence_error", r.klError());
                j.put("kl_divergence_max", r.maxKl());
                j.put("kl_divergence_99_9", r.p999Kl());
                j.put("kl_divergence_99", r.p99Kl());
                j.put("kl_divergence_median", r.medianKl());
                j.put("same_top", r.sameTop());
                j.put("same_top_error", r.sameTopError());
                j.put("top_k_coverage", r.coverage());
                j.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
                out.println(Json.pretty(j));
            } else {
                out.println();
                out.println("====== Perplexity statistics ======");
                out.printf(Locale.ROOT, "Mean PPL(Q)                   : %10.6f +/- %10.6f%n", r.q().ppl(), r.q().error());
                out.printf(Locale.ROOT, "Mean PPL(base)                : %10.6f +/- %10.6f%n", r.base().ppl(), r.base().error());
                out.printf(Locale.ROOT, "Cor(ln(PPL(Q)), ln(PPL(base))): %9.2f%%%n", 100 * r.correlation());
                out.printf(Locale.ROOT, "Mean ln(PPL(Q)/PPL(base))     : %10.6f +/- %10.6f%n", r.meanLogRatio(), r.logRatioError());
                out.printf(Locale.ROOT, "Mean PPL(Q)/PPL(base)         : %10.6f +/- %10.6f%n", r.pplRatio(), r.pplRatioError());
                out.printf(Locale.ROOT, "Mean PPL(Q)-PPL(base)         : %10.6f +/- %10.6f%n", r.pplDiff(), r.pplDiffError());
                out.println();
                out.println("====== KL divergence statistics ======");
                out.printf(Locale.ROOT, "Mean    KLD: %10.6f +/- %10.6f%n", r.meanKl(), r.klError());
                out.printf(Locale.ROOT, "Maximum KLD: %10.6f%n", r.maxKl());
                out.printf(Locale.ROOT, "99.9%%   KLD: %10.6f%n", r.p999Kl());
                out.printf(Locale.ROOT, "99.0%%   KLD: %10.6f%n", r.p99Kl());
                out.printf(Locale.ROOT, "Median  KLD: %10.6f%n", r.medianKl());
                out.printf(Locale.ROOT, "(over the base's top %d tokens + the rest as one bucket; they hold %.2f%% of "
                        + "the base probability on average)%n", r.topK(), 100 * r.coverage());
                out.println();
                out.println("====== Token probability statistics ======");
                out.printf(Locale.ROOT, "Same top p: %6.3f +/- %5.3f %%%n", 100 * r.sameTop(), 100 * r.sameTopError());
            }
            out.flush();
        }
        return 0;
    }
}
