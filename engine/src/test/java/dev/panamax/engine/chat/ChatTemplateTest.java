package dev.panamax.engine.chat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.panamax.gguf.PanamaxException;
import java.util.List;
import org.junit.jupiter.api.Test;

class ChatTemplateTest {
    private static final List<Message> CONVERSATION = List.of(
            Message.system("Be brief."), Message.user("Hi"), Message.assistant("<think>\nhmm\n</think>\n\nHello!"),
            Message.user("2+2?"));

    @Test
    void deepSeekR1() {
        assertEquals("<\uff5cbegin\u2581of\u2581sentence\uff5c>Be brief.<\uff5cUser\uff5c>Hi<\uff5cAssistant\uff5c>Hello!"
                + "<\uff5cend\u2581of\u2581sentence\uff5c><\uff5cUser\uff5c>2+2?<\uff5cAssistant\uff5c><think>\n",
                ChatTemplate.DEEPSEEK_R1.render(CONVERSATION, true, true));
        String off = ChatTemplate.DEEPSEEK_R1.render(List.of(Message.user("x")), true, false);
        assertEquals("<\uff5cbegin\u2581of\u2581sentence\uff5c><\uff5cUser\uff5c>x<\uff5cAssistant\uff5c><think>\n\n</think>\n\n", off);
    }

    @Test
    void chatml() {
        assertEquals("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
                + "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n",
                ChatTemplate.CHATML.render(CONVERSATION, true, true));
        assertEquals("<|im_start|>user\nx<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
                ChatTemplate.CHATML.render(List.of(Message.user("x")), true, false));
    }

    @Test
    void llama3() {
        assertEquals("<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nx<|eot_id|>"
                + "<|start_header_id|>assistant<|end_header_id|>\n\n",
                ChatTemplate.LLAMA3.render(List.of(Message.user("x")), true, true));
    }

    @Test
    void detectionAndNames() {
        assertEquals(ChatTemplate.DEEPSEEK_R1, ChatTemplate.detect("{% ... %}<\uff5cAssistant\uff5c>{{ ... }}").orElseThrow());
        assertEquals(ChatTemplate.CHATML, ChatTemplate.detect("{{'<|im_start|>' + message['role']}}").orElseThrow());
        assertEquals(ChatTemplate.LLAMA3, ChatTemplate.detect("<|start_header_id|>").orElseThrow());
        assertEquals(true, ChatTemplate.detect("plain").isEmpty());
        assertEquals(ChatTemplate.CHATML, ChatTemplate.byName("qwen"));
        PanamaxException e = assertThrows(PanamaxException.class, () -> ChatTemplate.byName("vicuna"));
        assertEquals("unknown chat template 'vicuna' (known: [deepseek-r1, chatml, llama3])", e.getMessage());
        assertEquals("answer", ChatTemplate.stripThink("<think>a</think>\n\nanswer"));
    }
}
