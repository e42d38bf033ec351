/**
 * CUDA backend found through {@link java.util.ServiceLoader} ({@link dev.panamax.gpu.CudaBackendProvider}):
 * offloads the last layers and the output head of a model to an NVIDIA GPU with JCuda's binding of
 * the driver API (libcuda only). Depends on the engine's backend SPI only.
 *
 * <ul>
 *   <li>{@link dev.panamax.gpu.Gpu}: the device operations used (JCuda in production; a CPU emulator
 *       of the same kernels in tests, so CI checks every kernel and whole offloaded models).
 *   <li>{@link dev.panamax.gpu.CudaLayers}: the layer runner: GGUF blocks uploaded as they are in
 *       the file, KV cache per layer on the device, int8-activation matrix-vector kernels for up to
 *       8 tokens and tensor-core matrix kernels beyond, decode steps replayed as CUDA graphs.
 *   <li>Kernels: src/main/cuda, compiled by gpu-plugin/build-ptx.sh into the committed
 *       {@code panamax.ptx} (compute 8.0+) and {@code panamax.sm_90.cubin} resources.
 *   <li>{@link dev.panamax.gpu.DeviceCheck}: checks and benchmark on a GPU machine (device-check.sh).
 * </ul>
 */
package dev.panamax.gpu;
