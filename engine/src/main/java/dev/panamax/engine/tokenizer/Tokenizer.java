package dev.panamax.engine.tokenizer;

import dev.panamax.gguf.Metadata;
import java.util.Optional;
import java.util.OptionalInt;

/**
 * Text to token ids and back, built from GGUF tokenizer metadata ({@link TokenizerKeys}).
 * Implementations are immutable and thread-safe (the per-word cache is concurrent).
 *
 * <p>Encoding: added tokens are cut out of the text first (leftmost, longest match first):
 * {@link TokenType#USER_DEFINED} tokens always, {@link TokenType#CONTROL} tokens only when
 * {@code parseSpecial} is on (the behaviour of llama.cpp, and of Hugging Face with
 * {@code encode_special_tokens}). Each remaining span is normalized (NFC where the tokenizer
 * declares it), split by the {@link PreTokenizer}, and each word is byte-level BPE encoded.
 *
 * <p>Decoding concatenates the bytes of each token ({@link #tokenBytes}) and decodes them as UTF-8,
 * replacing invalid sequences with U+FFFD; {@link Detokenizer} does the same incrementally.
 */
public sealed interface Tokenizer permits BpeTokenizer {

    /**
     * Builds the tokenizer that GGUF metadata describes. Errors are {@link
     * dev.panamax.gguf.PanamaxException}s naming the offending key: a missing or mistyped key
     * ({@link dev.panamax.gguf.MetadataException}), an unsupported {@code tokenizer.ggml.model}, a
     * merge naming an unknown token, a special token id outside the vocabulary.
     */
    static Tokenizer fromMetadata(Metadata metadata) {
        String model = metadata.getString(TokenizerKeys.MODEL);
        return switch (model) {
            case "gpt2" -> BpeTokenizer.load(metadata);
            case "llama" -> throw new TokenizerException(metadata.source() + ": " + TokenizerKeys.MODEL
                    + " = 'llama' (SentencePiece) is not supported yet; Panamax reads byte-level BPE tokenizers ("
                    + TokenizerKeys.MODEL + " = 'gpt2')");
            default -> throw new TokenizerException(metadata.source() + ": " + TokenizerKeys.MODEL + " = '" + model
                    + "' is not a supported tokenizer model (expected 'gpt2', byte-level BPE)");
        };
    }

    /**
     * Encodes text. {@code addBos} prepends the BOS token (an error when the vocabulary has none;
     * pass {@link #addBos()} to follow the model); {@code parseSpecial} lets control tokens written
     * in the text (e.g. {@code <|im_start|>}) become their ids instead of being spelled out.
     */
    int[] encode(String text, boolean addBos, boolean parseSpecial);

    /** Decodes ids, rendering control tokens as their text. */
    default String decode(int[] ids) {
        return decode(ids, true);
    }

    /** Decodes ids; control and unknown tokens are left out unless {@code renderSpecial}. */
    String decode(int[] ids, boolean renderSpecial);

    /** The bytes this token stands for (a copy); control tokens give their text in UTF-8. */
    byte[] tokenBytes(int id);

    /** A streaming decoder that renders control tokens. */
    default Detokenizer detokenizer() {
        return new Detokenizer(this, true);
    }

    default Detokenizer detokenizer(boolean renderSpecial) {
        return new Detokenizer(this, renderSpecial);
    }

    /** Number of tokens ({@code tokenizer.ggml.tokens} entries). */
    int vocabSize();

    /** The token as stored in the vocabulary (byte-level alphabet for normal tokens, e.g. "Ġthe"). */
    String piece(int id);

    /** The id of a vocabulary piece (exact stored text), if present. */
    OptionalInt tokenId(String piece);

    TokenType tokenType(int id);

    default boolean isControl(int id) {
        return tokenType(id) == TokenType.CONTROL;
    }

    OptionalInt bosId();

    OptionalInt eosId();

    /** {@code tokenizer.ggml.eot_token_id} when the file sets it. */
    OptionalInt eotId();

    OptionalInt padId();

    OptionalInt unknownId();

    /** Whether the model wants a BOS token in front of a prompt ({@code tokenizer.ggml.add_bos_token}). */
    boolean addBos();

    boolean addEos();

    /**
     * Whether generation stops at this token: EOS, EOT, EOM, or a token whose text is a well-known
     * end-of-turn marker ({@code <|im_end|>}, {@code <|endoftext|>}, {@code <|eot_id|>}, ...), as
     * llama.cpp does.
     */
    boolean isEndOfGeneration(int id);

    /** {@code tokenizer.ggml.model}. */
    String model();

    /** {@code tokenizer.ggml.pre} as stored, or empty when missing. */
    Optional<String> preTokenizerName();

    /** The pre-tokenizer in use, and whether the name was recognized (GPT2 is the fallback). */
    PreTokenizer.Resolution preTokenizer();

    /** Whether text is NFC-normalized before pre-tokenization. */
    boolean normalizesNfc();

    Optional<String> chatTemplate();
}
