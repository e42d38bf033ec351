/**
 * Tokenizers: text to token ids and back, built from GGUF metadata.
 *
 * <ul>
 *   <li>{@link dev.panamax.engine.tokenizer.Tokenizer#fromMetadata} builds a byte-level BPE
 *       tokenizer ({@code tokenizer.ggml.model = "gpt2"}); SentencePiece ("llama") is refused with
 *       an error naming the key.
 *   <li>{@link dev.panamax.engine.tokenizer.PreTokenizer}: the word split chosen by
 *       {@code tokenizer.ggml.pre} (qwen2 / deepseek-r1-qwen, qwen35, llama3 / llama-bpe, gpt-2,
 *       starcoder families), hand-written and linear-time; an unknown name falls back to GPT-2.
 *   <li>Normalization: NFC when {@code tokenizer.panamax.normalizer = "nfc"}, or, without that key,
 *       for the qwen2, deepseek-r1-qwen and qwen35 pre-tokenizers, whose Hugging Face tokenizers
 *       declare it. This matches Hugging Face ids (llama.cpp skips it) and makes
 *       {@code decode(encode(s))} the NFC form of {@code s}.
 *   <li>Added tokens: USER_DEFINED always match in text, CONTROL only with {@code parseSpecial}
 *       (leftmost, longest first), before normalization and BPE, as in Hugging Face.
 *   <li>{@link dev.panamax.engine.tokenizer.Detokenizer} decodes a stream of ids without ever
 *       emitting part of a character.
 *   <li>{@link dev.panamax.engine.tokenizer.HfTokenizerJson} converts a Hugging Face
 *       tokenizer.json (+ tokenizer_config.json) to GGUF tokenizer metadata.
 * </ul>
 *
 * <p>Parity with Hugging Face tokenizers is tested against the real Qwen vocabulary; the reference
 * script is tools/tokenizer/hf_reference.py.
 */
package dev.panamax.engine.tokenizer;
