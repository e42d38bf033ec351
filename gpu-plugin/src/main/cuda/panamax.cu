// Panamax CUDA kernels: one module, loaded from PTX by the gpu-plugin (dev/panamax/gpu/panamax.ptx).
// Kernel names are the plugin's contract: see CudaKernels.java.
#include "common.cuh"
#include "quants.cuh"
#include "matvec.cuh"
#include "matmul.cuh"
#include "ops.cuh"

// matvec_<type>_<tokens>[_r<rows per warp>]: _1 is one token, 2 rows per warp; _1_r1 and _1_r4 1
// and 4 (decode takes each type's fastest, see DeviceTypes.matvecRows); _8 up to 8 tokens, 1 row
// per warp
#define MATVEC_Q(name, T, NT, R, suffix)                                                                 \
    KERNEL_LB(matvec_##name##_##NT##suffix, 128,                                                         \
              (const uint8_t* W, int rows, int K, const int8_t* xq, const float* xd, const float* xs,  \
               float* y, int ys, const float* bias, int acc, int tokens)) {                             \
        matvec_q<T, NT, R>(W, rows, K, xq, xd, xs, y, ys, bias, acc, tokens);                           \
    }

#define MATVEC_F(name, T, NT)                                                                            \
    KERNEL_LB(matvec_##name##_##NT, 128,                                                                 \
              (const uint8_t* W, int rows, int K, const float* x, float* y, int ys, const float* bias,  \
               int acc, int tokens)) {                                                                   \
        matvec_f<T, NT>(W, rows, K, x, y, ys, bias, acc, tokens);                                        \
    }

#define MATMUL(name, T, BN)                                                                              \
    KERNEL_LB(matmul_##name##_##BN, 256,                                                                 \
              (const uint8_t* W, int rows, int K, const uint16_t* X, int tokens, float* y, int ys,       \
               const float* bias, int acc)) {                                                            \
        matmul_tc<T, BN>(W, rows, K, X, tokens, y, ys, bias, acc);                                       \
    }

// weights -> f32 through the same unit decoder (kernel checks); one thread per unit of 16
#define DEQUANT(name, T)                                                                                 \
    KERNEL_LB(dequant_##name, 256, (const uint8_t* W, int units, float* out)) {                        \
        const int u = blockIdx.x * blockDim.x + threadIdx.x;                                             \
        if (u >= units) return;                                                                          \
        constexpr int UPB = T::QK / 16;                                                                  \
        Unit v = T::unit(W + (long) (u / UPB) * T::BB, u % UPB);                                         \
        for (int i = 0; i < 16; i++) {                                                                   \
            out[16L * u + i] = __fadd_rn(__fmul_rn(v.a, (float) (int8_t) (v.q[i / 4] >> (8 * (i % 4)))), v.m); \
        }                                                                                                \
    }

#define QUANT_TYPE(name, T)     \
    MATVEC_Q(name, T, 1, 2, )   \
    MATVEC_Q(name, T, 1, 1, _r1) \
    MATVEC_Q(name, T, 1, 4, _r4) \
    MATVEC_Q(name, T, 8, 1, )   \
    MATMUL(name, T, 64)     \
    MATMUL(name, T, 128)    \
    DEQUANT(name, T)

#define FLOAT_TYPE(name, T) \
    MATVEC_F(name, T, 1)    \
    MATVEC_F(name, T, 8)    \
    MATMUL(name, T, 64)     \
    MATMUL(name, T, 128)

QUANT_TYPE(q4_0, TQ4_0)
QUANT_TYPE(q4_1, TQ4_1)
QUANT_TYPE(q5_0, TQ5_0)
QUANT_TYPE(q5_1, TQ5_1)
QUANT_TYPE(q8_0, TQ8_0)
QUANT_TYPE(q2_k, TQ2_K)
QUANT_TYPE(q3_k, TQ3_K)
QUANT_TYPE(q4_k, TQ4_K)
QUANT_TYPE(q5_k, TQ5_K)
QUANT_TYPE(q6_k, TQ6_K)
QUANT_TYPE(iq4_nl, TIQ4_NL)
QUANT_TYPE(iq4_xs, TIQ4_XS)
FLOAT_TYPE(f32, TF32)
FLOAT_TYPE(f16, TF16)
FLOAT_TYPE(bf16, TBF16)
