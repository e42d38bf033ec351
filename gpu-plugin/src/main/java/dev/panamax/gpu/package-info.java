/**
 * CUDA backend found through {@link java.util.ServiceLoader}: offloads layers to an NVIDIA GPU
 * with JCuda's driver API. Depends on the engine's backend SPI only.
 */
package dev.panamax.gpu;
