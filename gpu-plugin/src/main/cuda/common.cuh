// Panamax CUDA kernels: portability layer.
//
// The kernels are compiled two ways: by nvcc to PTX (the plugin's resource), and by a host C++
// compiler against src/test/cuda/emu.h, a small CUDA emulator (fibers for threads), so that the
// CPU-only CI can run every kernel and the whole offloaded forward pass. Device code therefore
// uses only what this header provides: KERNEL(...) definitions, DEV functions, the warp
// primitives below, and the tensor-core wrappers mma_16816 / ldmatrix_x4.
#pragma once

#ifdef __CUDACC__
#include <cuda_fp16.h>
#include <stdint.h>
#define KERNEL(name, params) extern "C" __global__ void name params
#define KERNEL_LB(name, threads, params) extern "C" __global__ void __launch_bounds__(threads) name params
#define DEV static __device__ __forceinline__
#define GLOBAL_CONST __device__ const
#else
#include "emu.h"
#endif

#define WARP 32
#define FULL_MASK 0xffffffffu

// ---- programmatic dependent launch (sm_90+) -----------------------------------------------
// The decode kernels are launched so that each may start while its predecessor in the stream
// finishes (JcudaGpu: cuLaunchKernelEx with programmatic stream serialization). Such a kernel
// lets its successor launch at once (allow_dependent_launch) and touches nothing its predecessors
// write, or might still read, before grid_dependency_wait returns: that waits for the whole
// predecessor grid and its memory. Reading weights, which nothing writes, may come first. Below
// sm_90 (and on the emulator) these are no-ops and launches are plain.
DEV void allow_dependent_launch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.launch_dependents;");
#endif
}
DEV void grid_dependency_wait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
// Asks for the 128-byte line at p in L2 (weights, ahead of the wait)
DEV void prefetch_l2(const void* p) {
#if defined(__CUDA_ARCH__)
    asm volatile("prefetch.global.L2 [%0];" ::"l"(p));
#endif
}

// ---- scalar conversions -------------------------------------------------------------------

DEV float h2f(uint16_t h) {
#ifdef __CUDA_ARCH__
    return __half2float(__ushort_as_half(h));
#else
    return emu_h2f(h);
#endif
}

DEV uint16_t f2h(float f) {
#ifdef __CUDA_ARCH__
    return __half_as_ushort(__float2half_rn(f));
#else
    return emu_f2h(f);
#endif
}

DEV float bf2f(uint16_t h) { return __uint_as_float(((uint32_t) h) << 16); }

// ---- packed halves (two in a word, the low one first), rounded to nearest even -------------

DEV uint32_t hsub2(uint32_t a, uint32_t b) {
#ifdef __CUDA_ARCH__
    uint32_t d;
    asm("sub.rn.f16x2 %0, %1, %2;" : "=r"(d) : "r"(a), "r"(b));
    return d;
#else
    return emu_hsub2(a, b);
#endif
}

// a * b + c, one rounding
DEV uint32_t hfma2(uint32_t a, uint32_t b, uint32_t c) {
#ifdef __CUDA_ARCH__
    uint32_t d;
    asm("fma.rn.f16x2 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
#else
    return emu_hfma2(a, b, c);
#endif
}

// ---- unaligned little-endian loads (GGUF blocks are only 2-byte aligned for many types) ----

DEV uint32_t ld_u16(const uint8_t* p) { return *(const uint16_t*) p; }
DEV uint32_t ld_u32_a2(const uint8_t* p) {
    const uint16_t* h = (const uint16_t*) p;
    return (uint32_t) h[0] | ((uint32_t) h[1] << 16);
}
DEV uint32_t ld_u32(const uint8_t* p) { return *(const uint32_t*) p; }
DEV float ld_h(const uint8_t* p) { return h2f(*(const uint16_t*) p); }
DEV uint32_t pack_h2(float lo, float hi) { return (uint32_t) f2h(lo) | ((uint32_t) f2h(hi) << 16); }

// four 32-bit words (16 bytes) at an address aligned to 2, 4, 8 or 16 bytes.
// 2-aligned: five aligned words around the bytes, funnel-shifted into place (fewer loads than
// eight 16-bit ones); reads up to 2 bytes before and after, so buffers carry a little padding.
DEV void ld16_a2(const uint8_t* p, uint32_t (&w)[4]) {
    const uint32_t* b = (const uint32_t*) ((uintptr_t) p & ~(uintptr_t) 3);
    const uint32_t sh = ((uint32_t) (uintptr_t) p & 3u) * 8u;
    uint32_t v[5];
#pragma unroll
    for (int i = 0; i < 5; i++) {
        v[i] = b[i];
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        w[i] = __funnelshift_r(v[i], v[i + 1], sh);
    }
}
// The same from the two aligned 16-byte chunks around the bytes: two loads, then the five words
// picked (two selects deep) and funnel-shifted; reads up to 15 bytes before and after (matrices
// on the device have a 64-byte tail). For kernels whose loads are not coalesced across a warp,
// where each load instruction is what costs.
DEV void ld16_a2_wide(const uint8_t* p, uint32_t (&w)[4]) {
    const uint4* b = (const uint4*) ((uintptr_t) p & ~(uintptr_t) 15);
    const uint4 x = b[0], y = b[1];
    const uint32_t o = (uint32_t) (uintptr_t) p & 15u;
    const uint32_t c[8] = {x.x, x.y, x.z, x.w, y.x, y.y, y.z, y.w};
    uint32_t t[6], v[5];
#pragma unroll
    for (int i = 0; i < 6; i++) t[i] = (o & 8u) ? c[i + 2] : c[i];
#pragma unroll
    for (int i = 0; i < 5; i++) v[i] = (o & 4u) ? t[i + 1] : t[i];
    const uint32_t sh = (o & 3u) * 8u;
#pragma unroll
    for (int i = 0; i < 4; i++) w[i] = __funnelshift_r(v[i], v[i + 1], sh);
}
// two 32-bit words (8 bytes) at a 2-aligned address: three aligned words, funnel-shifted; reads up
// to 2 bytes before and after
DEV void ld8_a2(const uint8_t* p, uint32_t (&w)[2]) {
    const uint32_t* b = (const uint32_t*) ((uintptr_t) p & ~(uintptr_t) 3);
    const uint32_t sh = ((uint32_t) (uintptr_t) p & 3u) * 8u;
    uint32_t v0 = b[0], v1 = b[1], v2 = b[2];
    w[0] = __funnelshift_r(v0, v1, sh);
    w[1] = __funnelshift_r(v1, v2, sh);
}
// 14 bytes at a 2-aligned address as four words (bytes 12-13 in the low half of the last): four
// aligned words, funnel-shifted; reads up to 2 bytes past the 14
DEV void ld14_a2(const uint8_t* p, uint32_t (&w)[4]) {
    const uint32_t* b = (const uint32_t*) ((uintptr_t) p & ~(uintptr_t) 3);
    const uint32_t sh = ((uint32_t) (uintptr_t) p & 3u) * 8u;
    uint32_t v[4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
        v[i] = b[i];
    }
#pragma unroll
    for (int i = 0; i < 3; i++) {
        w[i] = __funnelshift_r(v[i], v[i + 1], sh);
    }
    w[3] = v[3] >> sh;
}
DEV void ld16_a4(const uint8_t* p, uint32_t (&w)[4]) {
    const uint32_t* q = (const uint32_t*) p;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        w[i] = q[i];
    }
}
// 16 bytes at an address aligned to ALIGN (2 or 4): wide (ld16_a2_wide, two 16-byte loads) or as
// ALIGN-aligned words (the types' fetch<WIDE>)
template <bool WIDE, int ALIGN>
DEV void ld16x(const uint8_t* p, uint32_t (&w)[4]) {
    static_assert(ALIGN == 2 || ALIGN == 4, "2- or 4-aligned runs");
    if constexpr (WIDE) {
        ld16_a2_wide(p, w);
    } else if constexpr (ALIGN == 4) {
        ld16_a4(p, w);
    } else {
        ld16_a2(p, w);
    }
}
DEV void ld16_a8(const uint8_t* p, uint32_t (&w)[4]) {
    uint2 a = ((const uint2*) p)[0];
    uint2 b = ((const uint2*) p)[1];
    w[0] = a.x; w[1] = a.y; w[2] = b.x; w[3] = b.y;
}
DEV void ld16_a16(const uint8_t* p, uint32_t (&w)[4]) {
    uint4 a = *(const uint4*) p;
    w[0] = a.x; w[1] = a.y; w[2] = a.z; w[3] = a.w;
}

// ---- warp reductions ---------------------------------------------------------------------

DEV float warp_sum(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(FULL_MASK, v, o);
    }
    return v;
}

DEV float warp_max(float v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    }
    return v;
}

DEV int warp_sum_int(int v) {
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        v += __shfl_xor_sync(FULL_MASK, v, o);
    }
    return v;
}

// ---- tensor cores: D(16x8,f32) += A(16x16,f16,row) * B(16x8,f16,col) ---------------------

DEV void mma_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#ifdef __CUDA_ARCH__
    asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 "
                 "{%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, {%0,%1,%2,%3};\n"
                 : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#else
    emu_mma_16816(d, a, b);
#endif
}

// four 8x8 b16 matrices from shared memory; lane L gives the address of row L%8 of matrix L/8
DEV void ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
#ifdef __CUDA_ARCH__
    uint32_t addr = (uint32_t) __cvta_generic_to_shared(smem_row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
#else
    emu_ldmatrix_x4(r, smem_row);
#endif
}

// the same, transposed: lane L gets elements (2 (L%4), L/4) and (2 (L%4) + 1, L/4) of each matrix
// (a B fragment of mma.m16n8k16 from row-major k x n data)
DEV void ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
#ifdef __CUDA_ARCH__
    uint32_t addr = (uint32_t) __cvta_generic_to_shared(smem_row);
    asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0,%1,%2,%3}, [%4];\n"
                 : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
                 : "r"(addr));
#else
    emu_ldmatrix_x4_trans(r, smem_row);
#endif
}
