// Matrix-matrix products for prompt processing (more than 8 tokens), on the tensor cores:
//     y[t*ys + r] = (acc ? y[t*ys + r] : 0) + bias[r] + sum_k W[r][k] * X[t][k]
// X is f16 [tokens][K]. A block of 256 threads computes 128 rows x BN tokens; per K step of 32
// it decodes the weights of that step (one unit of 16 values per thread) into f16 in shared
// memory, copies X's tile, and its 8 warps (4 along rows x 2 along tokens) run
// mma.m16n8k16 from ldmatrix fragments. Two shared buffers: the next step is decoded while the
// current one is multiplied. Needs K % 32 == 0.
#pragma once
#include "quants.cuh"

#define MM_BM 128
#define MM_BK 32
#define MM_LD (MM_BK + 8)  // shared row stride in halves (80 bytes: ldmatrix without bank conflicts)

DEV uint32_t pack_h2(float lo, float hi) { return (uint32_t) f2h(lo) | ((uint32_t) f2h(hi) << 16); }

// 16 weights of row `row` starting at value e (e % 16 == 0), as 8 words of packed halves
template <class T> DEV void tile16(const T*, const uint8_t* row, int e, uint32_t (&h)[8]) {
    Unit u = T::unit(row + (long) (e / T::QK) * T::BB, (e % T::QK) / 16);
#pragma unroll
    for (int i = 0; i < 4; i++) {
        float v[4];
#pragma unroll
        for (int k = 0; k < 4; k++) {
            v[k] = u.a * (float) (int8_t) (u.q[i] >> (8 * k)) + u.m;
        }
        h[2 * i] = pack_h2(v[0], v[1]);
        h[2 * i + 1] = pack_h2(v[2], v[3]);
    }
}
DEV void tile16(const TF16*, const uint8_t* row, int e, uint32_t (&h)[8]) {
    uint4 a = ((const uint4*) (row + 2 * e))[0];
    uint4 b = ((const uint4*) (row + 2 * e))[1];
    h[0] = a.x; h[1] = a.y; h[2] = a.z; h[3] = a.w; h[4] = b.x; h[5] = b.y; h[6] = b.z; h[7] = b.w;
}
DEV void tile16(const TBF16*, const uint8_t* row, int e, uint32_t (&h)[8]) {
    float v[8];
    float8((const TBF16*) nullptr, row, e, v);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = pack_h2(v[2 * i], v[2 * i + 1]);
    float8((const TBF16*) nullptr, row, e + 8, v);
#pragma unroll
    for (int i = 0; i < 4; i++) h[4 + i] = pack_h2(v[2 * i], v[2 * i + 1]);
}
DEV void tile16(const TF32*, const uint8_t* row, int e, uint32_t (&h)[8]) {
    float v[8];
    float8((const TF32*) nullptr, row, e, v);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = pack_h2(v[2 * i], v[2 * i + 1]);
    float8((const TF32*) nullptr, row, e + 8, v);
#pragma unroll
    for (int i = 0; i < 4; i++) h[4 + i] = pack_h2(v[2 * i], v[2 * i + 1]);
}

template <class T> DEV long row_bytes(int K) { return (long) (K / T::QK) * T::BB; }

template <class T, int BN>
DEV void matmul_tc(const uint8_t* __restrict__ W, int rows, int K, const uint16_t* __restrict__ X, int tokens,
                   float* __restrict__ y, int ys, const float* __restrict__ bias, int acc) {
    constexpr int WN = BN / 2;  // tokens per warp
    constexpr int NI = WN / 8;  // n8 tiles per warp
    __shared__ __align__(16) uint16_t sW[2][MM_BM * MM_LD];
    __shared__ __align__(16) uint16_t sX[2][BN * MM_LD];
    const int tid = threadIdx.x;
    const int warp = tid / WARP, lane = tid % WARP;
    const int wm = warp % 4, wn = warp / 4;
    const int r0 = blockIdx.x * MM_BM, n0 = blockIdx.y * BN;
    const long rb = row_bytes<T>(K);
    float c[2][NI][4];
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < NI; ni++)
#pragma unroll
            for (int r = 0; r < 4; r++) c[mi][ni][r] = 0.f;

    const int nk = K / MM_BK;
    for (int kt = -1; kt < nk; kt++) {
        // decode step kt+1 into buffer (kt+1)&1 while step kt (buffer kt&1) is multiplied
        if (kt + 1 < nk) {
            const int buf = (kt + 1) & 1, k0 = (kt + 1) * MM_BK;
            const int r = tid / 2, half = tid % 2;
            uint32_t h[8];
            if (r0 + r < rows) {
                tile16((const T*) nullptr, W + (long) (r0 + r) * rb, k0 + 16 * half, h);
            } else {
#pragma unroll
                for (int i = 0; i < 8; i++) h[i] = 0;
            }
            uint4* dst = (uint4*) &sW[buf][r * MM_LD + 16 * half];
            dst[0] = uint4{h[0], h[1], h[2], h[3]};
            dst[1] = uint4{h[4], h[5], h[6], h[7]};
            for (int i = tid; i < BN * 4; i += 256) {
                const int n = i / 4, ch = i % 4;
                uint4 v = uint4{0, 0, 0, 0};
                if (n0 + n < tokens) {
                    v = *(const uint4*) (X + (long) (n0 + n) * K + k0 + 8 * ch);
                }
                *(uint4*) &sX[buf][n * MM_LD + 8 * ch] = v;
            }
        }
        if (kt >= 0) {
            const int cur = kt & 1;
#pragma unroll
            for (int kk = 0; kk < MM_BK; kk += 16) {
                uint32_t a[2][4];
#pragma unroll
                for (int mi = 0; mi < 2; mi++) {
                    ldmatrix_x4(a[mi], &sW[cur][(wm * 32 + mi * 16 + lane % 16) * MM_LD + kk + (lane / 16) * 8]);
                }
#pragma unroll
                for (int nj = 0; nj < NI; nj += 2) {
                    uint32_t b4[4];
                    ldmatrix_x4(b4, &sX[cur][(wn * WN + nj * 8 + (lane / 16) * 8 + lane % 8) * MM_LD + kk
                                             + ((lane / 8) % 2) * 8]);
                    uint32_t b0[2] = {b4[0], b4[1]};
                    uint32_t b1[2] = {b4[2], b4[3]};
#pragma unroll
                    for (int mi = 0; mi < 2; mi++) {
                        mma_16816(c[mi][nj], a[mi], b0);
                        mma_16816(c[mi][nj + 1], a[mi], b1);
                    }
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int mi = 0; mi < 2; mi++) {
#pragma unroll
        for (int ni = 0; ni < NI; ni++) {
#pragma unroll
            for (int r = 0; r < 4; r++) {
                const int row = r0 + wm * 32 + mi * 16 + lane / 4 + 8 * (r / 2);
                const int n = n0 + wn * WN + ni * 8 + 2 * (lane % 4) + (r % 2);
                if (row < rows && n < tokens) {
                    store_out(y, ys, n, row, c[mi][ni][r], bias, acc);
                }
            }
        }
    }
}
