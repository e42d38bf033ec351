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

// act = silu(g) * u, g and u rows gs apart (gate and up side by side or separate buffers).
// grid: (ceil(F/256), tokens); block: 256 (each warp one group of 32)
KERNEL_LB(swiglu, 256, (const float* g, const float* u, int gs, int F, float* of, int8_t* oq, float* od,
                        float* os, uint16_t* oh)) {
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
