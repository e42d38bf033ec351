package dev.panamax.cli;

import dev.panamax.engine.convert.HfConverter;
import dev.panamax.engine.convert.Safetensors;
import dev.panamax.gguf.PanamaxException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/** {@code panamax convert}: convert_hf_to_gguf.py for qwen2, qwen3 and llama. */
@Command(name = "convert", sortOptions = false,
        description = "Convert a Hugging Face model folder (config.json, model.safetensors or sharded "
                + "model-*.safetensors with model.safetensors.index.json, tokenizer.json, tokenizer_config.json) "
                + "to GGUF with llama.cpp's tensor names and metadata. Architectures: Qwen2ForCausalLM, "
                + "Qwen3ForCausalLM, LlamaForCausalLM; checkpoints in F32, F16 or BF16.")
final class ConvertCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "HF_DIR", description = "Hugging Face model folder.")
    Path dir;

    @Parameters(index = "1", paramLabel = "OUT.gguf", description = "Output file (written atomically).")
    Path output;

    @Option(names = "--outtype", paramLabel = "f16|bf16|f32|auto", defaultValue = "f16",
            description = "Type of the 2-D weights (default: ${DEFAULT-VALUE}; auto: the checkpoint's own, bf16 or f16). "
                    + "Norms and biases are always f32.")
    String outType;

    @Option(names = "--name", paramLabel = "NAME", description = "general.name (default: the folder's name).")
    String name;

    @Option(names = "--progress", negatable = true, description = "Show the progress bar on standard error (default: when it is a terminal).")
    Boolean progress;

    @Option(names = "--json", description = "Print a JSON summary on standard output.")
    boolean json;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        if (!Files.isDirectory(dir)) {
            throw new PanamaxException(dir + ": " + (Files.exists(dir) ? "not a folder" : "no such folder")
                    + " (HF_DIR: a Hugging Face model folder)");
        }
        if (Files.isDirectory(output)) {
            throw new PanamaxException(output + ": is a folder; OUT.gguf must be a file name");
        }
        HfConverter.OutType type = HfConverter.OutType.parse(outType);
        try (Safetensors st = Safetensors.openDirectory(dir)) {
            HfConverter.Plan plan = HfConverter.plan(dir, st, type, name);
            for (String w : plan.warnings()) {
                err.println("warning: " + w);
            }
            err.flush();
            ProgressBar bar = new ProgressBar(err, "convert", plan.inputBytes(), ProgressBar.wanted(progress));
            HfConverter.Result r;
            try {
                r = HfConverter.convert(dir, st, plan, output, new HfConverter.Listener() {
                    @Override
                    public void tensorStarted(int index, HfConverter.TensorOut t) {
                        bar.detail(String.format(Locale.ROOT, "%d/%d %s %s", index + 1, plan.tensors().size(), t.name(),
                                t.type()));
                    }

                    @Override
                    public void progress(long bytes) {
                        bar.update(bytes);
                    }
                });
            } catch (IOException | RuntimeException e) {
                bar.clear();
                throw e;
            }
            bar.finish();
            if (json) {
                Map<String, Object> j = new LinkedHashMap<>();
                j.put("input", dir.toString());
                j.put("output", output.toString());
                j.put("architecture", plan.config().arch());
                j.put("hf_architecture", plan.config().hfArchitecture());
                j.put("weight_type", plan.weightType().name());
                j.put("tensors", plan.tensors().size());
                j.put("input_bytes", plan.inputBytes());
                j.put("file_bytes", r.fileBytes());
                j.put("seconds", Math.round(r.seconds() * 1000) / 1000.0);
                j.put("warnings", plan.warnings());
                List<Object> tensors = new ArrayList<>();
                for (HfConverter.TensorOut t : plan.tensors()) {
                    Map<String, Object> e = new LinkedHashMap<>();
                    e.put("name", t.name());
                    e.put("source", t.source());
                    e.put("type", t.type().name());
                    e.put("shape", t.ne());
                    tensors.add(e);
                }
                j.put("tensor_list", tensors);
                out.println(Json.pretty(j));
            } else {
                out.printf(Locale.ROOT, "converted %s (%s, %s) -> %s: %d tensors, %s weights, %s, %.1f s%n", dir,
                        plan.config().hfArchitecture(), plan.config().arch(), output, plan.tensors().size(),
                        plan.weightType(), ProgressBar.size(r.fileBytes()), r.seconds());
            }
            out.flush();
        }
        return 0;
    }
}
