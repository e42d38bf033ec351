// Runtime of the CUDA emulator (see emu.h): fibers, barriers, warp collectives, the kernel
// registry, and the C entry points the Java tests call through FFM.
#include "emu.h"
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>
#include <sys/mman.h>

dim3 emu_threadIdx, emu_blockIdx, emu_blockDim, emu_gridDim;

namespace {

struct Kernel { void* fn; emu_invoker inv; };
std::map<std::string, Kernel>& registry() {
    static std::map<std::string, Kernel> r;
    return r;
}

extern "C" void emu_switch(void** save_sp, void* to_sp);
asm(R"(
.text
.globl emu_switch
.type emu_switch,@function
emu_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret
.size emu_switch, .-emu_switch
.section .note.GNU-stack,"",@progbits
.text
)");

const size_t STACK = 256 * 1024;

struct Fiber {
    void* sp;
    char* stack;
    bool done;
    unsigned tid;
};

struct Barrier {
    int arrived = 0;
    int alive = 0;
    long gen = 0;
};

std::vector<Fiber> fibers;
std::vector<Barrier> warps;   // per warp of the current block
Barrier block;
void* scheduler_sp;
int current;
void** launch_params;
Kernel launch_kernel;
long events;                  // barrier releases and exits, for deadlock detection
std::string error;
unsigned char exchange_area[32][32 * 64];  // per warp (at most 1024 threads)

void fail(const std::string& what) {
    if (error.empty()) error = what;
}

void yield() { emu_switch(&fibers[current].sp, scheduler_sp); }

void fiber_main() {
    launch_kernel.inv(launch_kernel.fn, launch_params);
    Fiber& f = fibers[current];
    f.done = true;
    events++;
    int w = f.tid / 32;
    block.alive--;
    warps[w].alive--;
    if (block.arrived > 0) fail("a thread exited while others wait at __syncthreads");
    if (warps[w].arrived > 0) fail("a thread exited while lanes of its warp wait at a warp barrier");
    emu_switch(&f.sp, scheduler_sp);
    std::abort();  // never resumed
}

void arrive(Barrier& b) {
    long gen = b.gen;
    if (++b.arrived == b.alive) {
        b.arrived = 0;
        b.gen++;
        events++;
        return;
    }
    while (b.gen == gen) {
        yield();
        if (!error.empty()) return;
    }
}

uint16_t f2h_impl(float f) {
    uint32_t x;
    std::memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000;
    uint32_t absx = x & 0x7fffffff;
    if (absx >= 0x7f800000) {  // inf or nan
        return (uint16_t) (sign | 0x7c00 | (absx > 0x7f800000 ? 0x200 : 0));
    }
    if (absx >= 0x477ff000) {  // rounds to >= 65520: overflow
        return (uint16_t) (sign | 0x7c00);
    }
    if (absx < 0x38800000) {  // below the smallest normal half: subnormal or zero
        float a;
        std::memcpy(&a, &absx, 4);
        // value in units of 2^-24, rounded to nearest even
        float scaled = a * 16777216.0f;
        uint32_t r = (uint32_t) std::nearbyint(scaled);
        return (uint16_t) (sign | r);
    }
    uint32_t mant = absx & 0x7fffff;
    int exp = (int) (absx >> 23) - 127 + 15;
    uint32_t h = ((uint32_t) exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t) (sign | h);
}

}  // namespace

float emu_h2f(uint16_t h) {
    uint32_t sign = (uint32_t) (h & 0x8000) << 16;
    uint32_t e = (h >> 10) & 0x1f;
    uint32_t m = h & 0x3ff;
    float r;
    if (e == 0) {
        r = std::ldexp((float) m, -24);
        if (sign) r = -r;
        return r;
    }
    uint32_t x;
    if (e == 31) {
        x = sign | 0x7f800000 | (m << 13);
    } else {
        x = sign | ((e - 15 + 127) << 23) | (m << 13);
    }
    std::memcpy(&r, &x, 4);
    return r;
}

uint16_t emu_f2h(float f) { return f2h_impl(f); }

// The packed-half operations in double, rounded once to float and then to half: exact where the
// kernels use them (differences of integers; products of halves plus a half, whose float rounding
// could only matter at a tie the double result is not)
uint32_t emu_hsub2(uint32_t a, uint32_t b) {
    uint32_t r = 0;
    for (int i = 0; i < 2; i++) {
        double v = (double) emu_h2f((uint16_t) (a >> (16 * i))) - (double) emu_h2f((uint16_t) (b >> (16 * i)));
        r |= (uint32_t) f2h_impl((float) v) << (16 * i);
    }
    return r;
}

uint32_t emu_hfma2(uint32_t a, uint32_t b, uint32_t c) {
    uint32_t r = 0;
    for (int i = 0; i < 2; i++) {
        double v = (double) emu_h2f((uint16_t) (a >> (16 * i))) * (double) emu_h2f((uint16_t) (b >> (16 * i)))
                   + (double) emu_h2f((uint16_t) (c >> (16 * i)));
        r |= (uint32_t) f2h_impl((float) v) << (16 * i);
    }
    return r;
}

void emu_syncthreads() { arrive(block); }

void emu_syncwarp() { arrive(warps[fibers[current].tid / 32]); }

unsigned char* emu_exchange(const void* mine, int n) {
    unsigned tid = fibers[current].tid;
    unsigned char* area = exchange_area[tid / 32];
    emu_syncwarp();  // nobody still reads the previous exchange
    std::memcpy(area + 64 * (tid % 32), mine, n);
    emu_syncwarp();
    return area;
}

void emu_exchange_done() {}

namespace {
long mma_gen[32] = {0};
float mma_out[32][32][4];
}

void emu_mma_16816(float (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
    struct Frag { uint32_t a[4]; uint32_t b[2]; float c[4]; };
    Frag mine;
    for (int i = 0; i < 4; i++) { mine.a[i] = a[i]; mine.c[i] = d[i]; }
    mine.b[0] = b[0];
    mine.b[1] = b[1];
    unsigned char* area = emu_exchange(&mine, sizeof(Frag));
    int w = fibers[current].tid / 32;
    long gen = warps[w].gen + 1;  // distinct for every exchange of this warp (gen grows by 2 per exchange)
    if (mma_gen[w] != gen) {      // the first lane to get here computes the whole tile
        mma_gen[w] = gen;
        float A[16][16], B[16][8], C[16][8];
        for (int lane = 0; lane < 32; lane++) {
            Frag f;
            std::memcpy(&f, area + 64 * lane, sizeof(Frag));
            int g = lane / 4, t = lane % 4;
            for (int r = 0; r < 4; r++) {
                int row = g + 8 * (r % 2);
                int col = 2 * t + 8 * (r / 2);
                A[row][col] = emu_h2f((uint16_t) f.a[r]);
                A[row][col + 1] = emu_h2f((uint16_t) (f.a[r] >> 16));
            }
            for (int r = 0; r < 2; r++) {
                int k = 2 * t + 8 * r;
                B[k][g] = emu_h2f((uint16_t) f.b[r]);
                B[k + 1][g] = emu_h2f((uint16_t) (f.b[r] >> 16));
            }
            for (int r = 0; r < 4; r++) {
                C[g + 8 * (r / 2)][2 * t + (r % 2)] = f.c[r];
            }
        }
        for (int lane = 0; lane < 32; lane++) {
            int g = lane / 4, t = lane % 4;
            for (int r = 0; r < 4; r++) {
                int row = g + 8 * (r / 2), col = 2 * t + (r % 2);
                float s = C[row][col];
                for (int k = 0; k < 16; k++) s += A[row][k] * B[k][col];
                mma_out[w][lane][r] = s;
            }
        }
    }
    int lane = fibers[current].tid % 32;
    for (int r = 0; r < 4; r++) d[r] = mma_out[w][lane][r];
    emu_syncwarp();  // everyone has read the area and the results
}

void emu_ldmatrix_x4(uint32_t (&r)[4], const void* smem_row) {
    const void* mine = smem_row;
    if (((uintptr_t) smem_row) % 16 != 0) fail("ldmatrix row address not 16-byte aligned");
    unsigned char* area = emu_exchange(&mine, sizeof(mine));
    int lane = fibers[current].tid % 32;
    for (int m = 0; m < 4; m++) {
        const unsigned char* row;
        std::memcpy(&row, area + 64 * (8 * m + lane / 4), sizeof(row));
        std::memcpy(&r[m], row + 4 * (lane % 4), 4);
    }
    emu_syncwarp();
}

// .trans: lane L gets elements (2 (L%4), L/4) and (2 (L%4) + 1, L/4) of each matrix
void emu_ldmatrix_x4_trans(uint32_t (&r)[4], const void* smem_row) {
    const void* mine = smem_row;
    if (((uintptr_t) smem_row) % 16 != 0) fail("ldmatrix row address not 16-byte aligned");
    unsigned char* area = emu_exchange(&mine, sizeof(mine));
    int lane = fibers[current].tid % 32;
    for (int m = 0; m < 4; m++) {
        const unsigned char* r0;
        const unsigned char* r1;
        std::memcpy(&r0, area + 64 * (8 * m + 2 * (lane % 4)), sizeof(r0));
        std::memcpy(&r1, area + 64 * (8 * m + 2 * (lane % 4) + 1), sizeof(r1));
        uint16_t lo, hi;
        std::memcpy(&lo, r0 + 2 * (lane / 4), 2);
        std::memcpy(&hi, r1 + 2 * (lane / 4), 2);
        r[m] = (uint32_t) lo | ((uint32_t) hi << 16);
    }
    emu_syncwarp();
}

void emu_register(const char* name, void* fn, emu_invoker inv) { registry()[name] = Kernel{fn, inv}; }

namespace {

void run_block(unsigned nthreads) {
    if (fibers.size() < nthreads) {
        size_t old = fibers.size();
        fibers.resize(nthreads);
        for (size_t i = old; i < nthreads; i++) {
            fibers[i].stack = (char*) mmap(nullptr, STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        }
    }
    warps.assign((nthreads + 31) / 32, Barrier());
    for (long& g : mma_gen) g = -1;  // barrier generations restart with every block
    block = Barrier();
    block.alive = nthreads;
    for (unsigned w = 0; w < warps.size(); w++) {
        warps[w].alive = std::min(32u, nthreads - 32 * w);
    }
    for (unsigned i = 0; i < nthreads; i++) {
        Fiber& f = fibers[i];
        f.done = false;
        f.tid = i;
        uintptr_t top = ((uintptr_t) (f.stack + STACK)) & ~(uintptr_t) 15;
        void** sp = (void**) (top - 16 - 48);
        for (int r = 0; r < 6; r++) sp[r] = nullptr;
        sp[6] = (void*) &fiber_main;
        f.sp = sp;
    }
    unsigned alive = nthreads;
    long idle_passes = 0;
    while (alive > 0 && error.empty()) {
        long before = events;
        for (unsigned i = 0; i < nthreads && error.empty(); i++) {
            if (fibers[i].done) continue;
            current = (int) i;
            emu_threadIdx = dim3{i % emu_blockDim.x, (i / emu_blockDim.x) % emu_blockDim.y,
                                 i / (emu_blockDim.x * emu_blockDim.y)};
            emu_switch(&scheduler_sp, fibers[i].sp);
            if (fibers[i].done) alive--;
        }
        if (events == before) {
            if (++idle_passes > 2) {
                fail("deadlock: threads wait at a barrier that can never complete");
            }
        } else {
            idle_passes = 0;
        }
    }
}

}  // namespace

extern "C" {

// Runs kernel `name` over the grid; returns 0, or -1 (unknown kernel) / -2 (error, see emu_error).
int emu_launch(const char* name, int gx, int gy, int gz, int bx, int by, int bz, void** params) {
    auto it = registry().find(name);
    if (it == registry().end()) {
        error = std::string("no kernel named ") + name;
        return -1;
    }
    if (bx * by * bz > 1024 || bx * by * bz < 1) {
        error = "bad block size";
        return -2;
    }
    error.clear();
    launch_kernel = it->second;
    launch_params = params;
    emu_gridDim = dim3{(unsigned) gx, (unsigned) gy, (unsigned) gz};
    emu_blockDim = dim3{(unsigned) bx, (unsigned) by, (unsigned) bz};
    for (int z = 0; z < gz && error.empty(); z++) {
        for (int y = 0; y < gy && error.empty(); y++) {
            for (int x = 0; x < gx && error.empty(); x++) {
                emu_blockIdx = dim3{(unsigned) x, (unsigned) y, (unsigned) z};
                run_block((unsigned) (bx * by * bz));
            }
        }
    }
    if (!error.empty()) {
        // fibers stuck at barriers are abandoned (their stacks are reused by the next launch)
        return -2;
    }
    return 0;
}

const char* emu_error() { return error.c_str(); }

int emu_has_kernel(const char* name) { return registry().count(name) ? 1 : 0; }

}
