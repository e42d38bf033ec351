package dev.panamax.engine.tokenizer;

/** GGUF metadata keys of the tokenizer (llama.cpp conventions) plus Panamax's own. */
public final class TokenizerKeys {
    private TokenizerKeys() {}

    /** "gpt2" (byte-level BPE) or "llama" (SentencePiece, not supported yet). */
    public static final String MODEL = "tokenizer.ggml.model";
    /** Pre-tokenizer name, e.g. "qwen2", "deepseek-r1-qwen", "llama-bpe", "gpt-2". */
    public static final String PRE = "tokenizer.ggml.pre";
    public static final String TOKENS = "tokenizer.ggml.tokens";
    public static final String TOKEN_TYPE = "tokenizer.ggml.token_type";
    public static final String MERGES = "tokenizer.ggml.merges";
    public static final String BOS_ID = "tokenizer.ggml.bos_token_id";
    public static final String EOS_ID = "tokenizer.ggml.eos_token_id";
    public static final String EOT_ID = "tokenizer.ggml.eot_token_id";
    public static final String EOM_ID = "tokenizer.ggml.eom_token_id";
    public static final String PAD_ID = "tokenizer.ggml.padding_token_id";
    public static final String UNK_ID = "tokenizer.ggml.unknown_token_id";
    public static final String ADD_BOS = "tokenizer.ggml.add_bos_token";
    public static final String ADD_EOS = "tokenizer.ggml.add_eos_token";
    public static final String CHAT_TEMPLATE = "tokenizer.chat_template";

    /**
     * Panamax extension: the Unicode normalization applied to text before pre-tokenization,
     * "nfc" or "none". llama.cpp ignores it. When absent, the qwen2 / deepseek-r1-qwen / qwen35
     * pre-tokenizers imply "nfc" (their Hugging Face tokenizers declare an NFC normalizer) and
     * every other one "none".
     */
    public static final String NORMALIZER = "tokenizer.panamax.normalizer";
}
