package dev.panamax.engine.tokenizer;

import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The split of text into words before BPE, chosen by {@code tokenizer.ggml.pre}. Each is a
 * hand-written matcher equivalent to the Hugging Face / llama.cpp regex it names (leftmost
 * alternative wins, greedy with backtracking), running in linear time with no regex engine.
 * {@code \s} is the Unicode White_Space property, {@code \p{L}}, {@code \p{N}}, {@code \p{M}} the
 * general categories of the running JDK.
 */
public enum PreTokenizer {
    /**
     * Qwen2 / DeepSeek-R1-Distill-Qwen:
     * {@code (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+}.
     */
    QWEN2,
    /** Qwen3.5: as QWEN2 with {@code [\p{L}\p{M}]+} words and marks excluded from punctuation runs. */
    QWEN35,
    /** Llama 3: as QWEN2 with {@code \p{N}{1,3}} (numbers in groups of up to three digits). */
    LLAMA3,
    /** GPT-2: {@code 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+}. */
    GPT2,
    /** StarCoder family: every {@code \p{N}} character alone, then GPT2 on the rest. */
    GPT2_DIGITS;

    /** Receives each word as a range {@code [start, end)} of the string being split. */
    @FunctionalInterface
    interface Sink {
        void word(int start, int end);
    }

    /**
     * How a {@code tokenizer.ggml.pre} name resolves: the splitter, whether whole words found in
     * the vocabulary skip the merges (llama.cpp's ignore_merges), and whether NFC is implied.
     * {@code known} is false when the name was missing or unrecognized and GPT2 was chosen.
     */
    public record Resolution(PreTokenizer preTokenizer, boolean known, boolean ignoreMerges, boolean impliesNfc) {}

    private static final Map<String, Resolution> NAMES = new HashMap<>();

    private static void names(PreTokenizer p, boolean ignoreMerges, boolean nfc, String... names) {
        for (String n : names) {
            NAMES.put(n, new Resolution(p, true, ignoreMerges, nfc));
        }
    }

    static {
        names(QWEN2, false, true, "qwen2", "deepseek-r1-qwen");
        names(QWEN2, false, false, "stablelm2", "megrez", "hunyuan", "kormo", "f2llmv2", "grok-2", "solar-open");
        names(QWEN35, false, true, "qwen35");
        names(LLAMA3, true, false, "llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral", "midm-2.0",
                "lfm2");
        names(LLAMA3, false, false, "dbrx", "smaug-bpe", "chatglm-bpe", "glm4");
        names(GPT2, false, false, "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "granite-docling",
                "jina-es", "jina-de", "gigachat", "jina-v2-es", "jina-v2-de", "a.x-4.0", "mellum", "modern-bert",
                "roberta-bpe", "jina-v1-en", "jina-v2-code", "default");
        names(GPT2_DIGITS, false, false, "starcoder", "refact", "command-r", "smollm", "codeshell", "exaone",
                "minerva");
    }

    /**
     * Resolves a {@code tokenizer.ggml.pre} value. A missing or unknown name falls back to GPT2 (the
     * original byte-level BPE split) with {@code known == false}; it does not fail and prints nothing.
     */
    public static Resolution resolve(Optional<String> name) {
        Resolution r = name.map(NAMES::get).orElse(null);
        return r != null ? r : new Resolution(GPT2, false, false, false);
    }

    // ---- character classes ----

    static final int L = 1;
    static final int N = 2;
    static final int WS = 4;
    static final int M = 8;
    static final int CRLF = 16;

    private static final byte[] BMP = new byte[0x10000];

    static {
        for (int c = 0; c < 0x10000; c++) {
            BMP[c] = (byte) computeClass(c);
        }
    }

    private static int computeClass(int cp) {
        int k = switch (Character.getType(cp)) {
            case Character.UPPERCASE_LETTER, Character.LOWERCASE_LETTER, Character.TITLECASE_LETTER,
                    Character.MODIFIER_LETTER, Character.OTHER_LETTER -> L;
            case Character.DECIMAL_DIGIT_NUMBER, Character.LETTER_NUMBER, Character.OTHER_NUMBER -> N;
            case Character.NON_SPACING_MARK, Character.ENCLOSING_MARK, Character.COMBINING_SPACING_MARK -> M;
            default -> 0;
        };
        if ((cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680
                || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F
                || cp == 0x205F || cp == 0x3000) {
            k |= WS;
        }
        if (cp == '\r' || cp == '\n') {
            k |= CRLF;
        }
        return k;
    }

    static int classOf(int cp) {
        return cp < 0x10000 ? BMP[cp] : computeClass(cp);
    }

    /** The code point at {@code i}, not pairing a high surrogate with a char at or past {@code to}. */
    private static int cpAt(String s, int i, int to) {
        char c = s.charAt(i);
        if (Character.isHighSurrogate(c) && i + 1 < to) {
            char d = s.charAt(i + 1);
            if (Character.isLowSurrogate(d)) {
                return Character.toCodePoint(c, d);
            }
        }
        return c;
    }

    /** End of the run starting at {@code i} of code points whose class intersects {@code mask}. */
    private static int run(String s, int i, int to, int mask) {
        while (i < to) {
            int c = cpAt(s, i, to);
            if ((classOf(c) & mask) == 0) {
                break;
            }
            i += Character.charCount(c);
        }
        return i;
    }

    /** End of the run starting at {@code i} of code points whose class avoids {@code mask}. */
    private static int runNot(String s, int i, int to, int mask) {
        while (i < to) {
            int c = cpAt(s, i, to);
            if ((classOf(c) & mask) != 0) {
                break;
            }
            i += Character.charCount(c);
        }
        return i;
    }

    /** After an apostrophe at {@code i - 1}: the end of 's 't 're 've 'm 'll 'd, or -1. */
    private static int contraction(String s, int i, int to, boolean ignoreCase) {
        char a = s.charAt(i);
        if (ignoreCase && a >= 'A' && a <= 'Z') {
            a += 32;
        }
        if (a == 's' || a == 't' || a == 'm' || a == 'd') {
            return i + 1;
        }
        if (i + 1 < to) {
            char b = s.charAt(i + 1);
            if (ignoreCase && b >= 'A' && b <= 'Z') {
                b += 32;
            }
            if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) {
                return i + 2;
            }
        }
        return -1;
    }

    /**
     * The whitespace alternatives shared by all patterns, at a whitespace character {@code pos}:
     * {@code \s*[\r\n]+} (when {@code newlines}), then {@code \s+(?!\S)}, then {@code \s+}.
     */
    private static int whitespace(String s, int pos, int to, boolean newlines) {
        int j = pos;
        int lastNewline = -1;
        int lastStart = pos;
        while (j < to) {
            int c = cpAt(s, j, to);
            int k = classOf(c);
            if ((k & WS) == 0) {
                break;
            }
            if ((k & CRLF) != 0) {
                lastNewline = j;
            }
            lastStart = j;
            j += Character.charCount(c);
        }
        if (newlines && lastNewline >= 0) {
            return lastNewline + 1;
        }
        if (j == to || lastStart == pos) {
            return j;
        }
        return lastStart;
    }

    /** Splits {@code s[from, to)} into words, in order, covering every character. */
    void split(String s, int from, int to, Sink sink) {
        switch (this) {
            case QWEN2 -> splitQwen(s, from, to, 1, false, sink);
            case QWEN35 -> splitQwen(s, from, to, 1, true, sink);
            case LLAMA3 -> splitQwen(s, from, to, 3, false, sink);
            case GPT2 -> splitGpt2(s, from, to, sink);
            case GPT2_DIGITS -> splitDigitsThenGpt2(s, from, to, sink);
        }
    }

    private static void splitQwen(String s, int from, int to, int maxDigits, boolean marks, Sink sink) {
        final int word = marks ? (L | M) : L;
        final int notPunct = marks ? (WS | L | N | M) : (WS | L | N);
        int pos = from;
        while (pos < to) {
            int c = cpAt(s, pos, to);
            int k = classOf(c);
            int n1 = pos + Character.charCount(c);
            int end;
            if (c == '\'' && n1 < to && (end = contraction(s, n1, to, true)) > 0) {
                // (?i:'s|'t|'re|'ve|'m|'ll|'d)
            } else if ((k & word) != 0) {
                end = run(s, n1, to, word); // \p{L}+ without the optional prefix
            } else if ((k & (CRLF | L | N)) == 0 && n1 < to && (classOf(cpAt(s, n1, to)) & word) != 0) {
                end = run(s, n1, to, word); // [^\r\n\p{L}\p{N}]\p{L}+
            } else if ((k & N) != 0) {
                end = n1;
                for (int count = 1; count < maxDigits && end < to; count++) {
                    int d = cpAt(s, end, to);
                    if ((classOf(d) & N) == 0) {
                        break;
                    }
                    end += Character.charCount(d);
                }
            } else {
                int p = pos;
                int kp = k;
                if (c == ' ' && n1 < to) {
                    int k2 = classOf(cpAt(s, n1, to));
                    if ((k2 & notPunct) == 0) {
                        p = n1;
                        kp = k2;
                    }
                }
                if ((kp & notPunct) == 0) {
                    // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
                    end = runNot(s, p, to, notPunct);
                    while (end < to && (s.charAt(end) == '\r' || s.charAt(end) == '\n')) {
                        end++;
                    }
                } else {
                    end = whitespace(s, pos, to, true);
                }
            }
            sink.word(pos, end);
            pos = end;
        }
    }

    private static void splitGpt2(String s, int from, int to, Sink sink) {
        int pos = from;
        while (pos < to) {
            int c = cpAt(s, pos, to);
            int n1 = pos + Character.charCount(c);
            int end;
            if (c == '\'' && n1 < to && (end = contraction(s, n1, to, false)) > 0) {
                // 's|'t|'re|'ve|'m|'ll|'d
            } else {
                int p = pos;
                int kp = classOf(c);
                if (c == ' ' && n1 < to) {
                    int k2 = classOf(cpAt(s, n1, to));
                    if ((k2 & WS) == 0) {
                        p = n1;
                        kp = k2;
                    }
                }
                int pc = cpAt(s, p, to);
                int pn = p + Character.charCount(pc);
                if ((kp & L) != 0) {
                    end = run(s, pn, to, L);
                } else if ((kp & N) != 0) {
                    end = run(s, pn, to, N);
                } else if ((kp & WS) == 0) {
                    end = runNot(s, pn, to, WS | L | N);
                } else {
                    end = whitespace(s, pos, to, false);
                }
            }
            sink.word(pos, end);
            pos = end;
        }
    }

    private static void splitDigitsThenGpt2(String s, int from, int to, Sink sink) {
        int pos = from;
        while (pos < to) {
            int c = cpAt(s, pos, to);
            if ((classOf(c) & N) != 0) {
                int end = pos + Character.charCount(c);
                sink.word(pos, end);
                pos = end;
            } else {
                int end = runNot(s, pos, to, N);
                splitGpt2(s, pos, end, sink);
                pos = end;
            }
        }
    }
}
