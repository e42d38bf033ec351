package dev.panamax.cli.serve;

import dev.panamax.engine.SessionOptions;
import dev.panamax.engine.chat.ChatTemplate;
import dev.panamax.engine.generate.SamplerConfig;
import java.util.function.Supplier;

/**
 * How {@code panamax serve} runs.
 *
 * @param apiKey the Bearer token every request but /health must carry; null: none
 * @param maxBodyBytes larger request bodies get 413
 * @param parallel slots: sequences generated at once, each with its own KV cache
 * @param queue admitted requests that may wait for a slot; more get 429
 * @param modelId the model's name in /v1/models and in responses
 * @param template chat template for /v1/chat/completions
 * @param think whether R1-style reasoning is on unless a request turns it off
 * @param maxTokens default token limit of a request (-1: until the context is full)
 * @param loopGuard the generator's loop guard (0: off)
 * @param sampling default sampling settings, a fresh random seed each call unless one was fixed
 * @param session each slot's session settings (context per slot)
 * @param threads compute threads, shared by the slots
 */
public record ServerConfig(String host, int port, String apiKey, long maxBodyBytes, int parallel, int queue,
        String modelId, ChatTemplate template, boolean think, int maxTokens, int loopGuard,
        Supplier<SamplerConfig> sampling, SessionOptions session, int threads, DraftFactory drafts) {

    /** Makes one drafter per slot (its own draft session on the shared pool); null config field: no speculation. */
    @FunctionalInterface
    public interface DraftFactory {
        dev.panamax.engine.generate.Drafter create(dev.panamax.kernels.WorkerPool pool);
    }
}
