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

// Each type splits a unit into fetch (the loads: raw words of the block) and decode (register
// math), so kernels can issue the loads of the next step before computing the current one.
// fetch<true> reads 2-byte-aligned runs with fewer, wider loads and more register work
// (ld16_a2_wide), for kernels whose loads are not coalesced across a warp (matmul.cuh).
struct Raw {
    uint32_t w[8];  // quant bytes (and high-bit planes)
    uint32_t x[4];  // scales and other header words
};

#define UNIT_FROM_RAW \
    DEV Unit unit(const uint8_t* b, int u) { return decode(fetch(b, u), u); }

// x - bias in each byte as a signed byte, for bytes x <= 127 + bias (bias <= 128): x + 128 - bias
// stays within its byte and flipping bit 7 takes the 128 off again. Cheaper than __vsub4, and the
// matrix kernels' own flip of bit 7 (Tile::decode) cancels this one.
DEV uint32_t minus_bias(uint32_t x, uint32_t bias) { return (x + (128u - bias) * 0x01010101u) ^ 0x80808080u; }

DEV uint32_t byte_at(uint32_t word, int i) { return (word >> (8 * i)) & 0xFFu; }
DEV float lo_half(uint32_t w) { return h2f((uint16_t) (w & 0xFFFFu)); }
DEV float hi_half(uint32_t w) { return h2f((uint16_t) (w >> 16)); }

struct TQ8_0 {  // d, qs[32]
    static const int QK = 32, BB = 34;
    static const bool M = false;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) {
        Raw r;
        uint32_t w[4];
        ld16x<WIDE, 2>(b + 2 + 16 * u, w);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = w[i];
        r.x[0] = ld_u16(b);
        return r;
    }
    DEV Unit decode(const Raw& r, int) {
        Unit v;
#pragma unroll
        for (int i = 0; i < 4; i++) v.q[i] = r.w[i];
        v.a = lo_half(r.x[0]);
        v.m = 0.f;
        return v;
    }
    UNIT_FROM_RAW
};

struct TQ4_0 {  // d, qs[16]: values 0..15 low nibbles, 16..31 high nibbles
    static const int QK = 32, BB = 18;
    static const bool M = false;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int) {
        Raw r;
        uint32_t w[4];
        ld16x<WIDE, 2>(b + 2, w);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = w[i];
        r.x[0] = ld_u16(b);
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
#pragma unroll
        for (int i = 0; i < 4; i++) v.q[i] = minus_bias((r.w[i] >> (4 * u)) & 0x0F0F0F0Fu, 8);
        v.a = lo_half(r.x[0]);
        v.m = 0.f;
        return v;
    }
    UNIT_FROM_RAW
};

struct TQ4_1 {  // d, m, qs[16]
    static const int QK = 32, BB = 20;
    static const bool M = true;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int) {
        Raw r;
        uint32_t w[4];
        ld16x<WIDE, 4>(b + 4, w);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = w[i];
        r.x[0] = ld_u32(b);
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
#pragma unroll
        for (int i = 0; i < 4; i++) v.q[i] = (r.w[i] >> (4 * u)) & 0x0F0F0F0Fu;
        v.a = lo_half(r.x[0]);
        v.m = hi_half(r.x[0]);
        return v;
    }
    UNIT_FROM_RAW
};

// the fifth bits of 4 consecutive values j0..j0+3 from qh (bit j of qh for value j), as 0x10 per byte
DEV uint32_t q5_high(uint32_t qh, int j0) {
    uint32_t bits = (qh >> j0) & 0xFu;
    // spread bit k of `bits` to bit 4 of byte k
    return ((bits & 1u) << 4) | ((bits & 2u) << 11) | ((bits & 4u) << 18) | ((bits & 8u) << 25);
}

struct TQ5_0 {  // d, qh u32, qs[16]
    static const int QK = 32, BB = 22;
    static const bool M = false;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int) {
        Raw r;
        uint32_t w[4];
        ld16x<WIDE, 2>(b + 6, w);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = w[i];
        r.x[0] = ld_u16(b);
        r.x[1] = ld_u32_a2(b + 2);
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
#pragma unroll
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (r.w[i] >> (4 * u)) & 0x0F0F0F0Fu;
            v.q[i] = minus_bias(lo | q5_high(r.x[1], 16 * u + 4 * i), 16);
        }
        v.a = lo_half(r.x[0]);
        v.m = 0.f;
        return v;
    }
    UNIT_FROM_RAW
};

struct TQ5_1 {  // d, m, qh u32, qs[16]
    static const int QK = 32, BB = 24;
    static const bool M = true;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int) {
        Raw r;
        uint32_t w[4];
        ld16_a8(b + 8, w);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = w[i];
        r.x[0] = ld_u32(b);
        r.x[1] = ld_u32(b + 4);
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
#pragma unroll
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (r.w[i] >> (4 * u)) & 0x0F0F0F0Fu;
            v.q[i] = lo | q5_high(r.x[1], 16 * u + 4 * i);
        }
        v.a = lo_half(r.x[0]);
        v.m = hi_half(r.x[0]);
        return v;
    }
    UNIT_FROM_RAW
};

struct TIQ4_NL {  // d, qs[16] (indices into the non-linear table)
    static const int QK = 32, BB = 18;
    static const bool M = false;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) { return TQ4_0::template fetch<WIDE>(b, u); }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
#pragma unroll
        for (int i = 0; i < 4; i++) v.q[i] = iq4_lookup((r.w[i] >> (4 * u)) & 0x0F0F0F0Fu);
        v.a = lo_half(r.x[0]);
        v.m = 0.f;
        return v;
    }
    UNIT_FROM_RAW
};

// K-quants: unit u covers values e in [16u, 16u+16) of the 256-value block.

struct TQ2_K {  // scales[16] @0, qs[64] @16, d @80, dmin @82
    static const int QK = 256, BB = 84;
    static const bool M = true;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) {
        Raw r;
        int h = u / 8, l0 = 16 * (u % 2);
        uint32_t w[4];
        ld16x<WIDE, 4>(b + 16 + 32 * h + l0, w);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = w[i];
        r.x[0] = b[u];
        r.x[1] = ld_u32(b + 80);
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
        int j = (u % 8) / 2;
#pragma unroll
        for (int i = 0; i < 4; i++) v.q[i] = (r.w[i] >> (2 * j)) & 0x03030303u;
        v.a = lo_half(r.x[1]) * (float) (r.x[0] & 0xF);
        v.m = -hi_half(r.x[1]) * (float) (r.x[0] >> 4);
        return v;
    }
    UNIT_FROM_RAW
};

struct TQ3_K {  // hmask[32] @0, qs[64] @32, scales[12] @96, d @108
    static const int QK = 256, BB = 110;
    static const bool M = false;
    // decode reads slots strided across the block (see matvec_strided): with V values a plane, slot
    // s = (P / 2) h + m (P = 64 / V slots a block) holds the V values 128h + 32j + Vm .. +V of each
    // 2-bit plane j, so a lane loads V bytes of qs and of hmask and uses every bit of them, where
    // 16 contiguous values use a quarter of their bytes; q[j] gets the V quants q - 4 (signed
    // bytes) of plane j, a[j] their scale
    static const bool STRIDED = true;
    template <int V>
    DEV void strided(const uint8_t* b, int slot, uint32_t (&q)[4][V / 4], float (&a)[4]) {
        static_assert(V == 8 || V == 16, "8 or 16 values a plane");
        constexpr int HALF = 32 / V;  // slots per 128 values
        const int h = slot / HALF, m = slot % HALF, mh = V * m / 16;
        uint32_t qs[V / 4], hm[V / 4], sc[4];
        if constexpr (V == 16) {
            // wide loads (H200, 14B shapes at 2 rows a warp: 5120 x 5120 1,071 -> 1,321 GB/s,
            // 5120 x 13824 1,286 -> 1,689, 13824 x 5120 1,563 -> 1,619)
            ld16_a2_wide(b + 32 + 32 * h + V * m, qs);
            ld16_a2_wide(b + V * m, hm);
            ld16_a2_wide(b + 96, sc);  // the 12 scale bytes, then d (and 2 bytes past)
        } else {
            ld8_a2(b + 32 + 32 * h + V * m, qs);
            ld8_a2(b + V * m, hm);
            ld14_a2(b + 96, sc);  // the 12 scale bytes, then d
        }
        const float d = h2f((uint16_t) sc[3]);
#pragma unroll
        for (int j = 0; j < 4; j++) {
#pragma unroll
            for (int k = 0; k < V / 4; k++) {
                // q - 4 as a byte: the low bits when the high bit is set, else the low bits - 4 (their
                // two's complement: low | 0xFC); no carries between bytes
                const uint32_t lo = (qs[k] >> (2 * j)) & 0x03030303u;
                const uint32_t clear = ~(hm[k] >> (4 * h + j)) & 0x01010101u;
                q[j][k] = lo | (clear * 0xFCu);
            }
            // group g = 8h + 2j + mh (mh: which 16 of the 32): low 4 bits in nibble h of scale byte
            // 2j + mh, high 2 bits at 2*(2h + j/2) of byte 8 + (2j + mh) % 4; byte 2j + mh sits at
            // 2 (j%2) + mh of word j/2
            const int at = 8 * (2 * (j % 2) + mh);
            const int low = (sc[j / 2] >> (at + 4 * h)) & 0xF;
            const int high = (sc[2] >> (at + 2 * (2 * h + j / 2))) & 3;
            a[j] = d * (float) ((low | (high << 4)) - 32);
        }
    }
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) {
        Raw r;
        int h = u / 8, l0 = 16 * (u % 2);
        uint32_t w[4], hm[4];
        ld16x<WIDE, 2>(b + 32 + 32 * h + l0, w);
        ld16x<WIDE, 2>(b + l0, hm);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.w[i] = w[i];
            r.w[4 + i] = hm[i];
        }
        const uint8_t* s = b + 96;
        r.x[0] = (u < 8 ? s[u] : s[u - 8]) | ((uint32_t) s[8 + u % 4] << 8);
        r.x[1] = ld_u16(b + 108);
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
        int h = u / 8, j = (u % 8) / 2;
        int hbit = 4 * h + j;
#pragma unroll
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (r.w[i] >> (2 * j)) & 0x03030303u;
            uint32_t hi = ((r.w[4 + i] >> hbit) & 0x01010101u) << 2;
            v.q[i] = minus_bias(lo | hi, 4);
        }
        int low = u < 8 ? (r.x[0] & 0xF) : ((r.x[0] >> 4) & 0xF);
        int high = (r.x[0] >> (8 + 2 * (u / 4))) & 3;
        v.a = lo_half(r.x[1]) * (float) ((low | (high << 4)) - 32);
        v.m = 0.f;
        return v;
    }
    UNIT_FROM_RAW
};

// 6-bit scale and min of sub-block j (0..7) of Q4_K / Q5_K from the header words x[1..3]
// (scale bytes 0-3, 4-7, 8-11), without indexing registers at run time
DEV void scale_min_k4(const Raw& r, int j, int& sc, int& mn) {
    int jj = j & 3;
    int b0 = (int) byte_at(r.x[1], jj), b1 = (int) byte_at(r.x[2], jj), b2 = (int) byte_at(r.x[3], jj);
    // branch-free, so the two units of a piece share one decode
    const bool lo = j < 4;
    sc = lo ? (b0 & 63) : ((b2 & 0xF) | ((b0 >> 6) << 4));
    mn = lo ? (b1 & 63) : ((b2 >> 4) | ((b1 >> 6) << 4));
}

struct TQ4_K {  // d @0, dmin @2, scales[12] @4, qs[128] @16
    static const int QK = 256, BB = 144;
    static const bool M = true;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) {
        Raw r;
        int sb = u / 2, half = u % 2, c = sb / 2;
        uint32_t w[4], x[4];
        ld16_a16(b + 16 + 32 * c + 16 * half, w);
        ld16_a16(b, x);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.w[i] = w[i];
            r.x[i] = x[i];
        }
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
        int sb = u / 2, nib = sb % 2;
#pragma unroll
        for (int i = 0; i < 4; i++) v.q[i] = (r.w[i] >> (4 * nib)) & 0x0F0F0F0Fu;
        int sc, mn;
        scale_min_k4(r, sb, sc, mn);
        v.a = lo_half(r.x[0]) * (float) sc;
        v.m = -hi_half(r.x[0]) * (float) mn;
        return v;
    }
    UNIT_FROM_RAW
};

struct TQ5_K {  // d @0, dmin @2, scales[12] @4, qh[32] @16, qs[128] @48
    static const int QK = 256, BB = 176;
    static const bool M = true;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) {
        Raw r;
        int sb = u / 2, half = u % 2, c = sb / 2;
        uint32_t w[4], qh[4], x[4];
        ld16_a16(b + 48 + 32 * c + 16 * half, w);
        ld16_a16(b + 16 + 16 * half, qh);
        ld16_a16(b, x);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.w[i] = w[i];
            r.w[4 + i] = qh[i];
            r.x[i] = x[i];
        }
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
        int sb = u / 2, nib = sb % 2;
#pragma unroll
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (r.w[i] >> (4 * nib)) & 0x0F0F0F0Fu;
            uint32_t hi = ((r.w[4 + i] >> sb) & 0x01010101u) << 4;
            v.q[i] = lo | hi;
        }
        int sc, mn;
        scale_min_k4(r, sb, sc, mn);
        v.a = lo_half(r.x[0]) * (float) sc;
        v.m = -hi_half(r.x[0]) * (float) mn;
        return v;
    }
    UNIT_FROM_RAW
};

struct TQ6_K {  // ql[128] @0, qh[64] @128, scales int8[16] @192, d @208
    static const int QK = 256, BB = 210;
    static const bool M = false;
    // matvec_q reads with fetch<true> (H200, 14B shapes, 1 row a warp: 1,734 -> 1,804, 2,356 ->
    // 2,405, 1,751 -> 1,890 GB/s; for Q8_0 the wide loads lost 5-8 %)
    static const bool WIDE_MATVEC = true;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) {
        Raw r;
        int h = u / 8, k = (u % 8) / 2, l0 = 16 * (u % 2);
        uint32_t w[4], qh[4];
        ld16x<WIDE, 2>(b + 64 * h + 32 * (k % 2) + l0, w);
        ld16x<WIDE, 2>(b + 128 + 32 * h + l0, qh);
#pragma unroll
        for (int i = 0; i < 4; i++) {
            r.w[i] = w[i];
            r.w[4 + i] = qh[i];
        }
        r.x[0] = b[192 + u];
        r.x[1] = ld_u16(b + 208);
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
        int k = (u % 8) / 2;
#pragma unroll
#pragma unroll
        for (int i = 0; i < 4; i++) {
            uint32_t lo = (r.w[i] >> (4 * (k / 2))) & 0x0F0F0F0Fu;
            uint32_t hi = ((r.w[4 + i] >> (2 * k)) & 0x03030303u) << 4;
            v.q[i] = minus_bias(lo | hi, 32);
        }
        v.a = lo_half(r.x[1]) * (float) (int8_t) r.x[0];
        v.m = 0.f;
        return v;
    }
    UNIT_FROM_RAW
};

struct TIQ4_XS {  // d @0, scales_h u16 @2, scales_l[4] @4, qs[128] @8
    static const int QK = 256, BB = 136;
    static const bool M = false;
    template <bool WIDE = false>
    DEV Raw fetch(const uint8_t* b, int u) {
        Raw r;
        int ib = u / 2;
        uint32_t w[4];
        ld16_a8(b + 8 + 16 * ib, w);
#pragma unroll
        for (int i = 0; i < 4; i++) r.w[i] = w[i];
        r.x[0] = ld_u32(b);
        r.x[1] = b[4 + ib / 2];
        return r;
    }
    DEV Unit decode(const Raw& r, int u) {
        Unit v;
        int ib = u / 2, nib = u % 2;
#pragma unroll
        for (int i = 0; i < 4; i++) v.q[i] = iq4_lookup((r.w[i] >> (4 * nib)) & 0x0F0F0F0Fu);
        uint32_t sh = r.x[0] >> 16;
        int ls = ((r.x[1] >> (4 * (ib % 2))) & 0xF) | (((sh >> (2 * ib)) & 3) << 4);
        v.a = lo_half(r.x[0]) * (float) (ls - 32);
        v.m = 0.f;
        return v;
    }
    UNIT_FROM_RAW
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
