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
