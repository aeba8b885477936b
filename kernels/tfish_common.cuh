// Shared device helpers of the tensorflowish kernels: math per precision, activations.
#pragma once

// Activation codes: the position of the name in tensorflowish.kernels.ACTIVATIONS.
#define TFISH_LINEAR 0
#define TFISH_RELU 1
#define TFISH_SIGMOID 2
#define TFISH_TANH 3
#define TFISH_GELU 4
#define TFISH_LEAKY_RELU 5

// Threads per block of the element-wise kernels (the Python launchers use the same numbers).
#define TFISH_ELEMENTWISE_THREADS 256

// One overload set per precision, so that templates call the float functions for float.
template <typename T> struct tfish_math;

template <> struct tfish_math<float> {
    static __device__ __forceinline__ float exp(float x) { return expf(x); }
    static __device__ __forceinline__ float log(float x) { return logf(x); }
    static __device__ __forceinline__ float tanh(float x) { return tanhf(x); }
    static __device__ __forceinline__ float erf(float x) { return erff(x); }
    static __device__ __forceinline__ float sqrt(float x) { return sqrtf(x); }
    static __device__ __forceinline__ float max(float a, float b) { return fmaxf(a, b); }
    // INFINITY is not defined under NVRTC; build the bit pattern instead.
    static __device__ __forceinline__ float neg_inf() { return __int_as_float(0xff800000); }
    static __device__ __forceinline__ float nan() { return __int_as_float(0x7fffffff); }
};

template <> struct tfish_math<double> {
    static __device__ __forceinline__ double exp(double x) { return ::exp(x); }
    static __device__ __forceinline__ double log(double x) { return ::log(x); }
    static __device__ __forceinline__ double tanh(double x) { return ::tanh(x); }
    static __device__ __forceinline__ double erf(double x) { return ::erf(x); }
    static __device__ __forceinline__ double sqrt(double x) { return ::sqrt(x); }
    static __device__ __forceinline__ double max(double a, double b) { return fmax(a, b); }
    static __device__ __forceinline__ double neg_inf() {
        return __longlong_as_double(0xfff0000000000000LL);
    }
    static __device__ __forceinline__ double nan() {
        return __longlong_as_double(0x7ff8000000000000LL);
    }
};

#define TFISH_SQRT1_2 0.70710678118654752440   // 1/sqrt(2)
#define TFISH_INV_SQRT_2PI 0.39894228040143267794  // 1/sqrt(2*pi)

// act(z)
template <typename T>
__device__ __forceinline__ T tfish_activate(T z, int activation, T alpha) {
    typedef tfish_math<T> M;
    switch (activation) {
        case TFISH_RELU: return z > T(0) ? z : T(0);
        case TFISH_SIGMOID: return T(1) / (T(1) + M::exp(-z));
        case TFISH_TANH: return M::tanh(z);
        case TFISH_GELU: return T(0.5) * z * (T(1) + M::erf(z * T(TFISH_SQRT1_2)));
        case TFISH_LEAKY_RELU: return z > T(0) ? z : alpha * z;
        default: return z;
    }
}

// act'(z), from the output y = act(z) where that is enough; gelu needs z itself.
template <typename T>
__device__ __forceinline__ T tfish_activation_derivative(T y, T z, int activation, T alpha) {
    typedef tfish_math<T> M;
    switch (activation) {
        case TFISH_RELU: return y > T(0) ? T(1) : T(0);
        case TFISH_SIGMOID: return y * (T(1) - y);
        case TFISH_TANH: return T(1) - y * y;
        case TFISH_GELU:
            return T(0.5) * (T(1) + M::erf(z * T(TFISH_SQRT1_2)))
                   + z * M::exp(T(-0.5) * z * z) * T(TFISH_INV_SQRT_2PI);
        case TFISH_LEAKY_RELU: return y > T(0) ? T(1) : alpha;
        default: return T(1);
    }
}

// ---- storage: how a kernel reads and writes its arrays -----------------------------------------
// A kernel body templated on a storage type S reads `typename S::stored` arrays with S::load,
// computes in `typename S::compute` and writes with S::store, so one body serves every precision:
// tfish_plain<float> and tfish_plain<double> compute as they store; tfish_f16 and tfish_bf16
// (below) load 16 bits into float.
template <typename T> struct tfish_plain {
    typedef T stored;
    typedef T compute;
    static __device__ __forceinline__ T load(T value) { return value; }
    static __device__ __forceinline__ T store(T value) { return value; }
};
typedef tfish_plain<float> tfish_f32;
typedef tfish_plain<double> tfish_f64;

// ---- half precision: float16 and bfloat16 stored as their 16 bits (unsigned short) ------------
// The kernels load them into float, compute in float, and store them rounded to nearest even.
// Written with integer bit operations, not cuda_fp16.h/cuda_bf16.h: the pip NVRTC ships neither
// header, and the CPU emulator compiles the same code with g++.
struct tfish_f16 {  // IEEE 754 binary16
    typedef unsigned short stored;
    typedef float compute;
    static __device__ __forceinline__ float load(unsigned short h) {
        const unsigned int sign = (unsigned int)(h & 0x8000u) << 16;
        const unsigned int exponent = (h >> 10) & 0x1fu, mantissa = h & 0x3ffu;
        if (exponent == 0x1fu) return __uint_as_float(sign | 0x7f800000u | (mantissa << 13));
        if (exponent == 0u) {  // zero or subnormal: mantissa * 2^-24
            const float magnitude = (float)mantissa * 5.9604644775390625e-8f;
            return sign ? -magnitude : magnitude;
        }
        return __uint_as_float(sign | ((exponent + 112u) << 23) | (mantissa << 13));
    }
    static __device__ __forceinline__ unsigned short store(float value) {
        const unsigned int bits = __float_as_uint(value);
        const unsigned int sign = (bits >> 16) & 0x8000u, magnitude = bits & 0x7fffffffu;
        if (magnitude >= 0x7f800000u)  // Inf, or NaN (kept quiet)
            return (unsigned short)(sign | (magnitude > 0x7f800000u ? 0x7e00u : 0x7c00u));
        if (magnitude >= 0x477ff000u) return (unsigned short)(sign | 0x7c00u);  // rounds to Inf
        if (magnitude < 0x38800000u) {  // below 2^-14: a subnormal half (or zero)
            if (magnitude < 0x33000000u) return (unsigned short)sign;  // at most 2^-25: to zero
            const unsigned int shift = 126u - (magnitude >> 23);
            const unsigned int mantissa = (magnitude & 0x7fffffu) | 0x800000u;
            unsigned int result = mantissa >> shift;
            const unsigned int rest = mantissa & ((1u << shift) - 1u), halfway = 1u << (shift - 1u);
            if (rest > halfway || (rest == halfway && (result & 1u))) ++result;
            return (unsigned short)(sign | result);
        }
        unsigned int result = (magnitude - 0x38000000u) >> 13;  // rebias 127 -> 15
        const unsigned int rest = magnitude & 0x1fffu;
        if (rest > 0x1000u || (rest == 0x1000u && (result & 1u))) ++result;  // may carry up
        return (unsigned short)(sign | result);
    }
};

struct tfish_bf16 {  // bfloat16: the upper half of a float32
    typedef unsigned short stored;
    typedef float compute;
    static __device__ __forceinline__ float load(unsigned short b) {
        return __uint_as_float((unsigned int)b << 16);
    }
    static __device__ __forceinline__ unsigned short store(float value) {
        const unsigned int bits = __float_as_uint(value);
        if ((bits & 0x7fffffffu) > 0x7f800000u) return (unsigned short)((bits >> 16) | 0x40u);
        return (unsigned short)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
    }
};
