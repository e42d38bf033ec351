// A small CUDA emulator for testing Panamax's kernels on a CPU (no GPU in CI).
//
// Each thread block runs as blockDim cooperative fibers on one OS thread; blocks run one after
// another, so `__shared__` variables can simply be function statics. Barriers (__syncthreads,
// __syncwarp) and warp collectives (shuffles, ldmatrix, mma) switch fibers. A thread that exits
// while others of its block or warp wait at a barrier, or a barrier nobody can complete, is
// reported as an error (those are hangs or undefined behaviour on a GPU).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <algorithm>
#include <utility>
#include <tuple>

using std::max;
using std::min;

struct dim3 { unsigned x, y, z; };
struct alignas(16) uint4 { uint32_t x, y, z, w; };
struct alignas(16) int4 { int x, y, z, w; };
struct alignas(16) float4 { float x, y, z, w; };
struct alignas(8) uint2 { uint32_t x, y; };
struct alignas(8) int2 { int x, y; };
struct alignas(8) float2 { float x, y; };
inline uint2 make_uint2(uint32_t x, uint32_t y) { return {x, y}; }
inline uint4 make_uint4(uint32_t x, uint32_t y, uint32_t z, uint32_t w) { return {x, y, z, w}; }

extern dim3 emu_threadIdx, emu_blockIdx, emu_blockDim, emu_gridDim;
#define threadIdx emu_threadIdx
#define blockIdx emu_blockIdx
#define blockDim emu_blockDim
#define gridDim emu_gridDim

#define __shared__ static
#define __restrict__ __restrict
#define DEV static inline
#define GLOBAL_CONST const
#define __align__(n) __attribute__((aligned(n)))
#ifndef INFINITY
#define INFINITY __builtin_inff()
#endif

void emu_syncthreads();
void emu_syncwarp();
// the calling lane's bytes [0, n) go to the warp's exchange area; returns the area (32 slots of
// 64 bytes) after all lanes have written; call emu_exchange_done() once read
unsigned char* emu_exchange(const void* mine, int n);
void emu_exchange_done();

inline void __syncthreads() { emu_syncthreads(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu_syncwarp(); }

template <class T> T __shfl_sync(unsigned, T v, int src, int width = 32) {
    static_assert(sizeof(T) <= 64, "shuffle of a large type");
    int lane = threadIdx.x % 32;
    int base = lane - lane % width;
    unsigned char* a = emu_exchange(&v, sizeof(T));
    T r;
    std::memcpy(&r, a + 64 * (base + ((src % width) + width) % width), sizeof(T));
    emu_exchange_done();
    return r;
}
template <class T> T __shfl_xor_sync(unsigned, T v, int mask, int width = 32) {
    int lane = threadIdx.x % 32;
    unsigned char* a = emu_exchange(&v, sizeof(T));
    T r;
    int src = lane ^ mask;
    if (src / width != lane / width) src = lane;
    std::memcpy(&r, a + 64 * src, sizeof(T));
    emu_exchange_done();
    return r;
}
template <class T> T __shfl_down_sync(unsigned, T v, int delta, int width = 32) {
    int lane = threadIdx.x % 32;
    unsigned char* a = emu_exchange(&v, sizeof(T));
    T r;
    int src = lane + delta;
    if (src / width != lane / width) src = lane;
    std::memcpy(&r, a + 64 * src, sizeof(T));
    emu_exchange_done();
    return r;
}

inline float __uint_as_float(uint32_t u) { float f; std::memcpy(&f, &u, 4); return f; }
inline float __int_as_float(int u) { float f; std::memcpy(&f, &u, 4); return f; }
inline uint32_t __float_as_uint(float f) { uint32_t u; std::memcpy(&u, &f, 4); return u; }
inline int __float_as_int(float f) { int u; std::memcpy(&u, &f, 4); return u; }

inline int __dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; i++) {
        c += (int) (int8_t) (a >> (8 * i)) * (int) (int8_t) (b >> (8 * i));
    }
    return c;
}
inline int __dp4a(uint32_t a, uint32_t b, int c) { return __dp4a((int) a, (int) b, c); }
inline int __dp4a(int a, uint32_t b, int c) { return __dp4a(a, (int) b, c); }
inline int __dp4a(uint32_t a, int b, int c) { return __dp4a((int) a, b, c); }

inline uint32_t __byte_perm(uint32_t x, uint32_t y, uint32_t s) {
    uint64_t v = ((uint64_t) y << 32) | x;
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        uint32_t sel = (s >> (4 * i)) & 7;
        r |= (uint32_t) ((v >> (8 * sel)) & 0xFF) << (8 * i);
    }
    return r;
}

inline uint32_t __funnelshift_r(uint32_t lo, uint32_t hi, uint32_t shift) {
    uint64_t v = ((uint64_t) hi << 32) | lo;
    return (uint32_t) (v >> (shift & 31));
}

inline uint32_t __vsub4(uint32_t a, uint32_t b) {
    uint32_t r = 0;
    for (int i = 0; i < 4; i++) {
        r |= (uint32_t) (uint8_t) ((a >> (8 * i)) - (b >> (8 * i))) << (8 * i);
    }
    return r;
}

inline float __expf(float x) { return std::exp(x); }
inline float __fdividef(float a, float b) { return a / b; }
inline float rsqrtf(float x) { return 1.0f / std::sqrt(x); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __ldg(const float* p) { return *p; }
inline float atomicAdd(float* p, float v) { float o = *p; *p = o + v; return o; }
inline int atomicAdd(int* p, int v) { int o = *p; *p = o + v; return o; }
inline unsigned atomicAdd(unsigned* p, unsigned v) { unsigned o = *p; *p = o + v; return o; }
inline void __threadfence() {}  // blocks run one after another
inline float __ldcg(const float* p) { return *p; }

float emu_h2f(uint16_t h);
uint16_t emu_f2h(float f);
uint32_t emu_hsub2(uint32_t a, uint32_t b);
uint32_t emu_hfma2(uint32_t a, uint32_t b, uint32_t c);
void emu_mma_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]);
void emu_ldmatrix_x4(uint32_t (&r)[4], const void* smem_row);
void emu_ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row);

// ---- kernel registry -----------------------------------------------------------------------

typedef void (*emu_invoker)(void* fn, void** params);
void emu_register(const char* name, void* fn, emu_invoker inv);

template <class... A, std::size_t... I>
void emu_call(void (*f)(A...), void** p, std::index_sequence<I...>) {
    f(*(typename std::remove_reference<A>::type*) p[I]...);
}
template <class... A> void emu_invoke(void* fn, void** p) {
    emu_call((void (*)(A...)) fn, p, std::index_sequence_for<A...>{});
}
template <class... A> struct EmuRegistrar {
    EmuRegistrar(const char* name, void (*f)(A...)) { emu_register(name, (void*) f, &emu_invoke<A...>); }
};
template <class... A> EmuRegistrar<A...> emu_registrar(const char* name, void (*f)(A...)) {
    return EmuRegistrar<A...>(name, f);
}

#define KERNEL(name, params)                                             \
    extern "C" void name params;                                         \
    static auto emu_reg_##name = emu_registrar(#name, &name);            \
    extern "C" void name params
#define KERNEL_LB(name, threads, params) KERNEL(name, params)
