/**
 * The model runtime: configuration from GGUF metadata, weights bound to mapped tensors, the
 * tokenizer, sampling, the KV cache, generation and the backend SPI that GPU plugins implement.
 */
package dev.panamax.engine;
