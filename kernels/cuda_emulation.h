// CUDA-on-CPU emulation shim for tensorflowish.kernels.emulator.
//
// A kernel source (*.cu) is compiled by g++ with this header force-included in front of it.
// The header maps CUDA's built-ins onto the host:
//   * every CUDA thread of a block is a fiber (ucontext), so __syncthreads() is a real barrier;
//     blocks run one after another; the order in which the threads of a block run between two
//     barriers is forward, reverse or seeded-random, so a missing barrier changes the result;
//   * __shared__ variables live in one linker section that is filled with NaN bytes (0xFF)
//     before every block, so a read of shared memory nobody wrote shows up as NaN;
//   * a barrier reached by only part of a block (a `return` before __syncthreads) is reported
//     with the source line of the barrier.
// Buffers, guard zones and argument types are handled by the Python side (emulator.py).
#pragma once

#include <ucontext.h>

#include <algorithm>
#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

struct uint3 {
    unsigned int x, y, z;
};

struct dim3 {
    unsigned int x, y, z;
    dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1) : x(x_), y(y_), z(z_) {}
};

// ---- execution-space and qualifier keywords ------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __restrict__ __restrict
#define __launch_bounds__(...)
#define __constant__ static
// All __shared__ variables go into one section so that they can be poisoned before each block.
#define __shared__ static __attribute__((section("tfish_shared")))
#define __align__(n) alignas(n)

extern "C" {
extern char __start_tfish_shared[] __attribute__((weak));
extern char __stop_tfish_shared[] __attribute__((weak));
}

namespace tfish_emu {

enum FiberState { RUNNING = 0, AT_BARRIER = 1, FINISHED = 2 };
enum ThreadOrder { FORWARD = 0, REVERSE = 1, RANDOM = 2 };

struct Fiber {
    ucontext_t context;
    uint3 thread_idx;
    FiberState state;
    int barrier_line;
    const char* barrier_file;
};

struct LaunchState {
    uint3 block_idx;
    dim3 block_dim;
    dim3 grid_dim;
    Fiber* current;
    ucontext_t scheduler;
    void (*thunk)(void**);
    void** args;
};

static Fiber dummy_fiber;  // what threadIdx reads outside a launch
static LaunchState state = {uint3{0, 0, 0}, dim3(), dim3(), &dummy_fiber, ucontext_t(), nullptr, nullptr};

// Dynamic shared memory (`extern __shared__ T name[];`, rewritten by emulator.py into a pointer
// to this buffer): `shared_bytes` of it are poisoned before each block, and the guard zone after
// them is checked after each block.
static const size_t DYNAMIC_SHARED_CAPACITY = 256 * 1024;
static const size_t DYNAMIC_SHARED_GUARD = 4096;
alignas(64) static unsigned char dynamic_shared_memory[DYNAMIC_SHARED_CAPACITY + DYNAMIC_SHARED_GUARD];
inline void syncthreads(int line, const char* file) {
    Fiber* self = state.current;
    self->state = AT_BARRIER;
    self->barrier_line = line;
    self->barrier_file = file;
    swapcontext(&self->context, &state.scheduler);
}

static void fiber_entry() {
    state.thunk(state.args);
    state.current->state = FINISHED;
    // returning resumes uc_link, the scheduler
}

static const size_t STACK_BYTES = 128 * 1024;

// Runs the kernel `thunk` over the grid; returns 0, or 1 with a message in `error`.
static int launch(void (*thunk)(void**), const unsigned int* grid, const unsigned int* block,
                  void** args, unsigned int shared_bytes, int order, unsigned long long seed,
                  char* error, int error_len) {
    if (shared_bytes > DYNAMIC_SHARED_CAPACITY) {
        snprintf(error, error_len, "shared_mem=%u is more than the emulator's %zu bytes",
                 shared_bytes, DYNAMIC_SHARED_CAPACITY);
        return 1;
    }
    const unsigned int n_threads = block[0] * block[1] * block[2];
    std::vector<Fiber> fibers(n_threads);
    char* stacks = static_cast<char*>(malloc(STACK_BYTES * n_threads));
    if (stacks == nullptr) {
        snprintf(error, error_len, "could not allocate fiber stacks for %u threads", n_threads);
        return 1;
    }
    std::mt19937_64 random(seed);
    std::vector<unsigned int> schedule(n_threads);
    state.thunk = thunk;
    state.args = args;
    state.grid_dim = dim3(grid[0], grid[1], grid[2]);
    state.block_dim = dim3(block[0], block[1], block[2]);
    int failed = 0;
    for (unsigned int bz = 0; bz < grid[2] && !failed; ++bz)
    for (unsigned int by = 0; by < grid[1] && !failed; ++by)
    for (unsigned int bx = 0; bx < grid[0] && !failed; ++bx) {
        state.block_idx = uint3{bx, by, bz};
        if (__start_tfish_shared != nullptr && __stop_tfish_shared != nullptr) {
            memset(__start_tfish_shared, 0xFF, __stop_tfish_shared - __start_tfish_shared);
        }
        memset(dynamic_shared_memory, 0xFF, shared_bytes + DYNAMIC_SHARED_GUARD);
        for (unsigned int t = 0; t < n_threads; ++t) {
            Fiber& fiber = fibers[t];
            fiber.thread_idx = uint3{t % block[0], (t / block[0]) % block[1], t / (block[0] * block[1])};
            fiber.state = RUNNING;
            fiber.barrier_line = 0;
            fiber.barrier_file = "";
            getcontext(&fiber.context);
            fiber.context.uc_stack.ss_sp = stacks + STACK_BYTES * t;
            fiber.context.uc_stack.ss_size = STACK_BYTES;
            fiber.context.uc_link = &state.scheduler;
            makecontext(&fiber.context, fiber_entry, 0);
        }
        for (;;) {
            for (unsigned int t = 0; t < n_threads; ++t) schedule[t] = t;
            if (order == REVERSE) {
                for (unsigned int t = 0; t < n_threads; ++t) schedule[t] = n_threads - 1 - t;
            } else if (order == RANDOM) {
                std::shuffle(schedule.begin(), schedule.end(), random);
            }
            for (unsigned int t : schedule) {
                if (fibers[t].state != RUNNING) continue;
                state.current = &fibers[t];
                swapcontext(&state.scheduler, &fibers[t].context);
            }
            unsigned int waiting = 0;
            const Fiber* first = nullptr;
            for (const Fiber& fiber : fibers) {
                if (fiber.state != AT_BARRIER) continue;
                ++waiting;
                if (first == nullptr) first = &fiber;
            }
            if (waiting == 0) break;  // every thread of the block returned
            if (waiting != n_threads) {
                snprintf(error, error_len,
                         "__syncthreads() at %s:%d was reached by only %u of the %u threads of "
                         "block (%u,%u,%u); the other threads had already returned (a return or "
                         "an early exit before a barrier deadlocks or corrupts a real GPU)",
                         first->barrier_file, first->barrier_line, waiting, n_threads, bx, by, bz);
                failed = 1;
                break;
            }
            for (const Fiber& fiber : fibers) {
                if (fiber.barrier_line != first->barrier_line ||
                    strcmp(fiber.barrier_file, first->barrier_file) != 0) {
                    snprintf(error, error_len,
                             "threads of block (%u,%u,%u) wait at different __syncthreads(): "
                             "%s:%d and %s:%d (a barrier inside divergent code)",
                             bx, by, bz, first->barrier_file, first->barrier_line,
                             fiber.barrier_file, fiber.barrier_line);
                    failed = 1;
                    break;
                }
            }
            if (failed) break;
            for (Fiber& fiber : fibers) fiber.state = RUNNING;
        }
        for (size_t b = shared_bytes; !failed && b < shared_bytes + DYNAMIC_SHARED_GUARD; ++b) {
            if (dynamic_shared_memory[b] != 0xFF) {
                snprintf(error, error_len,
                         "block (%u,%u,%u) wrote past the end of its dynamic shared memory "
                         "(extern __shared__, shared_mem=%u bytes), at byte %zu",
                         bx, by, bz, shared_bytes, b);
                failed = 1;
            }
        }
    }
    state.current = &dummy_fiber;
    free(stacks);
    return failed;
}

}  // namespace tfish_emu

#define threadIdx (tfish_emu::state.current->thread_idx)
#define blockIdx (tfish_emu::state.block_idx)
#define blockDim (tfish_emu::state.block_dim)
#define gridDim (tfish_emu::state.grid_dim)
#define warpSize 32
#define __syncthreads() tfish_emu::syncthreads(__LINE__, __FILE__)
#define __threadfence() ((void)0)
#define __threadfence_block() ((void)0)

// ---- device math that the host C library lacks ---------------------------------------------
inline float __expf(float x) { return expf(x); }
inline float __logf(float x) { return logf(x); }
inline float __sinf(float x) { return sinf(x); }
inline float __cosf(float x) { return cosf(x); }
inline float __tanf(float x) { return tanf(x); }
inline float __powf(float x, float y) { return powf(x, y); }
inline float __fdividef(float x, float y) { return x / y; }
inline float __frcp_rn(float x) { return 1.0f / x; }
inline float __saturatef(float x) { return x < 0.0f ? 0.0f : (x > 1.0f ? 1.0f : x); }
inline float rsqrtf(float x) { return 1.0f / sqrtf(x); }
inline double rsqrt(double x) { return 1.0 / sqrt(x); }
inline float normcdff(float x) { return 0.5f * erfcf(-x * 0.70710678118654752f); }
inline double normcdf(double x) { return 0.5 * erfc(-x * 0.70710678118654752); }
inline float __int_as_float(int i) { float f; memcpy(&f, &i, sizeof f); return f; }
inline int __float_as_int(float f) { int i; memcpy(&i, &f, sizeof i); return i; }
inline float __uint_as_float(unsigned int i) { float f; memcpy(&f, &i, sizeof f); return f; }
inline unsigned int __float_as_uint(float f) { unsigned int i; memcpy(&i, &f, sizeof i); return i; }
inline double __longlong_as_double(long long i) { double d; memcpy(&d, &i, sizeof d); return d; }
inline long long __double_as_longlong(double d) { long long i; memcpy(&i, &d, sizeof i); return i; }
// CUDA's min/max are overloaded device functions for every arithmetic type.
template <typename T> inline T min(T a, T b) { return b < a ? b : a; }
template <typename T> inline T max(T a, T b) { return a < b ? b : a; }

// Atomics: fibers of one block never run at the same time, so a plain read-modify-write is atomic.
template <typename T> inline T atomicAdd(T* address, T value) { T old = *address; *address = old + value; return old; }
template <typename T> inline T atomicSub(T* address, T value) { T old = *address; *address = old - value; return old; }
template <typename T> inline T atomicExch(T* address, T value) { T old = *address; *address = value; return old; }
template <typename T> inline T atomicMax(T* address, T value) { T old = *address; *address = max(old, value); return old; }
template <typename T> inline T atomicMin(T* address, T value) { T old = *address; *address = min(old, value); return old; }
template <typename T> inline T atomicCAS(T* address, T compare, T value) {
    T old = *address;
    if (old == compare) *address = value;
    return old;
}

// ---- math_constants.h (what <cupy/math_constants.h> and CUDA's header define) ----------------
#define CUPY_MATH_CONSTANTS_H
#define CUDART_INF_F __int_as_float(0x7f800000)
#define CUDART_NAN_F __int_as_float(0x7fffffff)
#define CUDART_INF __longlong_as_double(0x7ff0000000000000LL)
#define CUDART_NAN __longlong_as_double(0xfff8000000000000ULL)
