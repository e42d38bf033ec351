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


// a * (b - 128) + m for the four bytes b of `biased` (quants + 128), as two words of packed halves,
// in half arithmetic. A byte permute makes the halves 1024 + b (exponent byte 0x64: the integers
// of [1024, 2048) are exact) and subtracting 1152 leaves q = b - 128 exactly. A K-quant's scale
// d * sc is not a half (rounded to one, it put one relative error of up to 2^-11 on all 16 weights
// of a unit), so it goes in as two halves, hi + lo to 22 bits: q * lo + m, then q * hi + that,
// rounded once more. Against the exact weights this is as close as rounding each float weight to
// a half (the offset m's own rounding aside, a 2^-12 of it shared by the unit's weights). Two words
// in 8 instructions where converting four floats and packing their products took about 14: the
// matrix kernels decode every weight of a prompt batch, and decoding is what kept Q3_K's and
// Q6_K's below the other types'.
struct HalfScale {
    uint32_t hi, lo, m;  // each twice in a word
};

DEV HalfScale half_scale(float a, float m) {
    const uint16_t hi = f2h(a);
    return HalfScale{hi * 0x10001u, f2h(a - h2f(hi)) * 0x10001u, f2h(m) * 0x10001u};
}

DEV void to_halves(uint32_t biased, const HalfScale& s, uint32_t& lo, uint32_t& hi) {
    const uint32_t bias = 0x64806480u;  // 1152, twice
    const uint32_t q0 = hsub2(__byte_perm(biased, 0x64646464u, 0x5140u), bias);
    const uint32_t q1 = hsub2(__byte_perm(biased, 0x64646464u, 0x5342u), bias);
    lo = hfma2(q0, s.hi, hfma2(q0, s.lo, s.m));
    hi = hfma2(q1, s.hi, hfma2(q1, s.lo, s.m));
}

// 16 weights of a row starting at value e (e % 16 == 0) in two steps: fetch (the loads, issued a
// step ahead) and decode (to 8 words of packed halves). Each thread reads its own row, so every
// load instruction of a warp is 16 rows' separate requests: the types' fetch<true> reads runs at
// 2-byte-aligned addresses as the two aligned 16-byte chunks around them (ld16_a2_wide), not as
// five 4-byte words. e is unsigned: the compiler then knows no index derived from it is negative,
// and the types' divisions and remainders by powers of two become shifts and masks (signed ones
// cost three or four instructions each).
template <class T> struct Tile {
    typedef Raw R;
    DEV R fetch(const uint8_t* row, unsigned e) {
        return T::template fetch<true>(row + (long) (e / T::QK) * T::BB, (e % T::QK) / 16);
    }
    DEV void decode(const R& r, unsigned e, uint32_t (&h)[8]) {
        Unit u = T::decode(r, (e % T::QK) / 16);
        const HalfScale hs = half_scale(u.a, u.m);
#pragma unroll
        for (int i = 0; i < 4; i++) to_halves(u.q[i] ^ 0x80808080u, hs, h[2 * i], h[2 * i + 1]);
    }
};
template <> struct Tile<TF16> {
    struct R { uint4 a, b; };
    DEV R fetch(const uint8_t* row, int e) {
        R r;
        r.a = ((const uint4*) (row + 2 * e))[0];
        r.b = ((const uint4*) (row + 2 * e))[1];
        return r;
    }
    DEV void decode(const R& r, int, uint32_t (&h)[8]) {
        h[0] = r.a.x; h[1] = r.a.y; h[2] = r.a.z; h[3] = r.a.w; h[4] = r.b.x; h[5] = r.b.y; h[6] = r.b.z; h[7] = r.b.w;
    }
};
template <> struct Tile<TBF16> {
    struct R { uint4 a, b; };
    DEV R fetch(const uint8_t* row, int e) {
        R r;
        r.a = ((const uint4*) (row + 2 * e))[0];
        r.b = ((const uint4*) (row + 2 * e))[1];
        return r;
    }
    DEV void decode(const R& r, int, uint32_t (&h)[8]) {
        uint32_t w[8] = {r.a.x, r.a.y, r.a.z, r.a.w, r.b.x, r.b.y, r.b.z, r.b.w};
#pragma unroll
        for (int i = 0; i < 8; i++) h[i] = pack_h2(__uint_as_float(w[i] << 16), __uint_as_float(w[i] & 0xFFFF0000u));
    }
};
template <> struct Tile<TF32> {
    struct R { float4 a, b, c, d; };
    DEV R fetch(const uint8_t* row, int e) {
        const float4* p = (const float4*) (row + 4 * e);
        return R{p[0], p[1], p[2], p[3]};
    }
    DEV void decode(const R& r, int, uint32_t (&h)[8]) {
        h[0] = pack_h2(r.a.x, r.a.y); h[1] = pack_h2(r.a.z, r.a.w); h[2] = pack_h2(r.b.x, r.b.y); h[3] = pack_h2(r.b.z, r.b.w);
        h[4] = pack_h2(r.c.x, r.c.y); h[5] = pack_h2(r.c.z, r.c.w); h[6] = pack_h2(r.d.x, r.d.y); h[7] = pack_h2(r.d.z, r.d.w);
    }
};

template <class T> DEV long row_bytes(int K) { return (long) (K / T::QK) * T::BB; }

template <class T, int BN>
DEV void matmul_tc(const uint8_t* __restrict__ W, int rows, int K, const uint16_t* __restrict__ X, int tokens,
                   float* __restrict__ y, int ys, const float* __restrict__ bias, int acc) {
    constexpr int WN = BN / 2;          // tokens per warp
    constexpr int NI = WN / 8;          // n8 tiles per warp
    constexpr int XC = BN * 4 / 256;    // 16-byte chunks of X per thread per step
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

    // this thread decodes 16 weights of row r (half `half` of each 32-value step) and copies XC chunks of X
    const int r = tid / 2, half = tid % 2;
    const bool rowOk = r0 + r < rows;
    const uint8_t* wrow = W + (long) min(r0 + r, rows - 1) * rb;  // clamped: loads stay in bounds
    typename Tile<T>::R raw;
    uint4 xr[XC];
    auto fetch = [&](int kt) {
        raw = Tile<T>::fetch(wrow, kt * MM_BK + 16 * half);
#pragma unroll
        for (int j = 0; j < XC; j++) {
            const int i = tid + 256 * j, n = i / 4, ch = i % 4;
            xr[j] = n0 + n < tokens ? *(const uint4*) (X + (long) (n0 + n) * K + kt * MM_BK + 8 * ch) : uint4{0, 0, 0, 0};
        }
    };
    auto stage = [&](int kt, int buf) {  // the fetched step into shared buffer buf
        uint32_t h[8];
        Tile<T>::decode(raw, kt * MM_BK + 16 * half, h);
        uint4* dst = (uint4*) &sW[buf][r * MM_LD + 16 * half];
        dst[0] = rowOk ? uint4{h[0], h[1], h[2], h[3]} : uint4{0, 0, 0, 0};
        dst[1] = rowOk ? uint4{h[4], h[5], h[6], h[7]} : uint4{0, 0, 0, 0};
#pragma unroll
        for (int j = 0; j < XC; j++) {
            const int i = tid + 256 * j, n = i / 4, ch = i % 4;
            *(uint4*) &sX[buf][n * MM_LD + 8 * ch] = xr[j];
        }
    };
    auto multiply = [&](int buf) {
#pragma unroll
        for (int kk = 0; kk < MM_BK; kk += 16) {
            uint32_t a[2][4];
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                ldmatrix_x4(a[mi], &sW[buf][(wm * 32 + mi * 16 + lane % 16) * MM_LD + kk + (lane / 16) * 8]);
            }
#pragma unroll
            for (int nj = 0; nj < NI; nj += 2) {
                uint32_t b4[4];
                ldmatrix_x4(b4, &sX[buf][(wn * WN + nj * 8 + (lane / 16) * 8 + lane % 8) * MM_LD + kk
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
    };
    // Software pipeline, one barrier a step: while the warps multiply step kt from one buffer,
    // each thread decodes step kt+1 (loaded during the previous step) into the other and loads
    // step kt+2, so the tensor cores and the decoding arithmetic work at the same time. The
    // barrier that ends step kt-1 is what frees the other buffer.
    const int nk = K / MM_BK;
    fetch(0);
    stage(0, 0);
    fetch(min(1, nk - 1));
    __syncthreads();
    for (int kt = 0; kt + 1 < nk; kt++) {
        stage(kt + 1, (kt + 1) & 1);
        fetch(min(kt + 2, nk - 1));  // the last one repeats a step: cheaper than a branch that splits the loop body
        multiply(kt & 1);
        __syncthreads();
    }
    multiply((nk - 1) & 1);
#pragma unroll
    for (int mi = 0; mi < 2; mi++) {
#pragma unroll
        for (int ni = 0; ni < NI; ni++) {
#pragma unroll
            for (int q = 0; q < 4; q++) {
                const int row = r0 + wm * 32 + mi * 16 + lane / 4 + 8 * (q / 2);
                const int n = n0 + wn * WN + ni * 8 + 2 * (lane % 4) + (q % 2);
                if (row < rows && n < tokens) {
                    store_out(y, ys, n, row, c[mi][ni][q], bias, acc);
                }
            }
        }
    }
}
