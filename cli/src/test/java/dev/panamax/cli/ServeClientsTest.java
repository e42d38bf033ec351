package dev.panamax.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import dev.langchain4j.model.chat.response.ChatResponse;
import dev.langchain4j.model.chat.response.StreamingChatResponseHandler;
import dev.langchain4j.model.openai.OpenAiChatModel;
import dev.langchain4j.model.openai.OpenAiStreamingChatModel;
import dev.langchain4j.model.output.FinishReason;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real OpenAI clients against the server: LangChain4j's OpenAI module and the official python package. */
class ServeClientsTest {
    static ServeHarness h;

    @BeforeAll
    static void start() {
        h = ServeHarness.start("--api-key", "test-key", "--alias", "tiny");
    }

    @AfterAll
    static void stop() {
        h.close();
    }

    static String expectedAnswer() throws Exception {
        Map<String, Object> req = Map.of("messages", List.of(Map.of("role", "system", "content", "Be brief."),
                Map.of("role", "user", "content", "Hello!")), "max_tokens", 8, "temperature", 0);
        return ServeApiTest.at(ServeHarness.json(h.post("/v1/chat/completions", req, "Authorization", "Bearer test-key").body()),
                "choices", 0, "message", "content");
    }

    @Test
    void langChain4jChatsAndStreams() throws Exception {
        String base = h.base + "/v1";
        OpenAiChatModel chat = OpenAiChatModel.builder().baseUrl(base).apiKey("test-key").modelName("tiny")
                .maxTokens(8).temperature(0.0).build();
        ChatResponse plain = chat.chat(List.of(dev.langchain4j.data.message.SystemMessage.from("Be brief."),
                dev.langchain4j.data.message.UserMessage.from("Hello!")));
        assertEquals(expectedAnswer(), plain.aiMessage().text());
        assertEquals(FinishReason.LENGTH, plain.finishReason());
        assertEquals(8, plain.tokenUsage().outputTokenCount());

        OpenAiStreamingChatModel streaming = OpenAiStreamingChatModel.builder().baseUrl(base).apiKey("test-key")
                .modelName("tiny").maxTokens(8).temperature(0.0).build();
        StringBuilder partial = new StringBuilder();
        CompletableFuture<ChatResponse> done = new CompletableFuture<>();
        streaming.chat(List.of(dev.langchain4j.data.message.SystemMessage.from("Be brief."),
                dev.langchain4j.data.message.UserMessage.from("Hello!")), new StreamingChatResponseHandler() {
            @Override
            public void onPartialResponse(String text) {
                partial.append(text);
            }

            @Override
            public void onCompleteResponse(ChatResponse response) {
                done.complete(response);
            }

            @Override
            public void onError(Throwable error) {
                done.completeExceptionally(error);
            }
        });
        ChatResponse streamed = done.get(60, TimeUnit.SECONDS);
        assertEquals(plain.aiMessage().text(), partial.toString());
        assertEquals(plain.aiMessage().text(), streamed.aiMessage().text());
        assertEquals(FinishReason.LENGTH, streamed.finishReason());

        OpenAiChatModel wrongKey = OpenAiChatModel.builder().baseUrl(base).apiKey("nope").modelName("tiny").maxRetries(0).build();
        try {
            wrongKey.chat("Hello");
            throw new AssertionError("a wrong key is refused");
        } catch (RuntimeException e) {
            assertNotNull(e.getMessage());
        }
    }

    @Test
    void officialPythonClientChatsAndStreams(@TempDir Path dir) throws Exception {
        Assumptions.assumeTrue(python("-c", "import openai") == 0,
                "SKIPPED: python3 with the 'openai' package is not available (pip install openai)");
        Path script = dir.resolve("openai_client.py");
        try (var in = ServeClientsTest.class.getResourceAsStream("/serve/openai_client.py")) {
            Files.copy(in, script);
        }
        Process p = new ProcessBuilder("python3", script.toString(), h.base + "/v1", "test-key")
                .redirectErrorStream(false).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), err);
        Map<String, Object> r = ServeHarness.json(out);
        String expected = expectedAnswer();
        assertEquals(expected, r.get("content"));
        assertEquals("length", r.get("finish_reason"));
        assertEquals(8, ((Number) r.get("completion_tokens")).intValue());
        assertEquals(expected, r.get("streamed"));
        assertEquals("length", r.get("stream_finish_reason"));
        assertEquals(8, ((Number) r.get("stream_usage")).intValue());
        assertEquals(List.of("tiny"), r.get("models"));
        assertEquals(400, ((Number) r.get("bad_request")).intValue());
        assertFalse(expected.isEmpty());
    }

    static int python(String... args) {
        try {
            List<String> cmd = new java.util.ArrayList<>(List.of("python3"));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor();
        } catch (IOException e) {
            return -1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return -1;
        }
    }
}
