// GGUF block decoders. Every type T describes its blocks (T::QK values in T::BB bytes) and
// decodes a "unit" of 16 consecutive values of a block into 16 int8 quants q (packed four to a
// 32-bit word, value i in byte i%4 of word i/4) and two floats with
//     w[i] = a * q[i] + m.
// The matrix-vector kernels take dot products of q with int8 activations (dp4a); the
// matrix-matrix kernels turn the unit into 16 halves for the tensor cores. Layouts are ggml's
// (see ggml-facts.md); T::M is false when m is always 0.
#pragma once
#include "common.cuh"

struct Unit {
    uint32_t q[4];
    float a;
    float m;
};

// IQ4_NL / IQ4_XS non-linear values {-127,-104,-83,-65,-49,-35,-22,-10,1,13,25,38,53,69,89,113}
DEV uint32_t iq4_lookup(uint32_t idx /* four indices 0..15, one per byte */) {
    const uint32_t t0 = 0xBFAD9881u, t1 = 0xF6EADDCFu, t2 = 0x26190D01u, t3 = 0x71594535u;
    uint32_t sel = (idx & 0xFu) | ((idx >> 4) & 0xF0u) | ((idx >> 8) & 0xF00u) | ((idx >> 12) & 0xF000u);
    uint32_t lo = __byte_perm(t0, t1, sel & 0x7777u);
    uint32_t hi = __byte_perm(t2, t3, sel & 0x7777u);
    return __byte_perm(lo, hi, 0x3210u | ((sel & 0x8888u) >> 1));
}

struct TQ8_0 {
    static const int QK = 32, BB = 34;
    static const bool M = false;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        ld16_a2(b + 2 + 16 * u, r.q);
        r.a = ld_h(b);
        r.m = 0.f;
        return r;
    }
};

struct TQ4_0 {
    static const int QK = 32, BB = 18;
    static const bool M = false;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        uint32_t w[4];
        ld16_a2(b + 2, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.q[i] = __vsub4((w[i] >> (4 * u)) & 0x0F0F0F0Fu, 0x08080808u);
        }
        r.a = ld_h(b);
        r.m = 0.f;
        return r;
    }
};

struct TQ4_1 {
    static const int QK = 32, BB = 20;
    static const bool M = true;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        uint32_t w[4];
        ld16_a4(b + 4, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.q[i] = (w[i] >> (4 * u)) & 0x0F0F0F0Fu;
        }
        r.a = ld_h(b);
        r.m = ld_h(b + 2);
        return r;
    }
};

// the fifth bits of 4 consecutive values j0..j0+3 from qh (bit j of qh for value j), as 0x10 per byte
DEV uint32_t q5_high(uint32_t qh, int j0) {
    uint32_t bits = (qh >> j0) & 0xFu;
    // spread bit k of `bits` to bit 4 of byte k
    return ((bits & 1u) << 4) | ((bits & 2u) << 11) | ((bits & 4u) << 18) | ((bits & 8u) << 25);
}

struct TQ5_0 {
    static const int QK = 32, BB = 22;
    static const bool M = false;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        uint32_t w[4];
        uint32_t qh = ld_u32_a2(b + 2);
        ld16_a2(b + 6, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (w[i] >> (4 * u)) & 0x0F0F0F0Fu;
            r.q[i] = __vsub4(lo | q5_high(qh, 16 * u + 4 * i), 0x10101010u);
        }
        r.a = ld_h(b);
        r.m = 0.f;
        return r;
    }
};

struct TQ5_1 {
    static const int QK = 32, BB = 24;
    static const bool M = true;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        uint32_t w[4];
        uint32_t qh = ld_u32(b + 4);
        ld16_a8(b + 8, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (w[i] >> (4 * u)) & 0x0F0F0F0Fu;
            r.q[i] = lo | q5_high(qh, 16 * u + 4 * i);
        }
        r.a = ld_h(b);
        r.m = ld_h(b + 2);
        return r;
    }
};

struct TIQ4_NL {
    static const int QK = 32, BB = 18;
    static const bool M = false;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        uint32_t w[4];
        ld16_a2(b + 2, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.q[i] = iq4_lookup((w[i] >> (4 * u)) & 0x0F0F0F0Fu);
        }
        r.a = ld_h(b);
        r.m = 0.f;
        return r;
    }
};

// K-quants: unit u covers values e in [16u, 16u+16) of the 256-value block.

struct TQ2_K {  // scales[16] @0, qs[64] @16, d @80, dmin @82
    static const int QK = 256, BB = 84;
    static const bool M = true;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        int h = u / 8, j = (u % 8) / 2, l0 = 16 * (u % 2);
        uint32_t w[4];
        ld16_a4(b + 16 + 32 * h + l0, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.q[i] = (w[i] >> (2 * j)) & 0x03030303u;
        }
        uint32_t sc = b[u];
        r.a = ld_h(b + 80) * (float) (sc & 0xF);
        r.m = -ld_h(b + 82) * (float) (sc >> 4);
        return r;
    }
};

struct TQ3_K {  // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
    static const int QK = 256, BB = 110;
    static const bool M = false;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        int h = u / 8, j = (u % 8) / 2, l0 = 16 * (u % 2);
        uint32_t w[4], hm[4];
        ld16_a2(b + 32 + 32 * h + l0, w);
        ld16_a2(b + l0, hm);
        int hbit = 4 * h + j;
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (w[i] >> (2 * j)) & 0x03030303u;
            uint32_t hi = ((hm[i] >> hbit) & 0x01010101u) << 2;
            r.q[i] = __vsub4(lo | hi, 0x04040404u);
        }
        const uint8_t* s = b + 96;
        int low = u < 8 ? (s[u] & 0xF) : (s[u - 8] >> 4);
        int high = (s[8 + u % 4] >> (2 * (u / 4))) & 3;
        r.a = ld_h(b + 108) * (float) ((low | (high << 4)) - 32);
        r.m = 0.f;
        return r;
    }
};

// 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K (12 packed bytes at s)
DEV void scale_min_k4(const uint8_t* s, int j, int& sc, int& mn) {
    if (j < 4) {
        sc = s[j] & 63;
        mn = s[j + 4] & 63;
    } else {
        sc = (s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4);
        mn = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

struct TQ4_K {  // d @0, dmin @2, scales[12] @4, qs[128] @16
    static const int QK = 256, BB = 144;
    static const bool M = true;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        int sb = u / 2, half = u % 2, c = sb / 2, nib = sb % 2;
        uint32_t w[4];
        ld16_a16(b + 16 + 32 * c + 16 * half, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.q[i] = (w[i] >> (4 * nib)) & 0x0F0F0F0Fu;
        }
        int sc, mn;
        scale_min_k4(b + 4, sb, sc, mn);
        r.a = ld_h(b) * (float) sc;
        r.m = -ld_h(b + 2) * (float) mn;
        return r;
    }
};

struct TQ5_K {  // d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
    static const int QK = 256, BB = 176;
    static const bool M = true;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        int sb = u / 2, half = u % 2, c = sb / 2, nib = sb % 2;
        uint32_t w[4], qh[4];
        ld16_a16(b + 48 + 32 * c + 16 * half, w);
        ld16_a16(b + 16 + 16 * half, qh);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (w[i] >> (4 * nib)) & 0x0F0F0F0Fu;
            uint32_t hi = ((qh[i] >> sb) & 0x01010101u) << 4;
            r.q[i] = lo | hi;
        }
        int sc, mn;
        scale_min_k4(b + 4, sb, sc, mn);
        r.a = ld_h(b) * (float) sc;
        r.m = -ld_h(b + 2) * (float) mn;
        return r;
    }
};

struct TQ6_K {  // ql[128] @0, qh[64] @128, scales int8[16] @192, d @208
    static const int QK = 256, BB = 210;
    static const bool M = false;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        int h = u / 8, k = (u % 8) / 2, l0 = 16 * (u % 2);
        uint32_t w[4], qh[4];
        ld16_a2(b + 64 * h + 32 * (k % 2) + l0, w);
        ld16_a2(b + 128 + 32 * h + l0, qh);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (w[i] >> (4 * (k / 2))) & 0x0F0F0F0Fu;
            uint32_t hi = ((qh[i] >> (2 * k)) & 0x03030303u) << 4;
            r.q[i] = __vsub4(lo | hi, 0x20202020u);
        }
        r.a = ld_h(b + 208) * (float) (int8_t) b[192 + u];
        r.m = 0.f;
        return r;
    }
};

struct TIQ4_XS {  // d @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8
    static const int QK = 256, BB = 136;
    static const bool M = false;
    DEV Unit unit(const uint8_t* b, int u) {
        Unit r;
        int ib = u / 2, nib = u % 2;
        uint32_t w[4];
        ld16_a8(b + 8 + 16 * ib, w);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.q[i] = iq4_lookup((w[i] >> (4 * nib)) & 0x0F0F0F0Fu);
        }
        uint32_t sh = ld_u16(b + 2);
        int ls = ((b[4 + ib / 2] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
        r.a = ld_h(b) * (float) (ls - 32);
        r.m = 0.f;
        return r;
    }
};

// Float weights (no units; the float kernels read them directly). QK = values per "block" of 8.
struct TF32 { static const int QK = 8, BB = 32; };
struct TF16 { static const int QK = 8, BB = 16; };
struct TBF16 { static const int QK = 8, BB = 16; };

// 8 consecutive float weights starting at value index e of a row (e % 8 == 0)
DEV void float8(const TF32*, const uint8_t* row, int e, float (&v)[8]) {
    float4 a = ((const float4*) (row + 4 * e))[0];
    float4 b = ((const float4*) (row + 4 * e))[1];
    v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
}
DEV void float8(const TF16*, const uint8_t* row, int e, float (&v)[8]) {
    uint4 a = *(const uint4*) (row + 2 * e);
    uint32_t w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        v[2 * i] = h2f((uint16_t) (w[i] & 0xFFFF));
        v[2 * i + 1] = h2f((uint16_t) (w[i] >> 16));
    }
}
DEV void float8(const TBF16*, const uint8_t* row, int e, float (&v)[8]) {
    uint4 a = *(const uint4*) (row + 2 * e);
    uint32_t w[4] = {a.x, a.y, a.z, a.w};
#pragma unroll
    for (int i = 0; i < 4; i++) {
        v[2 * i] = __uint_as_float(w[i] << 16);
        v[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
    }
}
