package dev.panamax.engine.quantize;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.panamax.gguf.GgmlType;
import dev.panamax.gguf.PanamaxException;
import dev.panamax.gguf.TensorInfo;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The per-tensor types of llama-quantize (src/llama-quant.cpp, llama_tensor_get_type) for whole
 * models. Every expected table below was worked out by hand from the rules, not printed by the
 * code under test:
 *
 * <pre>
 * use_more_bits(i, 48): i &lt; 6 || i &gt;= 42 || (i - 6) % 3 == 2
 *   -> 0-5, 8, 11, 14, 17, 20, 23, 26, 29, 32, 35, 38, 41, 42-47
 * use_more_bits(i, 28): i &lt; 3 || i &gt;= 24 || (i - 3) % 3 == 2
 *   -> 0-2, 5, 8, 11, 14, 17, 20, 23, 24-27
 * </pre>
 *
 * A table row is one character per layer (spaces only group layers by eight):
 * 2 Q2_K, 3 Q3_K, 4 Q4_K, 5 Q5_K, 6 Q6_K, 8 Q8_0, x IQ4_XS, n IQ4_NL, a Q4_0, b Q5_0, c Q5_1, f F16.
 */
class MixRulesTest {

    /** A model shape: as an F16 checkpoint holds it (llama.cpp names; ne = [in, out]). */
    record Shape(int layers, int hidden, int ffn, int heads, int kvHeads, int headDim, int vocab, boolean tied,
            boolean bias, boolean qkNorm, boolean is70B) {
        List<TensorInfo> tensors() {
            List<TensorInfo> t = new ArrayList<>();
            int q = heads * headDim;
            int kv = kvHeads * headDim;
            t.add(f16("token_embd.weight", hidden, vocab));
            for (int l = 0; l < layers; l++) {
                String p = "blk." + l + ".";
                t.add(f32(p + "attn_norm.weight", hidden));
                t.add(f16(p + "attn_q.weight", hidden, q));
                t.add(f16(p + "attn_k.weight", hidden, kv));
                t.add(f16(p + "attn_v.weight", hidden, kv));
                if (bias) {
                    t.add(f32(p + "attn_q.bias", q));
                    t.add(f32(p + "attn_k.bias", kv));
                    t.add(f32(p + "attn_v.bias", kv));
                }
                if (qkNorm) {
                    t.add(f32(p + "attn_q_norm.weight", headDim));
                    t.add(f32(p + "attn_k_norm.weight", headDim));
                }
                t.add(f16(p + "attn_output.weight", q, hidden));
                t.add(f32(p + "ffn_norm.weight", hidden));
                t.add(f16(p + "ffn_gate.weight", hidden, ffn));
                t.add(f16(p + "ffn_up.weight", hidden, ffn));
                t.add(f16(p + "ffn_down.weight", ffn, hidden));
            }
            t.add(f32("output_norm.weight", hidden));
            if (!tied) {
                t.add(f16("output.weight", hidden, vocab));
            }
            return t;
        }

        MixRules.ModelFacts facts() {
            return new MixRules.ModelFacts(layers, heads / kvHeads, !tied, is70B);
        }
    }

    /** DeepSeek-R1-Distill-Qwen-14B: 48 layers, GQA 5, untied output, every row a multiple of 256. */
    static final Shape QWEN14B = new Shape(48, 5120, 13824, 40, 8, 128, 152064, false, true, false, false);
    /** Qwen3-0.6B: 28 layers, GQA 2, tied embeddings, q dim 2048 != hidden. */
    static final Shape QWEN3_06B = new Shape(28, 1024, 3072, 16, 8, 128, 151936, true, false, true, false);
    /** Qwen2.5-0.5B's widths on 28 layers: rows of 896 are not a multiple of 256 (fallbacks), GQA 7, tied. */
    static final Shape ODD896 = new Shape(28, 896, 4864, 14, 2, 64, 151936, true, true, false, false);

    private static TensorInfo f16(String name, long in, long out) {
        return TensorInfo.of(name, GgmlType.F16, new long[] {in, out}, 0);
    }

    private static TensorInfo f32(String name, long n) {
        return TensorInfo.of(name, GgmlType.F32, new long[] {n}, 0);
    }

    private static final Map<Character, GgmlType> CODES = Map.ofEntries(Map.entry('2', GgmlType.Q2_K),
            Map.entry('3', GgmlType.Q3_K), Map.entry('4', GgmlType.Q4_K), Map.entry('5', GgmlType.Q5_K),
            Map.entry('6', GgmlType.Q6_K), Map.entry('8', GgmlType.Q8_0), Map.entry('x', GgmlType.IQ4_XS),
            Map.entry('n', GgmlType.IQ4_NL), Map.entry('a', GgmlType.Q4_0), Map.entry('b', GgmlType.Q5_0),
            Map.entry('c', GgmlType.Q5_1), Map.entry('f', GgmlType.F16));

    /** Expected types: per layer kind a row of codes, plus token_embd / output. */
    static final class Expect {
        final Map<String, String> rows = new LinkedHashMap<>();
        char embd;
        Character output;

        Expect row(String kind, String codes) {
            rows.put(kind, codes.replace(" ", ""));
            return this;
        }

        /** The same code for every layer of a kind. */
        Expect all(String kind, char code, int layers) {
            return row(kind, String.valueOf(code).repeat(layers));
        }

        Expect embd(char c) {
            embd = c;
            return this;
        }

        Expect output(char c) {
            output = c;
            return this;
        }
    }

    private static void check(Shape s, Recipe r, Expect e) {
        List<TensorPlan> plan = QuantPlanner.plan(s.tensors(), r, s.facts());
        Map<String, GgmlType> got = new HashMap<>();
        for (TensorPlan p : plan) {
            got.put(p.input().name(), p.outputType());
        }
        List<String> wrong = new ArrayList<>();
        for (var row : e.rows.entrySet()) {
            assertEquals(s.layers(), row.getValue().length(), row.getKey() + " row length");
            for (int l = 0; l < s.layers(); l++) {
                GgmlType want = CODES.get(row.getValue().charAt(l));
                GgmlType have = got.get("blk." + l + "." + row.getKey() + ".weight");
                if (want != have) {
                    wrong.add("blk." + l + "." + row.getKey() + ": expected " + want + ", planned " + have);
                }
            }
        }
        if (CODES.get(e.embd) != got.get("token_embd.weight")) {
            wrong.add("token_embd: expected " + CODES.get(e.embd) + ", planned " + got.get("token_embd.weight"));
        }
        if (e.output != null && CODES.get(e.output) != got.get("output.weight")) {
            wrong.add("output: expected " + CODES.get(e.output) + ", planned " + got.get("output.weight"));
        }
        // 1-D tensors and norms are never quantized
        for (TensorPlan p : plan) {
            if (p.input().dims() == 1) {
                assertEquals(p.input().type(), p.outputType(), p.input().name());
            }
        }
        assertTrue(wrong.isEmpty(), r.name() + ":\n" + String.join("\n", wrong));
    }

    private static Recipe mix(String name) {
        return Recipe.of(QuantMix.parse("test", name));
    }

    private static Expect uniform(Shape s, char qkvo, char gateUp) {
        return new Expect().all("attn_q", qkvo, s.layers()).all("attn_k", qkvo, s.layers())
                .all("attn_output", qkvo, s.layers()).all("ffn_gate", gateUp, s.layers()).all("ffn_up", gateUp, s.layers());
    }

    // ---- 48 layers, untied (DeepSeek-R1-Distill-Qwen-14B) ----

    @Test
    void q4KM48() {
        check(QWEN14B, mix("Q4_K_M"), uniform(QWEN14B, '4', '4')
                .row("attn_v", "66666644 64464464 46446446 44644644 64464464 46666666")
                .row("ffn_down", "66666644 64464464 46446446 44644644 64464464 46666666")
                .embd('4').output('6'));
    }

    @Test
    void q5KM48() {
        check(QWEN14B, mix("Q5_K_M"), uniform(QWEN14B, '5', '5')
                .row("attn_v", "66666655 65565565 56556556 55655655 65565565 56666666")
                .row("ffn_down", "66666655 65565565 56556556 55655655 65565565 56666666")
                .embd('5').output('6'));
    }

    @Test
    void q3KM48() {
        check(QWEN14B, mix("Q3_K_M"), new Expect().all("attn_q", '3', 48).all("attn_k", '3', 48)
                .all("ffn_gate", '3', 48).all("ffn_up", '3', 48).all("attn_output", '4', 48)
                .row("attn_v", "55444444 44444444 44444444 44444444 44444444 44444444")
                .row("ffn_down", "55544444 44444444 44444444 44444444 44444444 44444444")
                .embd('3').output('6'));
    }

    @Test
    void q3KLAndQ3KS48() {
        check(QWEN14B, mix("Q3_K_L"), new Expect().all("attn_q", '3', 48).all("ffn_up", '3', 48)
                .all("attn_v", '5', 48).all("ffn_down", '5', 48).all("attn_output", '5', 48).embd('3').output('6'));
        check(QWEN14B, mix("Q3_K_S"), uniform(QWEN14B, '3', '3').all("attn_v", '3', 48).all("ffn_down", '3', 48)
                .embd('3').output('6'));
    }

    @Test
    void q4KS48() {
        check(QWEN14B, mix("Q4_K_S"), uniform(QWEN14B, '4', '4')
                .row("attn_v", "55554444 44444444 44444444 44444444 44444444 44444444")
                .row("ffn_down", "55555544 44444444 44444444 44444444 44444444 44444444")
                .embd('4').output('6'));
    }

    @Test
    void q2K48() {
        check(QWEN14B, mix("Q2_K"), new Expect().all("attn_q", '2', 48).all("attn_k", '2', 48)
                .all("ffn_gate", '2', 48).all("ffn_up", '2', 48).all("attn_v", '4', 48) // GQA 5 >= 4
                .all("ffn_down", '3', 48).all("attn_output", '3', 48).embd('2').output('6'));
    }

    @Test
    void iq4XS48() {
        check(QWEN14B, mix("IQ4_XS"), uniform(QWEN14B, 'x', 'x').all("attn_v", '5', 48)
                .row("ffn_down", "555555xx xxxxxxxx xxxxxxxx xxxxxxxx xxxxxxxx xxxxxxxx")
                .embd('x').output('6'));
        check(QWEN14B, mix("IQ4_NL"), uniform(QWEN14B, 'n', 'n').all("attn_v", '5', 48)
                .row("ffn_down", "555555nn nnnnnnnn nnnnnnnn nnnnnnnn nnnnnnnn nnnnnnnn")
                .embd('n').output('6'));
    }

    @Test
    void plainTypes48() {
        check(QWEN14B, mix("Q8_0"), uniform(QWEN14B, '8', '8').all("attn_v", '8', 48).all("ffn_down", '8', 48)
                .embd('8').output('8'));
        check(QWEN14B, mix("Q6_K"), uniform(QWEN14B, '6', '6').all("attn_v", '6', 48).all("ffn_down", '6', 48)
                .embd('6').output('6'));
        check(QWEN14B, mix("Q5_K_S"), uniform(QWEN14B, '5', '5').all("attn_v", '5', 48).all("ffn_down", '5', 48)
                .embd('5').output('6'));
        check(QWEN14B, mix("Q4_0"), uniform(QWEN14B, 'a', 'a').all("attn_v", 'a', 48).all("ffn_down", 'a', 48)
                .embd('a').output('6'));
        // not-quantized mixes have no rules: everything, output included, is that type
        check(QWEN14B, mix("F16"), uniform(QWEN14B, 'f', 'f').all("attn_v", 'f', 48).all("ffn_down", 'f', 48)
                .embd('f').output('f'));
    }

    @Test
    void pureAndOverrides48() {
        check(QWEN14B, mix("Q4_K_M").withPure(true), uniform(QWEN14B, '4', '4').all("attn_v", '4', 48)
                .all("ffn_down", '4', 48).embd('4').output('4'));
        Recipe r = mix("Q4_K_M").withTensorTypes(List.of(Recipe.TensorTypeRule.parse("t", "attn_v=q8_0"),
                Recipe.TensorTypeRule.parse("t", "blk\\.1[0-9]\\.ffn_down=Q5_K"), Recipe.TensorTypeRule.parse("t", "ffn_down=q2_k")))
                .withTokenEmbeddingType(GgmlType.Q8_0).withOutputTensorType(GgmlType.Q5_K);
        check(QWEN14B, r, uniform(QWEN14B, '4', '4').all("attn_v", '8', 48)
                .row("ffn_down", "22222222 22555555 55552222 22222222 22222222 22222222")
                .embd('8').output('5'));
        check(QWEN14B, mix("Q4_K_M").withLeaveOutput(true), uniform(QWEN14B, '4', '4')
                .row("attn_v", "66666644 64464464 46446446 44644644 64464464 46666666")
                .row("ffn_down", "66666644 64464464 46446446 44644644 64464464 46666666")
                .embd('4').output('f'));
    }

    @Test
    void q4KH48MatchesTheModelCard() {
        Recipe r = Recipes.fromType("Q4_K_H", 48);
        check(QWEN14B, r, new Expect()
                .row("attn_q", "44433333 33333333 33333333 33334444 44444444 44555666")
                .row("attn_k", "44433333 33333333 33333333 33334444 44444444 44555666")
                .row("ffn_gate", "44433333 33333333 33333333 33334444 44444444 44555666")
                .row("ffn_up", "44433333 33333333 33333333 33334444 44444444 44555666")
                .row("attn_v", "66554444 44444444 54545454 55554444 44464464 46568888")
                .row("ffn_down", "66554444 44444444 54545454 55554444 44464464 46566888")
                .row("attn_output", "64454444 44444444 54545454 55554444 44444444 46556666")
                .embd('4').output('6'));
        // the card's 8.6e9 bytes: tensor data only (the tokenizer metadata adds a few MB to the file)
        long bytes = QuantPlanner.plan(QWEN14B.tensors(), r, QWEN14B.facts()).stream()
                .mapToLong(TensorPlan::outputBytes).sum();
        assertEquals(8.57e9, bytes, 0.01e9, "Q4_K_H tensor bytes on the 14B shape: " + bytes);
        assertEquals(GgmlType.Q4_K.bytesFor(5120L * 152064), planOf(QWEN14B, r, "token_embd.weight").outputBytes());
    }

    // ---- 28 layers, tied (Qwen3-0.6B) ----

    @Test
    void q4KM28Tied() {
        check(QWEN3_06B, mix("Q4_K_M"), uniform(QWEN3_06B, '4', '4')
                .row("attn_v", "66644644 64464464 46446446 6666")
                .row("ffn_down", "66644644 64464464 46446446 6666")
                .embd('6')); // tied: the embedding is the output and follows the output rule
        check(QWEN3_06B, mix("Q5_K_M"), uniform(QWEN3_06B, '5', '5')
                .row("attn_v", "66655655 65565565 56556556 6666")
                .row("ffn_down", "66655655 65565565 56556556 6666")
                .embd('6'));
    }

    @Test
    void q3KMAndQ4KS28Tied() {
        check(QWEN3_06B, mix("Q3_K_M"), new Expect().all("attn_q", '3', 28).all("ffn_up", '3', 28)
                .all("attn_output", '4', 28)
                .row("attn_v", "55444444 44444444 44444444 4444")
                .row("ffn_down", "54444444 44444444 44444444 4444") // 28/16 = 1
                .embd('6'));
        check(QWEN3_06B, mix("Q4_K_S"), uniform(QWEN3_06B, '4', '4')
                .row("attn_v", "55554444 44444444 44444444 4444")
                .row("ffn_down", "55544444 44444444 44444444 4444") // 28/8 = 3
                .embd('6'));
    }

    @Test
    void q2KAndIq4XS28Tied() {
        check(QWEN3_06B, mix("Q2_K"), new Expect().all("attn_q", '2', 28).all("ffn_gate", '2', 28)
                .all("attn_v", '3', 28) // GQA 2 < 4
                .all("ffn_down", '3', 28).all("attn_output", '3', 28).embd('6'));
        check(QWEN3_06B, mix("IQ4_XS"), uniform(QWEN3_06B, 'x', 'x').all("attn_v", 'x', 28) // GQA 2 < 4
                .row("ffn_down", "555xxxxx xxxxxxxx xxxxxxxx xxxx").embd('6'));
        check(QWEN3_06B, mix("Q8_0"), uniform(QWEN3_06B, '8', '8').all("attn_v", '8', 28).all("ffn_down", '8', 28)
                .embd('8'));
    }

    @Test
    void tiedEmbeddingOverrides28() {
        // --output-tensor-type reaches a tied embedding through the output rule ...
        check(QWEN3_06B, mix("Q4_K_M").withOutputTensorType(GgmlType.Q8_0), uniform(QWEN3_06B, '4', '4')
                .row("attn_v", "66644644 64464464 46446446 6666").row("ffn_down", "66644644 64464464 46446446 6666")
                .embd('8'));
        // ... but --token-embedding-type is checked first and wins
        check(QWEN3_06B, mix("Q4_K_M").withOutputTensorType(GgmlType.Q8_0).withTokenEmbeddingType(GgmlType.Q4_K),
                uniform(QWEN3_06B, '4', '4').row("attn_v", "66644644 64464464 46446446 6666")
                        .row("ffn_down", "66644644 64464464 46446446 6666").embd('4'));
    }

    // ---- 28 layers, rows of 896 (fallbacks) ----

    @Test
    void fallbacksForRowsNotDivisibleBy256() {
        // Q4_K -> Q5_0, Q6_K -> Q8_0; ffn_down rows are 4864 = 19 * 256 and keep their K types
        check(ODD896, mix("Q4_K_M"), uniform(ODD896, 'b', 'b')
                .row("attn_v", "888bb8bb 8bb8bb8b b8bb8bb8 8888")
                .row("ffn_down", "66644644 64464464 46446446 6666")
                .embd('8')); // output rule: 896 % 256 != 0 -> Q8_0
        // Q3_K -> Q4_0, Q5_K -> Q5_1
        check(ODD896, mix("Q3_K_M"), new Expect().all("attn_q", 'a', 28).all("ffn_gate", 'a', 28)
                .all("attn_output", 'b', 28)
                .row("attn_v", "ccbbbbbb bbbbbbbb bbbbbbbb bbbb")
                .row("ffn_down", "54444444 44444444 44444444 4444").embd('8'));
        // Q2_K -> Q4_0; attn_v Q4_K (GQA 7) -> Q5_0
        check(ODD896, mix("Q2_K"), new Expect().all("attn_q", 'a', 28).all("ffn_up", 'a', 28)
                .all("attn_output", 'a', 28).all("attn_v", 'b', 28).all("ffn_down", '3', 28).embd('8'));
        // IQ4_XS -> IQ4_NL; attn_v Q5_K (GQA 7) -> Q5_1
        check(ODD896, mix("IQ4_XS"), uniform(ODD896, 'n', 'n').all("attn_v", 'c', 28)
                .row("ffn_down", "555xxxxx xxxxxxxx xxxxxxxx xxxx").embd('8'));
        check(ODD896, mix("Q6_K"), uniform(ODD896, '8', '8').all("attn_v", '8', 28).all("ffn_down", '6', 28).embd('8'));
        check(ODD896, mix("Q5_K_S"), uniform(ODD896, 'c', 'c').all("attn_v", 'c', 28).all("ffn_down", '5', 28)
                .embd('8'));
        // legacy 32-blocks fit; the output rule's Q6_K falls back to Q8_0
        check(ODD896, mix("Q4_0"), uniform(ODD896, 'a', 'a').all("attn_v", 'a', 28).all("ffn_down", 'a', 28)
                .embd('8'));
    }

    @Test
    void fallbackTable() {
        assertEquals(GgmlType.Q4_0, MixRules.fallback(GgmlType.Q2_K, 896));
        assertEquals(GgmlType.Q4_0, MixRules.fallback(GgmlType.Q3_K, 896));
        assertEquals(GgmlType.Q5_0, MixRules.fallback(GgmlType.Q4_K, 896));
        assertEquals(GgmlType.Q5_1, MixRules.fallback(GgmlType.Q5_K, 896));
        assertEquals(GgmlType.Q8_0, MixRules.fallback(GgmlType.Q6_K, 896));
        assertEquals(GgmlType.IQ4_NL, MixRules.fallback(GgmlType.IQ4_XS, 896));
        assertEquals(GgmlType.Q4_K, MixRules.fallback(GgmlType.Q4_K, 1024));
        assertEquals(GgmlType.F16, MixRules.fallback(GgmlType.Q4_K, 100)); // not even a multiple of 32
        assertEquals(GgmlType.F16, MixRules.fallback(GgmlType.Q8_0, 100));
    }

    @Test
    void overridesThatDoNotFitAreErrors() {
        PanamaxException e = assertThrows(PanamaxException.class, () -> QuantPlanner.plan(ODD896.tensors(),
                mix("Q4_K_M").withTokenEmbeddingType(GgmlType.Q4_K), ODD896.facts()));
        assertTrue(e.getMessage().contains("--token-embedding-type Q4_K") && e.getMessage().contains("896"), e.getMessage());
    }

    @Test
    void seventyBRaisesAttnV() {
        // llama.cpp's LLM_TYPE_70B: attn_v Q3_K/Q4_K become Q5_K (80 layers: more bits at 0-9, 70-79, (i-10)%3==2)
        Shape s = new Shape(80, 8192, 28672, 64, 8, 128, 152064, false, true, false, true);
        List<TensorPlan> plan = QuantPlanner.plan(s.tensors(), mix("Q4_K_M"), s.facts());
        Map<String, GgmlType> got = new HashMap<>();
        plan.forEach(p -> got.put(p.input().name(), p.outputType()));
        assertEquals(GgmlType.Q6_K, got.get("blk.0.attn_v.weight"));
        assertEquals(GgmlType.Q5_K, got.get("blk.10.attn_v.weight"));
        assertEquals(GgmlType.Q6_K, got.get("blk.12.attn_v.weight"));
        assertEquals(GgmlType.Q4_K, got.get("blk.10.ffn_down.weight"));
        assertTrue(MixRules.ModelFacts.is70B("qwen2", 80, 64, 8));
        assertTrue(MixRules.ModelFacts.is70B("llama", 80, 64, 8));
        assertTrue(!MixRules.ModelFacts.is70B("llama", 80, 64, 64) && !MixRules.ModelFacts.is70B("qwen3", 80, 64, 8));
    }

    @Test
    void tensorOrderIsLlamaCpps() {
        List<TensorPlan> plan = QuantPlanner.plan(QWEN14B.tensors(), mix("Q4_K_M"), QWEN14B.facts());
        List<String> names = plan.stream().map(p -> p.input().name()).toList();
        assertEquals(List.of("output.weight", "output_norm.weight", "token_embd.weight", "blk.0.attn_k.bias",
                "blk.0.attn_k.weight", "blk.0.attn_norm.weight", "blk.0.attn_output.weight", "blk.0.attn_q.bias",
                "blk.0.attn_q.weight", "blk.0.attn_v.bias", "blk.0.attn_v.weight", "blk.0.ffn_down.weight",
                "blk.0.ffn_gate.weight", "blk.0.ffn_norm.weight", "blk.0.ffn_up.weight", "blk.1.attn_k.bias"),
                names.subList(0, 16));
        int nine = names.indexOf("blk.9.ffn_up.weight");
        assertEquals("blk.10.attn_k.bias", names.get(nine + 1)); // numeric layer order, not string order
    }

    @Test
    void useMoreBits() {
        StringBuilder b48 = new StringBuilder();
        for (int i = 0; i < 48; i++) {
            b48.append(MixRules.useMoreBits(i, 48) ? '1' : '0');
        }
        assertEquals("111111001001001001001001001001001001001001111111", b48.toString());
    }

    @Test
    void quantizableTensors() {
        assertTrue(MixRules.isQuantizable("blk.0.attn_q.weight", new long[] {64, 64}));
        assertTrue(!MixRules.isQuantizable("blk.0.attn_q.bias", new long[] {64, 64}));
        assertTrue(!MixRules.isQuantizable("blk.0.attn_norm.weight", new long[] {64}));
        assertTrue(!MixRules.isQuantizable("blk.0.attn_q_norm.weight", new long[] {64, 2}));
        assertTrue(!MixRules.isQuantizable("rope_freqs.weight", new long[] {64}));
        assertTrue(!MixRules.isQuantizable("x.weight", new long[] {64, 1})); // ggml_n_dims ignores trailing 1s
    }

    private static TensorPlan planOf(Shape s, Recipe r, String name) {
        return QuantPlanner.plan(s.tensors(), r, s.facts()).stream().filter(p -> p.input().name().equals(name))
                .findFirst().orElseThrow();
    }
}
