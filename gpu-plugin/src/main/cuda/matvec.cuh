// Matrix-vector products for decode (and small batches of up to NT tokens):
//     y[t*ys + r] = (acc ? y[t*ys + r] : 0) + bias[r] + sum_k W[r][k] * x[t][k]
// One warp per weight row; each lane decodes 32 consecutive weights (two units) of a block per
// step, so a warp streams 32 pieces of the row per step with the loads of neighbouring lanes
// falling on neighbouring bytes. Quantized weights meet int8 activations (per 32 values: int8
// quants xq, float scale xd; per 16 values: xs = scale * sum of the quants) through dp4a;
// float weights meet float activations.
#pragma once
#include "quants.cuh"

#define MATVEC_WARPS 4

DEV void store_out(float* y, int ys, int t, int row, float v, const float* bias, int acc) {
    if (bias != nullptr) {
        v += bias[row];
    }
    float* o = y + (long) t * ys + row;
    *o = acc ? *o + v : v;
}

// The warp's partial sums of R rows and NT tokens, summed over the warp and stored by lane 0.
template <int R, int NT>
DEV void store_rows(float (&sum)[R][NT], int nrows, int tokens, int lane, float* y, int ys, int row0,
                    const float* bias, int acc) {
#pragma unroll
    for (int r = 0; r < R; r++) {
        if (R > 1 && r >= nrows) break;
#pragma unroll
        for (int t = 0; t < NT; t++) {
            if (NT > 1 && t >= tokens) break;
            float s = warp_sum(sum[r][t]);
            if (lane == 0) {
                store_out(y, ys, t, row0 + r, s, bias, acc);
            }
        }
    }
}

// The start of every matrix-vector kernel: lets the next kernel launch, asks for the first 4 KiB of
// the warp's rows in L2 (weights, which no kernel writes), then waits for the predecessor.
DEV void matvec_prologue(const uint8_t* rows, long bytes, int lane) {
    allow_dependent_launch();
    for (long o = 128L * lane; o < bytes && o < 4096; o += 128L * WARP) {
        prefetch_l2(rows + o);
    }
    grid_dependency_wait();
}

// Whether a block type decodes strided pieces (T::strided) rather than contiguous units.
template <class T, class = void>
struct is_strided { static const bool value = false; };
template <class T>
struct is_strided<T, decltype((void) T::STRIDED)> { static const bool value = T::STRIDED; };

// Whether matvec_q reads a type's 2-byte-aligned runs with wide loads (T::WIDE_MATVEC, see fetch).
template <class T, class = void>
struct wide_matvec { static const bool value = false; };
template <class T>
struct wide_matvec<T, decltype((void) T::WIDE_MATVEC)> { static const bool value = T::WIDE_MATVEC; };

// The matrix-vector product for types whose bits for 32 values are spread over a 256-value block
// (Q3_K: 2-bit planes and a high-bit mask shared by four 32-value runs): lane slot s of a block
// (64 / V slots) takes V values of each plane j (T::strided<V>), four segments with a scale each
// (no mins), against activations gathered the same way. Otherwise as matvec_q. One token takes
// V = 16: a lane's loads of the scales, qs and hmask serve twice the values of V = 8 (H200, Q3_K
// 16384 x 8192: 1,668 -> 1,803 GB/s at 2 rows a warp; 14B Q4_K_H tg128 188.2/188.4 ->
// 190.3/190.4); 8 tokens' gathered activations fit the registers only at V = 8.
template <class T, int NT, int R, int V>
DEV void matvec_strided(const uint8_t* __restrict__ W, int rows, int K, const int8_t* __restrict__ xq,
                        const float* __restrict__ xd, float* __restrict__ y, int ys,
                        const float* __restrict__ bias, int acc, int tokens) {
    const int row0 = (blockIdx.x * MATVEC_WARPS + threadIdx.x / WARP) * R;
    const int lane = threadIdx.x % WARP;
    static_assert(T::QK == 256, "strided pieces are laid out for 256-value blocks");
    constexpr int P = 64 / V;  // slots a block
    constexpr int BPI = WARP / P;
    const int nb = K / T::QK;
    const long rowBytes = (long) nb * T::BB;
    if (row0 >= rows) {
        allow_dependent_launch();
        return;
    }
    matvec_prologue(W + (long) row0 * rowBytes, (long) min(R, rows - row0) * rowBytes, lane);
    const int slot = lane % P;
    const int h = slot / (P / 2), m = slot % (P / 2);
    const int nrows = min(R, rows - row0);
    float sum[R][NT];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int t = 0; t < NT; t++) sum[r][t] = 0.f;
    for (int b = lane / P; b < nb; b += BPI) {
        uint32_t xw[NT][4][V / 4];
        float4 dx[NT];
#pragma unroll
        for (int t = 0; t < NT; t++) {
            if (NT > 1 && t >= tokens) break;
#pragma unroll
            for (int j = 0; j < 4; j++) {
                const int8_t* xe = xq + (long) t * K + b * 256 + 128 * h + 32 * j + V * m;
                if constexpr (V == 16) {
                    const uint4 v = *(const uint4*) xe;
                    xw[t][j][0] = v.x; xw[t][j][1] = v.y; xw[t][j][2] = v.z; xw[t][j][3] = v.w;
                } else {
                    const uint2 v = *(const uint2*) xe;
                    xw[t][j][0] = v.x; xw[t][j][1] = v.y;
                }
            }
            dx[t] = *(const float4*) (xd + (long) t * (K / 32) + b * 8 + 4 * h);  // the 4 planes' groups of 32
        }
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (R > 1 && r >= nrows) break;
            const uint8_t* blk = W + (long) (row0 + r) * rowBytes + (long) b * T::BB;
            uint32_t q[4][V / 4];
            float a[4];
            T::template strided<V>(blk, slot, q, a);
#pragma unroll
            for (int t = 0; t < NT; t++) {
                if (NT > 1 && t >= tokens) break;
                const float d4[4] = {dx[t].x, dx[t].y, dx[t].z, dx[t].w};
                float v = 0.f;
#pragma unroll
                for (int j = 0; j < 4; j++) {
                    int s = 0;
#pragma unroll
                    for (int k = 0; k < V / 4; k++) s = __dp4a((int) q[j][k], (int) xw[t][j][k], s);
                    v += d4[j] * a[j] * (float) s;
                }
                sum[r][t] += v;
            }
        }
    }
    store_rows<R, NT>(sum, nrows, tokens, lane, y, ys, row0, bias, acc);
}

// R rows per warp: the activations of a step are loaded once for R rows, R rows' weight loads are
// in flight together, and fewer blocks make the last wave of a launch less ragged.
template <class T, int NT, int R>
DEV void matvec_q(const uint8_t* __restrict__ W, int rows, int K, const int8_t* __restrict__ xq,
                  const float* __restrict__ xd, const float* __restrict__ xs, float* __restrict__ y, int ys,
                  const float* __restrict__ bias, int acc, int tokens) {
    if constexpr (is_strided<T>::value) {
        matvec_strided<T, NT, R, NT == 1 ? 16 : 8>(W, rows, K, xq, xd, y, ys, bias, acc, tokens);
        return;
    }
    const int row0 = (blockIdx.x * MATVEC_WARPS + threadIdx.x / WARP) * R;
    const int lane = threadIdx.x % WARP;
    constexpr int P = T::QK / 32;  // pieces of 32 values per block
    constexpr int BPI = WARP / P;  // blocks per warp step
    const int nb = K / T::QK;
    const long rowBytes = (long) nb * T::BB;
    if (row0 >= rows) {
        allow_dependent_launch();
        return;  // the whole warp leaves together; no block barriers follow
    }
    matvec_prologue(W + (long) row0 * rowBytes, (long) min(R, rows - row0) * rowBytes, lane);
    const int piece = lane % P;
    const int nrows = min(R, rows - row0);
    float sum[R][NT];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int t = 0; t < NT; t++) sum[r][t] = 0.f;
    for (int b = lane / P; b < nb; b += BPI) {
        const int e0 = b * T::QK + 32 * piece;
        uint4 xa[NT], xb[NT];
        float dx[NT];
        float2 sx[NT];
#pragma unroll
        for (int t = 0; t < NT; t++) {
            if (NT > 1 && t >= tokens) break;
            const int8_t* xt = xq + (long) t * K + e0;
            xa[t] = *(const uint4*) xt;
            xb[t] = *(const uint4*) (xt + 16);
            dx[t] = xd[(long) t * (K / 32) + e0 / 32];
            if (T::M) sx[t] = *(const float2*) (xs + (long) t * (K / 16) + e0 / 16);
        }
#pragma unroll
        for (int r = 0; r < R; r++) {
            if (R > 1 && r >= nrows) break;
            const uint8_t* blk = W + (long) (row0 + r) * rowBytes + (long) b * T::BB;
            Unit u0 = T::decode(T::template fetch<wide_matvec<T>::value>(blk, 2 * piece), 2 * piece);
            Unit u1 = T::decode(T::template fetch<wide_matvec<T>::value>(blk, 2 * piece + 1), 2 * piece + 1);
#pragma unroll
            for (int t = 0; t < NT; t++) {
                if (NT > 1 && t >= tokens) break;
                int s0 = __dp4a((int) u0.q[0], (int) xa[t].x, 0);
                s0 = __dp4a((int) u0.q[1], (int) xa[t].y, s0);
                s0 = __dp4a((int) u0.q[2], (int) xa[t].z, s0);
                s0 = __dp4a((int) u0.q[3], (int) xa[t].w, s0);
                int s1 = __dp4a((int) u1.q[0], (int) xb[t].x, 0);
                s1 = __dp4a((int) u1.q[1], (int) xb[t].y, s1);
                s1 = __dp4a((int) u1.q[2], (int) xb[t].z, s1);
                s1 = __dp4a((int) u1.q[3], (int) xb[t].w, s1);
                float v = dx[t] * (u0.a * (float) s0 + u1.a * (float) s1);
                if (T::M) v += u0.m * sx[t].x + u1.m * sx[t].y;
                sum[r][t] += v;
            }
        }
    }
    store_rows<R, NT>(sum, nrows, tokens, lane, y, ys, row0, bias, acc);
}

template <class T, int NT>
DEV void matvec_f(const uint8_t* __restrict__ W, int rows, int K, const float* __restrict__ x,
                  float* __restrict__ y, int ys, const float* __restrict__ bias, int acc, int tokens) {
    const int row = blockIdx.x * MATVEC_WARPS + threadIdx.x / WARP;
    const int lane = threadIdx.x % WARP;
    if (row >= rows) {
        allow_dependent_launch();
        return;
    }
    const uint8_t* wr = W + (long) row * (K / 8) * T::BB;
    matvec_prologue(wr, (long) (K / 8) * T::BB, lane);
    float sum[NT];
#pragma unroll
    for (int t = 0; t < NT; t++) {
        sum[t] = 0.f;
    }
    for (int c = lane; c < K / 8; c += WARP) {
        float w[8];
        float8((const T*) nullptr, wr, 8 * c, w);
#pragma unroll
        for (int t = 0; t < NT; t++) {
            if (NT > 1 && t >= tokens) {
                break;
            }
            const float4* xp = (const float4*) (x + (long) t * K + 8 * c);
            float4 a = xp[0];
            float4 b = xp[1];
            sum[t] += w[0] * a.x + w[1] * a.y + w[2] * a.z + w[3] * a.w + w[4] * b.x + w[5] * b.y + w[6] * b.z
                      + w[7] * b.w;
        }
    }
#pragma unroll
    for (int t = 0; t < NT; t++) {
        if (NT > 1 && t >= tokens) {
            break;
        }
        float s = warp_sum(sum[t]);
        if (lane == 0) {
            store_out(y, ys, t, row, s, bias, acc);
        }
    }
}
