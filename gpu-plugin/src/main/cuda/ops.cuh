// Element-wise and attention kernels of a transformer layer. Activations are f32 token-major;
// the inputs of the next matrix product are written in the form it reads: int8 quants with
// per-32 scales and per-16 sums (matrix-vector, quantized weights), f16 (matrix-matrix), or
// f32 (matrix-vector, float weights).
#pragma once
#include "common.cuh"

// KV cache / float storage types (ggml ids)
#define ST_F32 0
#define ST_F16 1
#define ST_Q8_0 8

DEV long kv_row_bytes(int type, int n) {
    return type == ST_F32 ? 4L * n : type == ST_F16 ? 2L * n : 34L * (n / 32);
}

// Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
DEV float block_sum(float v, float* scratch /* >= 32 floats */) {
    v = warp_sum(v);
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP, nw = blockDim.x / WARP;
    __syncthreads();  // scratch may still be read by a previous call
    if (lane == 0) scratch[warp] = v;
    __syncthreads();
    float s = lane < nw ? scratch[lane] : 0.f;
    return warp_sum(s);
}

// rmsnorm scale exactly as the CPU computes it: (float) (1.0 / sqrt((double) (ss / n + eps)))
DEV float rms_scale(float ss, int n, float eps) { return (float) (1.0 / sqrt((double) (ss / (float) n + eps))); }

// Quantizes value v of lane `lane` (32 lanes = one block of 32) as the CPU's Q8_0 activations:
// d = amax/127, q = round(v/d) half away from zero; also the d-scaled sums of each 16.
DEV void quant32(float v, int lane, int8_t* q, float* d, float* s) {
    float amax = warp_max(fabsf(v));
    float dd = amax / 127.f;
    float id = dd != 0.f ? 1.f / dd : 0.f;
    int qi = (int) roundf(v * id);
    q[lane] = (int8_t) qi;
    int sum = qi;
    sum += __shfl_xor_sync(FULL_MASK, sum, 8);
    sum += __shfl_xor_sync(FULL_MASK, sum, 4);
    sum += __shfl_xor_sync(FULL_MASK, sum, 2);
    sum += __shfl_xor_sync(FULL_MASK, sum, 1);
    if (lane == 0) {
        *d = dd;
        s[0] = dd * (float) sum;
    }
    if (lane == 16) {
        s[1] = dd * (float) sum;
    }
}

// Writes the outputs of element i (< K) of token t: of (f32), oh (f16); the caller quantizes.
struct ActOut {
    float* f;      // [T][K] or null
    int8_t* q;     // [T][K] or null (then d, s unused)
    float* d;      // [T][K/32]
    float* s;      // [T][K/16]
    uint16_t* h;   // [T][K] or null
};

#define NORM_REGS 16

// Value v of element 32*b + lane of token t's normalized row: stored in the requested forms, and
// quantized with its block of 32 when the block is whole.
DEV void norm_out(float v, int b, int t, int K, float* of, int8_t* oq, float* od, float* os, uint16_t* oh) {
    const int lane = threadIdx.x % WARP;
    const int i = 32 * b + lane;
    if (i < K) {
        if (of != nullptr) of[(long) t * K + i] = v;
        if (oh != nullptr) oh[(long) t * K + i] = f2h(v);
    }
    if (oq != nullptr && 32 * b + 32 <= K) {
        quant32(v, lane, oq + (long) t * K + 32 * b, od + (long) t * (K / 32) + b, os + (long) t * (K / 16) + 2 * b);
    }
}

// y = rmsnorm(x) * w for each token (x rows xs apart), written in the requested forms. Rows of up
// to NORM_REGS * blockDim.x values are read once (x and w kept in registers across the block sum),
// longer ones twice. grid: tokens; block: up to 1024
KERNEL_LB(rmsnorm, 1024, (const float* x, int xs, int K, const float* w, float eps, float* of, int8_t* oq,
                         float* od, float* os, uint16_t* oh)) {
    __shared__ float scratch[32];
    const int t = blockIdx.x;
    const float* xr = x + (long) t * xs;
    const bool held = K <= NORM_REGS * (int) blockDim.x;
    float xv[NORM_REGS], wv[NORM_REGS];
    float ss = 0.f;
    if (held) {
#pragma unroll
        for (int k = 0; k < NORM_REGS; k++) {
            const int i = threadIdx.x + k * blockDim.x;
            xv[k] = i < K ? xr[i] : 0.f;
            wv[k] = i < K ? w[i] : 0.f;
            ss += xv[k] * xv[k];
        }
    } else {
        for (int i = threadIdx.x; i < K; i += blockDim.x) {
            ss += xr[i] * xr[i];
        }
    }
    ss = block_sum(ss, scratch);
    const float scale = rms_scale(ss, K, eps);
    const int warp = threadIdx.x / WARP, nw = blockDim.x / WARP;
    if (held) {
        // block of 32 number warp + k*nw holds element threadIdx.x + k*blockDim.x: register k
#pragma unroll
        for (int k = 0; k < NORM_REGS; k++) {
            const int b = warp + k * nw;
            if (32 * b >= K) break;  // the same for the whole warp
            norm_out(xv[k] * scale * wv[k], b, t, K, of, oq, od, os, oh);
        }
    } else {
        for (int b = warp; b < (K + 31) / 32; b += nw) {
            const int i = 32 * b + threadIdx.x % WARP;
            norm_out(i < K ? xr[i] * scale * w[i] : 0.f, b, t, K, of, oq, od, os, oh);
        }
    }
}

// rmsnorm for a few tokens (decode): block (b, t) writes values [256 b, 256 b + 256) of token t,
// each block summing the squares of the whole row itself (a row of 5120 floats is 20 KB from L2),
// so the row is spread over the device and no block waits for another; every block sums in the
// same order, so all use the same scale. grid: (ceil(K / 256), tokens); block: 256
KERNEL_LB(rmsnorm_split, 256, (const float* x, int xs, int K, const float* w, float eps, float* of, int8_t* oq,
                               float* od, float* os, uint16_t* oh)) {
    allow_dependent_launch();  // launched as a dependent (JcudaGpu): see common.cuh
    grid_dependency_wait();
    __shared__ float scratch[32];
    const int t = blockIdx.y;
    const float* xr = x + (long) t * xs;
    float ss = 0.f;
    if (K % 4 == 0 && ((uintptr_t) xr & 15) == 0) {
        for (int i = 4 * threadIdx.x; i < K; i += 4 * blockDim.x) {
            const float4 v = *(const float4*) (xr + i);
            ss += v.x * v.x + v.y * v.y + v.z * v.z + v.w * v.w;
        }
    } else {
        for (int i = threadIdx.x; i < K; i += blockDim.x) ss += xr[i] * xr[i];
    }
    ss = block_sum(ss, scratch);
    const float scale = rms_scale(ss, K, eps);
    const int b = blockIdx.x * (blockDim.x / WARP) + threadIdx.x / WARP;
    if (32 * b >= K) return;  // the whole warp
    const int i = 32 * b + threadIdx.x % WARP;
    norm_out(i < K ? xr[i] * scale * w[i] : 0.f, b, t, K, of, oq, od, os, oh);
}

// act = silu(g) * u, g and u rows gs apart (gate and up side by side or separate buffers).
// grid: (ceil(F/256), tokens); block: 256 (each warp one group of 32)
KERNEL_LB(swiglu, 256, (const float* g, const float* u, int gs, int F, float* of, int8_t* oq, float* od,
                        float* os, uint16_t* oh)) {
    allow_dependent_launch();  // launched as a dependent (JcudaGpu): see common.cuh
    grid_dependency_wait();
    const int t = blockIdx.y;
    const int b = blockIdx.x * 8 + threadIdx.x / WARP, lane = threadIdx.x % WARP;
    const int i = 32 * b + lane;
    if (32 * b >= F) return;  // whole warp
    float v = 0.f;
    if (i < F) {
        float gv = g[(long) t * gs + i];
        v = gv / (1.f + expf(-gv)) * u[(long) t * gs + i];
        if (of != nullptr) of[(long) t * F + i] = v;
        if (oh != nullptr) oh[(long) t * F + i] = f2h(v);
    }
    if (oq != nullptr && 32 * b + 32 <= F) {
        quant32(v, lane, oq + (long) t * F + 32 * b, od + (long) t * (F / 32) + b, os + (long) t * (F / 16) + 2 * b);
    }
}

// Stores n values of sv (shared) into a cache/storage row of type `type` (Q8_0 needs n % 32 == 0).
DEV void store_row(const float* sv, int n, uint8_t* dst, int type) {
    if (type == ST_F32) {
        for (int i = threadIdx.x; i < n; i += blockDim.x) ((float*) dst)[i] = sv[i];
    } else if (type == ST_F16) {
        for (int i = threadIdx.x; i < n; i += blockDim.x) ((uint16_t*) dst)[i] = f2h(sv[i]);
    } else {
        const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP, nw = blockDim.x / WARP;
        for (int b = warp; b < n / 32; b += nw) {
            float v = sv[32 * b + lane];
            float amax = warp_max(fabsf(v));
            float d = amax / 127.f;
            float id = d != 0.f ? 1.f / d : 0.f;
            uint8_t* blk = dst + 34L * b;
            if (lane == 0) *(uint16_t*) blk = f2h(d);
            blk[2 + lane] = (uint8_t) (int8_t) (int) roundf(v * id);
        }
    }
}

// After the q/k/v projection (biases already added): per-head q/k rmsnorm (qwen3), rope, and the
// keys and values of positions pos..pos+tokens-1 into the cache; q is updated in place.
// qkv rows are qs apart: [q heads x hd | k heads x hd | v heads x vd].
// grid: (heads + 2*kvHeads, tokens); block: 128
KERNEL_LB(qkv_post, 128, (float* qkv, int qs, int heads, int kvHeads, int hd, int vd, const float* qnorm,
                          const float* knorm, float eps, const float* rcos, const float* rsin, int rdims, int neox,
                          const int* pos, uint8_t* kc, uint8_t* vc, int ktype, int vtype)) {
    allow_dependent_launch();  // launched as a dependent (JcudaGpu): see common.cuh
    grid_dependency_wait();
    __shared__ float sv[512];
    __shared__ float scratch[32];
    const int h = blockIdx.x, t = blockIdx.y;
    const int p = *pos + t;
    float* row = qkv + (long) t * qs;
    int kind, n;
    float* vec;
    const float* norm;
    if (h < heads) {
        kind = 0; n = hd; vec = row + h * hd; norm = qnorm;
    } else if (h < heads + kvHeads) {
        kind = 1; n = hd; vec = row + heads * hd + (h - heads) * hd; norm = knorm;
    } else {
        kind = 2; n = vd; vec = row + heads * hd + kvHeads * hd + (h - heads - kvHeads) * vd; norm = nullptr;
    }
    for (int i = threadIdx.x; i < n; i += blockDim.x) sv[i] = vec[i];
    __syncthreads();
    if (norm != nullptr) {
        float ss = 0.f;
        for (int i = threadIdx.x; i < n; i += blockDim.x) ss += sv[i] * sv[i];
        ss = block_sum(ss, scratch);  // synchronizes
        const float scale = rms_scale(ss, n, eps);
        for (int i = threadIdx.x; i < n; i += blockDim.x) sv[i] = sv[i] * scale * norm[i];
        __syncthreads();
    }
    if (kind < 2) {
        const int half = rdims / 2;
        const float* c = rcos + (long) p * half;
        const float* s = rsin + (long) p * half;
        for (int i = threadIdx.x; i < half; i += blockDim.x) {
            const int ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1;
            const float a = sv[ia], b = sv[ib];
            sv[ia] = a * c[i] - b * s[i];
            sv[ib] = a * s[i] + b * c[i];
        }
        __syncthreads();
    }
    if (kind == 0) {
        for (int i = threadIdx.x; i < n; i += blockDim.x) vec[i] = sv[i];
    } else if (kind == 1) {
        const int kh = h - heads;
        store_row(sv, n, kc + ((long) p * kvHeads + kh) * kv_row_bytes(ktype, n), ktype);
    } else {
        const int vh = h - heads - kvHeads;
        store_row(sv, n, vc + ((long) p * kvHeads + vh) * kv_row_bytes(vtype, n), vtype);
    }
}

// dot of the (pre-scaled) query in shared memory with a cached key row
DEV float key_dot(const float* sq, const uint8_t* k, int type, int n) {
    float s = 0.f;
    // unrolled so several loads of the row are in flight (rolled, each waited for the last)
    if (type == ST_F16) {
#pragma unroll 4
        for (int i = 0; i < n; i += 8) {
            uint4 w = *(const uint4*) (k + 2 * i);
            uint32_t ws[4] = {w.x, w.y, w.z, w.w};
#pragma unroll
            for (int j = 0; j < 4; j++) {
                s += sq[i + 2 * j] * h2f((uint16_t) (ws[j] & 0xFFFF)) + sq[i + 2 * j + 1] * h2f((uint16_t) (ws[j] >> 16));
            }
        }
    } else if (type == ST_F32) {
#pragma unroll 4
        for (int i = 0; i < n; i += 4) {
            float4 w = *(const float4*) (k + 4 * i);
            s += sq[i] * w.x + sq[i + 1] * w.y + sq[i + 2] * w.z + sq[i + 3] * w.w;
        }
    } else {
#pragma unroll 2
        for (int b = 0; b < n / 32; b++) {
            const uint8_t* blk = k + 34 * b;
            float bs = 0.f;
            for (int i = 0; i < 32; i += 2) {
                uint32_t two = ld_u16(blk + 2 + i);
                bs += sq[32 * b + i] * (float) (int8_t) (two & 0xFF) + sq[32 * b + i + 1] * (float) (int8_t) (two >> 8);
            }
            s += ld_h(blk) * bs;
        }
    }
    return s;
}

DEV float value_at(const uint8_t* v, int type, int d) {
    if (type == ST_F16) return h2f(((const uint16_t*) v)[d]);
    if (type == ST_F32) return ((const float*) v)[d];
    const uint8_t* blk = v + 34 * (d / 32);
    return ld_h(blk) * (float) (int8_t) blk[2 + d % 32];
}

#define ATT_WARPS 4
#define ATT_MAXV 256

// Causal attention of query head h of token t over positions [0, pos+t], split into `splits`
// ranges (flash-decoding); each block writes its range's (max, sum, unnormalized output) to
// part[((t*heads + h)*splits + s) * (vd + 2)]. Queries are read from q rows qs apart.
// grid: (heads, tokens, splits); block: 128
KERNEL_LB(attention, 128, (const float* q, int qs, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype,
                           int heads, int kvHeads, int hd, int vd, const int* pos, float scale, int splits,
                           float* part)) {
    __shared__ __align__(16) float sq[ATT_MAXV];
    __shared__ float sm[ATT_WARPS], sl[ATT_WARPS];
    __shared__ float sacc[ATT_WARPS][ATT_MAXV];
    const int h = blockIdx.x, t = blockIdx.y, sp = blockIdx.z;
    const int kvh = h / (heads / kvHeads);
    const int n = *pos + t + 1;
    const int chunk = (n + splits - 1) / splits;
    const int p0 = sp * chunk, p1 = min(n, p0 + chunk);
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    for (int i = threadIdx.x; i < hd; i += blockDim.x) sq[i] = q[(long) t * qs + h * hd + i] * scale;
    __syncthreads();
    const long krb = kv_row_bytes(ktype, hd), vrb = kv_row_bytes(vtype, vd);
    float m = -INFINITY, l = 0.f;
    float acc[ATT_MAXV / WARP];
#pragma unroll
    for (int j = 0; j < ATT_MAXV / WARP; j++) acc[j] = 0.f;
    for (int base = p0 + warp * WARP; base < p1; base += ATT_WARPS * WARP) {
        const int p = base + lane;
        const bool valid = p < p1;
        float s = -INFINITY;
        if (valid) s = key_dot(sq, kc + ((long) p * kvHeads + kvh) * krb, ktype, hd);
        const float cmax = warp_max(s);
        const float mnew = fmaxf(m, cmax);
        const float corr = expf(m - mnew);
        const float e = valid ? expf(s - mnew) : 0.f;
        l = l * corr + warp_sum(e);
#pragma unroll
        for (int j = 0; j < ATT_MAXV / WARP; j++) acc[j] *= corr;
        const int cnt = min(WARP, p1 - base);
#pragma unroll 4
        for (int i = 0; i < cnt; i++) {
            const float wi = __shfl_sync(FULL_MASK, e, i);
            const uint8_t* vr = vc + ((long) (base + i) * kvHeads + kvh) * vrb;
#pragma unroll
            for (int j = 0; j < ATT_MAXV / WARP; j++) {
                const int d = lane + WARP * j;
                if (d < vd) acc[j] += wi * value_at(vr, vtype, d);
            }
        }
        m = mnew;
    }
    if (lane == 0) {
        sm[warp] = m;
        sl[warp] = l;
    }
#pragma unroll
    for (int j = 0; j < ATT_MAXV / WARP; j++) {
        const int d = lane + WARP * j;
        if (d < vd) sacc[warp][d] = acc[j];
    }
    __syncthreads();
    float M = -INFINITY;
    for (int w = 0; w < ATT_WARPS; w++) M = fmaxf(M, sm[w]);
    float* out = part + (((long) t * heads + h) * splits + sp) * (vd + 2);
    float f[ATT_WARPS];
    float L = 0.f;
    for (int w = 0; w < ATT_WARPS; w++) {
        f[w] = M == -INFINITY ? 0.f : expf(sm[w] - M);
        L += sl[w] * f[w];
    }
    for (int d = threadIdx.x; d < vd; d += blockDim.x) {
        float o = 0.f;
        for (int w = 0; w < ATT_WARPS; w++) o += sacc[w][d] * f[w];
        out[2 + d] = o;
    }
    if (threadIdx.x == 0) {
        out[0] = M;
        out[1] = L;
    }
}

#define ATT_TQ 16  // query tokens of a block of attention_tiles
#define ATT_TK 8   // keys (and values) per shared-memory tile
#define ATT_LD (ATT_MAXV + 1)  // padded row: the 8 key rows of a tile fall in different banks

// Causal attention of query head h for a tile of ATT_TQ consecutive tokens (prompts): each tile
// of ATT_TK keys and values is read into shared memory once for all the tile's tokens (the
// `attention` kernel reads every key once per token). Thread (r, c) of the score phase computes
// the score of token r and key c, and the 8 threads of a row keep its running max and sum with
// shuffles; in the output phase thread d accumulates column d (and d + 128) of all 16 rows.
// Writes the same (max, sum, unnormalized output) rows as `attention` with one split.
// grid: (heads, ceil(tokens / ATT_TQ)); block: 128
KERNEL_LB(attention_tiles, 128, (const float* q, int qs, const uint8_t* kc, const uint8_t* vc, int ktype,
                                 int vtype, int heads, int kvHeads, int hd, int vd, int tokens, const int* pos,
                                 float scale, float* part)) {
    __shared__ float sq[ATT_TQ][ATT_LD];
    __shared__ float sk[ATT_TK][ATT_LD];
    __shared__ float sv[ATT_TK][ATT_LD];
    __shared__ float sp[ATT_TQ][ATT_TK];
    __shared__ float scorr[ATT_TQ];
    __shared__ float sm[ATT_TQ], sl[ATT_TQ];
    const int h = blockIdx.x, t0 = blockIdx.y * ATT_TQ;
    const int kvh = h / (heads / kvHeads);
    const int pos0 = *pos;
    const int rows = min(ATT_TQ, tokens - t0);
    const int n = pos0 + t0 + rows;  // keys the last row sees
    const long krb = kv_row_bytes(ktype, hd), vrb = kv_row_bytes(vtype, vd);
    const int tid = threadIdx.x;
    for (int i = tid; i < ATT_TQ * hd; i += blockDim.x) {
        const int r = i / hd, d = i % hd;
        sq[r][d] = r < rows ? q[(long) (t0 + r) * qs + h * hd + d] * scale : 0.f;
    }
    const int r = tid / ATT_TK, c = tid % ATT_TK;  // score phase: token r, key c
    float m = -INFINITY, l = 0.f;                  // row r's running max and sum (same in its 8 threads)
    float acc[ATT_TQ][2];
#pragma unroll
    for (int i = 0; i < ATT_TQ; i++) acc[i][0] = acc[i][1] = 0.f;
    for (int k0 = 0; k0 < n; k0 += ATT_TK) {
        __syncthreads();  // the previous tile is no longer read
        for (int i = tid; i < ATT_TK * hd; i += blockDim.x) {
            const int kc_ = i / hd, d = i % hd;
            const int p = k0 + kc_;
            sk[kc_][d] = p < n ? value_at(kc + ((long) p * kvHeads + kvh) * krb, ktype, d) : 0.f;
        }
        for (int i = tid; i < ATT_TK * vd; i += blockDim.x) {
            const int kc_ = i / vd, d = i % vd;
            const int p = k0 + kc_;
            sv[kc_][d] = p < n ? value_at(vc + ((long) p * kvHeads + kvh) * vrb, vtype, d) : 0.f;
        }
        __syncthreads();
        const int p = k0 + c;
        float s = -INFINITY;
        if (r < rows && p <= pos0 + t0 + r) {
            float s4[4] = {0.f, 0.f, 0.f, 0.f};  // four chains: hd is a multiple of 8
            for (int d = 0; d < hd; d += 4) {
#pragma unroll
                for (int u = 0; u < 4; u++) s4[u] += sq[r][d + u] * sk[c][d + u];
            }
            s = (s4[0] + s4[1]) + (s4[2] + s4[3]);
        }
        float mx = s;
#pragma unroll
        for (int o = ATT_TK / 2; o > 0; o >>= 1) mx = fmaxf(mx, __shfl_xor_sync(FULL_MASK, mx, o, ATT_TK));
        const float mnew = fmaxf(m, mx);
        const float e = mnew == -INFINITY ? 0.f : expf(s - mnew);
        const float corr = mnew == -INFINITY ? 1.f : expf(m - mnew);
        float sum = e;
#pragma unroll
        for (int o = ATT_TK / 2; o > 0; o >>= 1) sum += __shfl_xor_sync(FULL_MASK, sum, o, ATT_TK);
        l = l * corr + sum;
        m = mnew;
        sp[r][c] = e;
        if (c == 0) scorr[r] = corr;
        __syncthreads();
#pragma unroll
        for (int j = 0; j < 2; j++) {
            const int d = tid + 128 * j;
            if (d < vd) {
#pragma unroll
                for (int i = 0; i < ATT_TQ; i++) {
                    float o = acc[i][j] * scorr[i];
#pragma unroll
                    for (int k = 0; k < ATT_TK; k++) o += sp[i][k] * sv[k][d];
                    acc[i][j] = o;
                }
            }
        }
    }
    if (c == 0) {
        sm[r] = m;
        sl[r] = l;
    }
    __syncthreads();
    for (int i = 0; i < rows; i++) {
        float* out = part + ((long) (t0 + i) * heads + h) * (vd + 2);
#pragma unroll
        for (int j = 0; j < 2; j++) {
            const int d = tid + 128 * j;
            if (d < vd) out[2 + d] = acc[i][j];
        }
        if (tid == 0) {
            out[0] = sm[i];
            out[1] = sl[i];
        }
    }
}

// Element d of a cache row as an f16 (exact for F16 rows)
DEV uint32_t kv_half(const uint8_t* row, int type, int d) {
    return type == ST_F16 ? ((const uint16_t*) row)[d] : f2h(value_at(row, type, d));
}

// Element d of a Q8_0 cache row as f16 bits (the block's scale loads are shared by unrolled neighbours)
DEV uint32_t q8_half(const uint8_t* row, int d) {
    const uint8_t* blk = row + 34 * (d / 32);
    return f2h(ld_h(blk) * (float) (int8_t) blk[2 + d % 32]);
}

// Element d of rows x and y as an f16 pair (x low), without a type test per element for F16 and
// Q8_0 caches (VT, else the runtime vtype)
template <int VT>
DEV uint32_t value_pair(const uint8_t* x, const uint8_t* y, int vtype, int d) {
    if (VT == ST_F16) return ((const uint16_t*) x)[d] | ((uint32_t) ((const uint16_t*) y)[d] << 16);
    if (VT == ST_Q8_0) return q8_half(x, d) | (q8_half(y, d) << 16);
    return kv_half(x, vtype, d) | (kv_half(y, vtype, d) << 16);
}

// Elements d and d + 1 (d even) of a cache row as an f16 pair, one 32-bit load for F16 rows
DEV uint32_t kv_pair(const uint8_t* row, int type, int d) {
    return type == ST_F16 ? *(const uint32_t*) (row + 2L * d) : kv_half(row, type, d) | (kv_half(row, type, d + 1) << 16);
}

#define ATC_MAXD 128
#define ATC_VLD (ATC_MAXD + 8)  // halves a row of a warp's value tile: rows 16 bytes apart in the banks

// The A fragments of 16 query rows for tc_tile: lane (g, tig) holds rows g (q0, when in0) and
// g + 8 (q8, when in8), columns 2 tig (+1) and 2 tig + 8 (+9) of each 16, scaled; others are 0
DEV void query_fragments(uint32_t (&qa)[ATC_MAXD / 16][4], const float* q0, const float* q8, bool in0, bool in8, int hd,
                         float scale) {
    const int tig = threadIdx.x % 4;
#pragma unroll
    for (int ks = 0; ks < ATC_MAXD / 16; ks++) {
        const int d = ks * 16 + 2 * tig;
        const bool k = ks < hd / 16;
        qa[ks][0] = k && in0 ? pack_h2(q0[d] * scale, q0[d + 1] * scale) : 0u;
        qa[ks][1] = k && in8 ? pack_h2(q8[d] * scale, q8[d + 1] * scale) : 0u;
        qa[ks][2] = k && in0 ? pack_h2(q0[d + 8] * scale, q0[d + 9] * scale) : 0u;
        qa[ks][3] = k && in8 ? pack_h2(q8[d + 8] * scale, q8[d + 9] * scale) : 0u;
    }
}

// One tile of 16 keys [k0, k0 + 16) of a warp's tensor-core attention (attention_tc and
// attention_gqa): S = Q K^T with mma.m16n8k16 (K's B fragments straight from the cache), the
// running max and sum of rows g (m0, l0) and g + 8 (m8, l8) in the 4 lanes that hold them, and
// O += P V reusing S's accumulator layout as P's A fragment (FlashAttention-2's register trick).
// Row g sees the keys below lim0, row g + 8 those below lim8 (0: a row outside the batch); rows
// past n - 1 read row n - 1 (written, masked).
template <int KT, int VT, bool VSMEM>
DEV void tc_tile(const uint32_t (&qa)[ATC_MAXD / 16][4], float (&o)[ATC_MAXD / 8][4], float& m0, float& m8, float& l0,
                 float& l8, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype, int kvHeads, int kvh, int hd,
                 int vd, long krb, long vrb, int n, int k0, int lim0, int lim8, uint16_t* sv) {
    const int lane = threadIdx.x % WARP, g = lane / 4, tig = lane % 4;
    // with VSMEM, F16 values: the tile's 16 rows are loaded now, 16 bytes a lane (their latency overlaps the
    // scores), and reach the B fragments through shared memory and ldmatrix.trans
    // (Q8_0 values: each lane loads two of the tile's 64 blocks of 32 and dequantizes them into the
    // same shared tile)
    constexpr bool smemValues = VSMEM && (VT == ST_F16 || VT == ST_Q8_0);
    constexpr bool q8Values = VSMEM && VT == ST_Q8_0;
    uint4 vrow[smemValues && !q8Values ? 8 : 1];
    uint32_t vq[q8Values ? 2 : 1][8];
    float vsc[2];
    if (smemValues && !q8Values) {
#pragma unroll
        for (int j = 0; j < 8; j++) {
            const int i = lane + WARP * j, key = i / 16, c = i % 16;
            if (c < vd / 8) {
                vrow[j] = *(const uint4*) (vc + ((long) min(k0 + key, n - 1) * kvHeads + kvh) * vrb + 16 * c);
            }
        }
    }
    if (q8Values) {
#pragma unroll
        for (int j = 0; j < 2; j++) {
            const int u = lane + WARP * j, key = u / 4, bl = u % 4;
            if (bl < vd / 32) {
                const uint8_t* blk = vc + ((long) min(k0 + key, n - 1) * kvHeads + kvh) * vrb + 34 * bl;
                vsc[j] = ld_h(blk);
                // 2-aligned 16-bit loads: a wider read around the bytes could pass the cache's end
#pragma unroll
                for (int w = 0; w < 8; w++) vq[j][w] = ld_u32_a2(blk + 2 + 4 * w);
            }
        }
    }
    float s[2][4] = {{0.f, 0.f, 0.f, 0.f}, {0.f, 0.f, 0.f, 0.f}};
#pragma unroll
    for (int nt = 0; nt < 2; nt++) {
        // B = K^T: lane's column is key k0 + 8 nt + g (past n: any written row, masked below)
        const uint8_t* kr = kc + ((long) min(k0 + nt * 8 + g, n - 1) * kvHeads + kvh) * krb;
#pragma unroll
        for (int ks = 0; ks < ATC_MAXD / 16; ks++) {
            if (ks < hd / 16) {
                const int d = ks * 16 + 2 * tig;
                uint32_t b[2];
                if (KT == ST_Q8_0) {  // block ks/2 of the row: f16 d, then 32 int8; values d, d+1 and d+8, d+9
                    const uint8_t* blk = kr + 34 * (ks / 2);
                    const float dk = ld_h(blk);
                    const uint32_t w0 = ld_u16(blk + 2 + 16 * (ks % 2) + 2 * tig);
                    const uint32_t w1 = ld_u16(blk + 2 + 16 * (ks % 2) + 8 + 2 * tig);
                    b[0] = pack_h2(dk * (float) (int8_t) (w0 & 0xFF), dk * (float) (int8_t) (w0 >> 8));
                    b[1] = pack_h2(dk * (float) (int8_t) (w1 & 0xFF), dk * (float) (int8_t) (w1 >> 8));
                } else {
                    b[0] = KT == ST_F16 ? *(const uint32_t*) (kr + 2L * d) : kv_pair(kr, ktype, d);
                    b[1] = KT == ST_F16 ? *(const uint32_t*) (kr + 2L * d + 16) : kv_pair(kr, ktype, d + 8);
                }
                mma_16816(s[nt], qa[ks], b);
            }
        }
    }
    float mx0 = -INFINITY, mx8 = -INFINITY;
#pragma unroll
    for (int nt = 0; nt < 2; nt++) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int p = k0 + nt * 8 + 2 * tig + (e & 1);
            if (p >= (e >= 2 ? lim8 : lim0)) s[nt][e] = -INFINITY;
        }
        mx0 = fmaxf(mx0, fmaxf(s[nt][0], s[nt][1]));
        mx8 = fmaxf(mx8, fmaxf(s[nt][2], s[nt][3]));
    }
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {  // the 4 lanes of a row
        mx0 = fmaxf(mx0, __shfl_xor_sync(FULL_MASK, mx0, off));
        mx8 = fmaxf(mx8, __shfl_xor_sync(FULL_MASK, mx8, off));
    }
    const float n0 = fmaxf(m0, mx0), n8 = fmaxf(m8, mx8);
    const float c0 = n0 == -INFINITY ? 1.f : expf(m0 - n0), c8 = n8 == -INFINITY ? 1.f : expf(m8 - n8);
    float sum0 = 0.f, sum8 = 0.f;
#pragma unroll
    for (int nt = 0; nt < 2; nt++) {
        s[nt][0] = n0 == -INFINITY ? 0.f : expf(s[nt][0] - n0);
        s[nt][1] = n0 == -INFINITY ? 0.f : expf(s[nt][1] - n0);
        s[nt][2] = n8 == -INFINITY ? 0.f : expf(s[nt][2] - n8);
        s[nt][3] = n8 == -INFINITY ? 0.f : expf(s[nt][3] - n8);
        sum0 += s[nt][0] + s[nt][1];
        sum8 += s[nt][2] + s[nt][3];
    }
#pragma unroll
    for (int off = 1; off < 4; off <<= 1) {
        sum0 += __shfl_xor_sync(FULL_MASK, sum0, off);
        sum8 += __shfl_xor_sync(FULL_MASK, sum8, off);
    }
    l0 = l0 * c0 + sum0;
    l8 = l8 * c8 + sum8;
    m0 = n0;
    m8 = n8;
    // P (16 x 16 keys) as an A fragment: S's accumulators are already in that layout
    const uint32_t pa[4] = {pack_h2(s[0][0], s[0][1]), pack_h2(s[0][2], s[0][3]), pack_h2(s[1][0], s[1][1]),
                            pack_h2(s[1][2], s[1][3])};
    if (smemValues) {
        if (q8Values) {
#pragma unroll
            for (int j = 0; j < 2; j++) {
                const int u = lane + WARP * j, key = u / 4, bl = u % 4;
                if (bl < vd / 32) {
#pragma unroll
                    for (int c = 0; c < 4; c++) {  // 8 values a 16-byte store
                        uint32_t h[4];
#pragma unroll
                        for (int w = 0; w < 4; w++) {
                            const uint32_t q = vq[j][2 * c + w / 2] >> (16 * (w % 2));
                            h[w] = pack_h2(vsc[j] * (float) (int8_t) (q & 0xFF), vsc[j] * (float) (int8_t) ((q >> 8) & 0xFF));
                        }
                        *(uint4*) (sv + key * ATC_VLD + 32 * bl + 8 * c) = make_uint4(h[0], h[1], h[2], h[3]);
                    }
                }
            }
        } else {
#pragma unroll
            for (int j = 0; j < 8; j++) {
                const int i = lane + WARP * j, key = i / 16, c = i % 16;
                if (c < vd / 8) *(uint4*) (sv + key * ATC_VLD + 8 * c) = vrow[j];
            }
        }
        __syncwarp();
#pragma unroll
        for (int nt = 0; nt < ATC_MAXD / 8; nt += 2) {
            o[nt][0] *= c0;
            o[nt][1] *= c0;
            o[nt][2] *= c8;
            o[nt][3] *= c8;
            o[nt + 1][0] *= c0;
            o[nt + 1][1] *= c0;
            o[nt + 1][2] *= c8;
            o[nt + 1][3] *= c8;
            if (nt < vd / 8) {  // with vd % 16 == 8, columns vd.. of o[nt + 1] are never written out
                // matrices: keys 0-7 and 8-15 of columns 8 nt.., then of 8 (nt + 1)..
                const int m = lane / 8;
                uint32_t r[4];
                ldmatrix_x4_trans(r, sv + ((m & 1) * 8 + lane % 8) * ATC_VLD + (nt + (m >> 1)) * 8);
                const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
                mma_16816(o[nt], pa, b0);
                mma_16816(o[nt + 1], pa, b1);
            }
        }
        __syncwarp();  // the next tile overwrites sv
        return;
    }
    // B = V: lane's keys are k0 + 2 tig (+1) and k0 + 8 + 2 tig (+1) (past n: P is 0 there)
    const uint8_t* va = vc + ((long) min(k0 + 2 * tig, n - 1) * kvHeads + kvh) * vrb;
    const uint8_t* vb = vc + ((long) min(k0 + 2 * tig + 1, n - 1) * kvHeads + kvh) * vrb;
    const uint8_t* vc8 = vc + ((long) min(k0 + 2 * tig + 8, n - 1) * kvHeads + kvh) * vrb;
    const uint8_t* vd8 = vc + ((long) min(k0 + 2 * tig + 9, n - 1) * kvHeads + kvh) * vrb;
#pragma unroll
    for (int nt = 0; nt < ATC_MAXD / 8; nt++) {
        o[nt][0] *= c0;
        o[nt][1] *= c0;
        o[nt][2] *= c8;
        o[nt][3] *= c8;
        if (nt < vd / 8) {
            const int d = nt * 8 + g;
            const uint32_t b[2] = {value_pair<VT>(va, vb, vtype, d), value_pair<VT>(vc8, vd8, vtype, d)};
            mma_16816(o[nt], pa, b);
        }
    }
}


// Causal attention of query head h for 16 consecutive tokens on tensor cores (prompts): one warp
// computes S = Q K^T for 16 keys at a time with mma.m16n8k16 (Q's fragments stay in registers,
// K's come straight from the cache), keeps each row's running max and sum in the 4 lanes that
// hold it, and reuses S's accumulator layout as the A fragment of O += P V (FlashAttention-2's
// register trick). Needs hd % 16 == 0 and vd % 8 == 0, both at most 128 (else attention_tiles).
// The keys are split into `splits` ranges, one warp each (more warps in flight: each one waits on
// its loads), written as `attention`'s (max, sum, unnormalized output) rows for attention_combine.
// grid: (heads, ceil(tokens / 16), splits); block: 32 (kernel attention_tc below).
// F16 cache rows (KT/VT == ST_F16) load without a type test per element, so the compiler can
// issue a tile's loads together; other types go through kv_pair/kv_half with the runtime type.
template <int KT, int VT>
DEV void attention_tc_body(const float* q, int qs, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype,
                           int heads, int kvHeads, int hd, int vd, int tokens, const int* pos, float scale,
                           int splits, float* part) {
    const int h = blockIdx.x, t0 = blockIdx.y * 16, sp = blockIdx.z;
    const int kvh = h / (heads / kvHeads);
    const int pos0 = *pos;
    const int rows = min(16, tokens - t0);
    const int n = pos0 + t0 + rows;  // keys the last row sees
    const int chunk = (n + 16 * splits - 1) / (16 * splits) * 16;  // this warp's keys: [kb, ke)
    const int kb = sp * chunk, ke = min(n, kb + chunk);
    const long krb = kv_row_bytes(ktype, hd), vrb = kv_row_bytes(vtype, vd);
    const int lane = threadIdx.x % WARP, g = lane / 4, tig = lane % 4;
    const bool in0 = g < rows, in8 = g + 8 < rows;
    const float* q0 = q + (long) (t0 + (in0 ? g : 0)) * qs + h * hd;
    const float* q8 = q + (long) (t0 + (in8 ? g + 8 : 0)) * qs + h * hd;
    uint32_t qa[ATC_MAXD / 16][4];  // A fragments of Q (16 x hd), scaled; rows past the batch are 0
    query_fragments(qa, q0, q8, in0, in8, hd, scale);
    float o[ATC_MAXD / 8][4];  // rows g (0, 1) and g + 8 (2, 3), columns 8 nt + 2 tig (+1)
#pragma unroll
    for (int nt = 0; nt < ATC_MAXD / 8; nt++) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.f;
    float m0 = -INFINITY, m8 = -INFINITY, l0 = 0.f, l8 = 0.f;
    // causal: row r sees keys up to pos0 + t0 + r, and this warp only [kb, ke)
    const int lim0 = in0 ? min(ke, pos0 + t0 + g + 1) : 0, lim8 = in8 ? min(ke, pos0 + t0 + g + 9) : 0;
    for (int k0 = kb; k0 < ke; k0 += 16) {
        tc_tile<KT, VT, false>(qa, o, m0, m8, l0, l8, kc, vc, ktype, vtype, kvHeads, kvh, hd, vd, krb, vrb, n, k0, lim0,
                               lim8, nullptr);
    }
    float* out0 = part + (((long) (t0 + g) * heads + h) * splits + sp) * (vd + 2);
    float* out8 = part + (((long) (t0 + g + 8) * heads + h) * splits + sp) * (vd + 2);
#pragma unroll
    for (int nt = 0; nt < ATC_MAXD / 8; nt++) {
        if (nt < vd / 8) {
            const int d = nt * 8 + 2 * tig;
            if (in0) {
                out0[2 + d] = o[nt][0];
                out0[3 + d] = o[nt][1];
            }
            if (in8) {
                out8[2 + d] = o[nt][2];
                out8[3 + d] = o[nt][3];
            }
        }
    }
    if (tig == 0 && in0) {
        out0[0] = m0;
        out0[1] = l0;
    }
    if (tig == 0 && in8) {
        out8[0] = m8;
        out8[1] = l8;
    }
}

KERNEL_LB(attention_tc, 32, (const float* q, int qs, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype,
                            int heads, int kvHeads, int hd, int vd, int tokens, const int* pos, float scale,
                            int splits, float* part)) {
    if (ktype == ST_F16 && vtype == ST_F16) {
        attention_tc_body<ST_F16, ST_F16>(q, qs, kc, vc, ktype, vtype, heads, kvHeads, hd, vd, tokens, pos, scale, splits,
                                          part);
    } else {
        attention_tc_body<-1, -1>(q, qs, kc, vc, ktype, vtype, heads, kvHeads, hd, vd, tokens, pos, scale, splits, part);
    }
}

// attention_tc over a Q8_0 cache: keys and values dequantized without a type test per element (its
// own kernel, so the F16 one keeps its registers)
KERNEL_LB(attention_tc_q8, 32, (const float* q, int qs, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype,
                               int heads, int kvHeads, int hd, int vd, int tokens, const int* pos, float scale,
                               int splits, float* part)) {
    attention_tc_body<ST_Q8_0, ST_Q8_0>(q, qs, kc, vc, ktype, vtype, heads, kvHeads, hd, vd, tokens, pos, scale, splits,
                                        part);
}

#define AGQ_WARPS 4
#define AGQ_MAXSPLITS 32

// Decode attention (one token) of the G = heads / kvHeads query heads that share kv head kvh, on
// tensor cores: the G heads are the rows of the mma tiles (G <= 16), so every key and value row
// is read once for all of them (attention reads it once per query head). Block b of blockIdx.y
// takes keys [b chunk, (b + 1) chunk), chunk a multiple of 64 with `splits` blocks (at most
// AGQ_MAXSPLITS) covering the context; its 4 warps take every fourth tile of 16 keys and merge in
// shared memory. Blocks past the last key leave at once. With one block holding keys (short
// contexts) it writes the output row itself; else each block writes its (max, sum, unnormalized
// output) rows in attention's part layout and the last one of the kv head to finish (a ticket in
// count[kvh], back to 0 after) merges them. Either way the output goes out as attention_combine
// writes it (f32, int8 with scales and sums; vd % 32 == 0), so no combine launch follows.
// Needs hd % 16 == 0, vd % 32 == 0, both at most 128.
// grid: (kvHeads, splits); block: 128
// sum over blocks s < used of p[s * stride] * f[s] (L2 reads: other blocks wrote p)
DEV float merged_row(const float* p, int stride, const float* f, int used) {
    float v = 0.f;
#pragma unroll 8
    for (int s = 0; s < used; s++) v += __ldcg(p + (long) s * stride) * f[s];
    return v;
}

struct AgqShared {
    union {
        __align__(16) uint16_t v[AGQ_WARPS][16 * ATC_VLD];  // each warp's value tile, then
        float o[AGQ_WARPS][16][ATC_MAXD];                  // each warp's rows, merged at the end
    };
    float m[AGQ_WARPS][16], l[AGQ_WARPS][16];
    float f[16][AGQ_MAXSPLITS];  // per row: the weight of each warp (block merge) or block (last-block merge)
    float rowMax[16], rowSum[16];
    unsigned ticket;
};

// The G rows' outputs v (row r, column d < vd) to of and the int8 form: thread-strided, a warp's 32
// values one quantization block (vd % 32 == 0)
#define AGQ_WRITE_OUT(VALUE)                                                   \
    for (int i = threadIdx.x; i < G * vd; i += blockDim.x) {                   \
        const int r = i / vd, d = i % vd;                                      \
        const float v = (VALUE);                                               \
        const int e = (h0 + r) * vd + d, qb = e / 32;                          \
        of[e] = v;                                                             \
        quant32(v, lane, oq + 32L * qb, od + qb, os + 2 * qb);                 \
    }

template <int KT, int VT>
DEV void attention_gqa_body(const float* q, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype, int heads,
                            int kvHeads, int hd, int vd, const int* pos, float scale, int splits, float* part,
                            unsigned* count, float* of, int8_t* oq, float* od, float* os, AgqShared& sh) {
    const int kvh = blockIdx.x, b = blockIdx.y;
    const int G = heads / kvHeads, h0 = kvh * G;
    const int n = *pos + 1;
    const int chunk = (n + 64 * splits - 1) / (64 * splits) * 64;
    const int used = (n + chunk - 1) / chunk;  // blocks with keys
    if (b >= used) return;
    const int kb = b * chunk, ke = min(n, kb + chunk);
    const long krb = kv_row_bytes(ktype, hd), vrb = kv_row_bytes(vtype, vd);
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP, g = lane / 4, tig = lane % 4;
    const bool in0 = g < G, in8 = g + 8 < G;
    const float* q0 = q + (long) (h0 + (in0 ? g : 0)) * hd;
    const float* q8 = q + (long) (h0 + (in8 ? g + 8 : 0)) * hd;
    uint32_t qa[ATC_MAXD / 16][4];  // A fragments of the G query rows, scaled; rows past G are 0
    query_fragments(qa, q0, q8, in0, in8, hd, scale);
    float o[ATC_MAXD / 8][4];
#pragma unroll
    for (int nt = 0; nt < ATC_MAXD / 8; nt++) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.f;
    float m0 = -INFINITY, m8 = -INFINITY, l0 = 0.f, l8 = 0.f;
    const int lim0 = in0 ? ke : 0, lim8 = in8 ? ke : 0;
    for (int k0 = kb + 16 * warp; k0 < ke; k0 += 16 * AGQ_WARPS) {
        tc_tile<KT, VT, true>(qa, o, m0, m8, l0, l8, kc, vc, ktype, vtype, kvHeads, kvh, hd, vd, krb, vrb, n, k0, lim0,
                              lim8, sh.v[warp]);
    }
    __syncthreads();  // o overlays v
#pragma unroll
    for (int nt = 0; nt < ATC_MAXD / 8; nt++) {
        const int d = nt * 8 + 2 * tig;
        sh.o[warp][g][d] = o[nt][0];
        sh.o[warp][g][d + 1] = o[nt][1];
        sh.o[warp][g + 8][d] = o[nt][2];
        sh.o[warp][g + 8][d + 1] = o[nt][3];
    }
    if (tig == 0) {
        sh.m[warp][g] = m0;
        sh.l[warp][g] = l0;
        sh.m[warp][g + 8] = m8;
        sh.l[warp][g + 8] = l8;
    }
    __syncthreads();
    // the block's rows: each warp's weight exp(m_w - M), then the weighted sums
    if (threadIdx.x < G) {
        const int r = threadIdx.x;
        float M = -INFINITY;
#pragma unroll
        for (int w = 0; w < AGQ_WARPS; w++) M = fmaxf(M, sh.m[w][r]);
        float L = 0.f;
#pragma unroll
        for (int w = 0; w < AGQ_WARPS; w++) {
            const float f = sh.m[w][r] == -INFINITY ? 0.f : expf(sh.m[w][r] - M);
            sh.f[r][w] = f;
            L += sh.l[w][r] * f;
        }
        sh.rowMax[r] = M;
        sh.rowSum[r] = L;
    }
    __syncthreads();
    // AGQ_WARPS == 4 terms
#define AGQ_BLOCK_ROW(r, d) \
    (sh.o[0][r][d] * sh.f[r][0] + sh.o[1][r][d] * sh.f[r][1] + sh.o[2][r][d] * sh.f[r][2] + sh.o[3][r][d] * sh.f[r][3])
    if (used == 1) {  // the only block with keys: the output row directly
        AGQ_WRITE_OUT(AGQ_BLOCK_ROW(r, d) / sh.rowSum[r])
        return;
    }
    for (int i = threadIdx.x; i < G * vd; i += blockDim.x) {
        const int r = i / vd, d = i % vd;
        part[((long) (h0 + r) * splits + b) * (vd + 2) + 2 + d] = AGQ_BLOCK_ROW(r, d);
    }
#undef AGQ_BLOCK_ROW
    if (threadIdx.x < G) {
        float* pr = part + ((long) (h0 + threadIdx.x) * splits + b) * (vd + 2);
        pr[0] = sh.rowMax[threadIdx.x];
        pr[1] = sh.rowSum[threadIdx.x];
    }
    // the last block of this kv head merges all blocks' rows
    __threadfence();
    __syncthreads();
    if (threadIdx.x == 0) sh.ticket = atomicAdd(count + kvh, 1u);
    __syncthreads();
    if (sh.ticket != (unsigned) used - 1) return;
    __threadfence();
    if (threadIdx.x < G) {  // each block's weight exp(m_b - M) for row r, and the row's sum
        const int r = threadIdx.x;
        const float* pp = part + (long) (h0 + r) * splits * (vd + 2);
        float M = -INFINITY;
#pragma unroll 8
        for (int sp = 0; sp < used; sp++) M = fmaxf(M, __ldcg(pp + sp * (vd + 2)));
        float L = 0.f;
#pragma unroll 8
        for (int sp = 0; sp < used; sp++) {
            const float ms = __ldcg(pp + sp * (vd + 2));
            const float f = ms == -INFINITY ? 0.f : expf(ms - M);
            sh.f[r][sp] = f;
            L += __ldcg(pp + sp * (vd + 2) + 1) * f;
        }
        sh.rowSum[r] = L;
    }
    __syncthreads();
    AGQ_WRITE_OUT(merged_row(part + (long) (h0 + r) * splits * (vd + 2) + 2 + d, vd + 2, sh.f[r], used) / sh.rowSum[r])
    if (threadIdx.x == 0) count[kvh] = 0;
}
#undef AGQ_WRITE_OUT

KERNEL_LB(attention_gqa, 128, (const float* q, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype, int heads,
                              int kvHeads, int hd, int vd, const int* pos, float scale, int splits, float* part,
                              unsigned* count, float* of, int8_t* oq, float* od, float* os)) {
    allow_dependent_launch();  // launched as a dependent (JcudaGpu): see common.cuh
    grid_dependency_wait();
    __shared__ AgqShared sh;
    if (ktype == ST_F16 && vtype == ST_F16) {
        attention_gqa_body<ST_F16, ST_F16>(q, kc, vc, ktype, vtype, heads, kvHeads, hd, vd, pos, scale, splits, part,
                                           count, of, oq, od, os, sh);
    } else {
        attention_gqa_body<-1, -1>(q, kc, vc, ktype, vtype, heads, kvHeads, hd, vd, pos, scale, splits, part, count,
                                   of, oq, od, os, sh);
    }
}

// attention_gqa over a Q8_0 cache (its own kernel: the registers a kernel reserves are those of its
// largest path, and the F16 kernel's occupancy matters at short contexts)
KERNEL_LB(attention_gqa_q8, 128, (const float* q, const uint8_t* kc, const uint8_t* vc, int ktype, int vtype,
                                 int heads, int kvHeads, int hd, int vd, const int* pos, float scale, int splits,
                                 float* part, unsigned* count, float* of, int8_t* oq, float* od, float* os)) {
    allow_dependent_launch();  // launched as a dependent (JcudaGpu): see common.cuh
    grid_dependency_wait();
    __shared__ AgqShared sh;
    attention_gqa_body<ST_Q8_0, ST_Q8_0>(q, kc, vc, ktype, vtype, heads, kvHeads, hd, vd, pos, scale, splits, part, count,
                                         of, oq, od, os, sh);
}

// Value d of one head's attention output from its splits' (max, sum, unnormalized output) at pp
// (attention's part layout); 0 for d >= vd.
DEV float merged(const float* pp, int splits, int vd, int d) {
    float M = -INFINITY;
    for (int s = 0; s < splits; s++) M = fmaxf(M, pp[s * (vd + 2)]);
    float L = 0.f, o = 0.f;
    for (int s = 0; s < splits; s++) {
        const float* ps = pp + s * (vd + 2);
        const float f = ps[0] == -INFINITY ? 0.f : expf(ps[0] - M);
        L += ps[1] * f;
        if (d < vd) o += ps[2 + d] * f;
    }
    return d < vd ? o / L : 0.f;
}

// Merges the splits of head h of token t into its vd values of the attention output row
// (heads*vd values), written as f32 (of, required) plus the requested forms; one block per head,
// so a decode step's merge is spread over the device (a block per token took ~30 us on an H100).
// The int8 form needs vd % 32 == 0 (each warp quantizes one block of 32): else
// attention_combine_rows. grid: (heads, tokens); block: vd rounded up to 32 (<= 1024)
KERNEL_LB(attention_combine, 1024, (const float* part, int heads, int vd, int splits, float* of, int8_t* oq,
                                   float* od, float* os, uint16_t* oh)) {
    const int h = blockIdx.x, t = blockIdx.y, d = threadIdx.x;
    const int K = heads * vd;
    const float v = merged(part + ((long) t * heads + h) * splits * (vd + 2), splits, vd, d);
    const long i = (long) t * K + (long) h * vd + d;
    if (d < vd) {
        of[i] = v;
        if (oh != nullptr) oh[i] = f2h(v);
    }
    if (oq != nullptr) {
        const int b = (h * vd) / 32 + d / 32;  // vd % 32 == 0: the warp's 32 values are one block
        quant32(v, d % 32, oq + (long) t * K + 32L * b, od + (long) t * (K / 32) + b, os + (long) t * (K / 16) + 2 * b);
    }
}

// attention_combine for any vd: one block per token merges the whole row, then quantizes it.
// grid: tokens; block: up to 1024
KERNEL_LB(attention_combine_rows, 1024, (const float* part, int heads, int vd, int splits, float* of, int8_t* oq,
                                        float* od, float* os, uint16_t* oh)) {
    const int t = blockIdx.x;
    const int K = heads * vd;
    for (int idx = threadIdx.x; idx < K; idx += blockDim.x) {
        const int h = idx / vd, d = idx % vd;
        const float v = merged(part + ((long) t * heads + h) * splits * (vd + 2), splits, vd, d);
        of[(long) t * K + idx] = v;
        if (oh != nullptr) oh[(long) t * K + idx] = f2h(v);
    }
    if (oq == nullptr) return;
    __syncthreads();
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP, nw = blockDim.x / WARP;
    for (int b = warp; b < K / 32; b += nw) {
        quant32(of[(long) t * K + 32 * b + lane], lane, oq + (long) t * K + 32 * b, od + (long) t * (K / 32) + b,
                os + (long) t * (K / 16) + 2 * b);
    }
}

// Index of the largest value of each row (first on ties). grid: rows; block: 1024
KERNEL_LB(argmax, 1024, (const float* x, int n, int* out)) {
    __shared__ float sv[32];
    __shared__ int si[32];
    const float* r = x + (long) blockIdx.x * n;
    float best = -INFINITY;
    int bi = 0x7fffffff;
    for (int i = threadIdx.x; i < n; i += blockDim.x) {
        const float v = r[i];
        if (v > best) {
            best = v;
            bi = i;
        }
    }
#pragma unroll
    for (int o = 16; o > 0; o >>= 1) {
        const float ov = __shfl_xor_sync(FULL_MASK, best, o);
        const int oi = __shfl_xor_sync(FULL_MASK, bi, o);
        if (ov > best || (ov == best && oi < bi)) {
            best = ov;
            bi = oi;
        }
    }
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP;
    if (lane == 0) {
        sv[warp] = best;
        si[warp] = bi;
    }
    __syncthreads();
    if (warp == 0) {
        const int nw = blockDim.x / WARP;
        best = lane < nw ? sv[lane] : -INFINITY;
        bi = lane < nw ? si[lane] : 0x7fffffff;
#pragma unroll
        for (int o = 16; o > 0; o >>= 1) {
            const float ov = __shfl_xor_sync(FULL_MASK, best, o);
            const int oi = __shfl_xor_sync(FULL_MASK, bi, o);
            if (ov > best || (ov == best && oi < bi)) {
                best = ov;
                bi = oi;
            }
        }
        if (lane == 0) out[blockIdx.x] = bi == 0x7fffffff ? 0 : bi;
    }
}

// f32 -> int8/f16 activation forms of rows of K values (used for inputs that arrive from the host)
// grid: tokens; block: 256
KERNEL_LB(quantize_rows, 256, (const float* x, int xs, int K, int8_t* oq, float* od, float* os, uint16_t* oh)) {
    const int t = blockIdx.x;
    const int warp = threadIdx.x / WARP, lane = threadIdx.x % WARP, nw = blockDim.x / WARP;
    const float* xr = x + (long) t * xs;
    for (int b = warp; b < (K + 31) / 32; b += nw) {
        const int i = 32 * b + lane;
        const float v = i < K ? xr[i] : 0.f;
        if (oh != nullptr && i < K) oh[(long) t * K + i] = f2h(v);
        if (oq != nullptr && 32 * b + 32 <= K) {
            quant32(v, lane, oq + (long) t * K + 32 * b, od + (long) t * (K / 32) + b, os + (long) t * (K / 16) + 2 * b);
        }
    }
}

// The device's read bandwidth, the roofline of the matrix-vector products: reads n16 16-byte words
// (four loads in flight a thread) and writes nothing unless the data xor to a value no caller uses.
KERNEL_LB(read_bandwidth, 256, (const uint4* p, int n16, uint32_t* out)) {
    const int stride = gridDim.x * blockDim.x;
    uint32_t acc = 0;
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    for (; i + 3 * stride < n16; i += 4 * stride) {
        uint4 v[4];
#pragma unroll
        for (int j = 0; j < 4; j++) v[j] = p[i + j * stride];
#pragma unroll
        for (int j = 0; j < 4; j++) acc ^= v[j].x ^ v[j].y ^ v[j].z ^ v[j].w;
    }
    for (; i < n16; i += stride) {
        const uint4 v = p[i];
        acc ^= v.x ^ v.y ^ v.z ^ v.w;
    }
    if (acc == 0x9E3779B9u) {
        out[0] = acc;
    }
}
