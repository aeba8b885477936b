// Softmax over masked attention scores, one block per row (grid-stride over rows), as Keras's
// Softmax(mask=...): masked positions take `large_negative` before the softmax and are 0 after
// it, so a fully masked row gives zeros. keep[r, c] is 1 where a score counts, 0 where masked.
// Launch with blockDim.x a power of two <= TFISH_MASKED_SOFTMAX_THREADS (kernels/attention.py).
// One body, templated on the storage S (tfish_common.cuh): float16/bfloat16 scores are read into
// float, and the row's maximum and sum are taken in float.
#include "tfish_common.cuh"

#define TFISH_MASKED_SOFTMAX_THREADS 256

template <typename T>
__device__ __forceinline__ T tfish_masked_block_reduce(T* buffer, T value, bool take_max) {
    buffer[threadIdx.x] = value;
    __syncthreads();
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) {
            const T other = buffer[threadIdx.x + half];
            buffer[threadIdx.x] = take_max ? tfish_math<T>::max(buffer[threadIdx.x], other)
                                           : buffer[threadIdx.x] + other;
        }
        __syncthreads();
    }
    const T result = buffer[0];
    __syncthreads();  // the buffer is reused by the next reduction
    return result;
}

template <typename S>
__device__ void tfish_masked_softmax(typename S::stored* __restrict__ out,
                                     const typename S::stored* __restrict__ scores,
                                     const typename S::stored* __restrict__ keep, int n_rows,
                                     int n_cols, typename S::compute large_negative) {
    typedef typename S::compute T;
    typedef typename S::stored Stored;
    __shared__ T buffer[TFISH_MASKED_SOFTMAX_THREADS];
    for (int row = blockIdx.x; row < n_rows; row += gridDim.x) {
        const Stored* x = scores + (long long)row * n_cols;
        const Stored* k = keep + (long long)row * n_cols;
        Stored* y = out + (long long)row * n_cols;
        T largest = tfish_math<T>::neg_inf();
        for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
            largest = tfish_math<T>::max(largest,
                                         S::load(k[c]) != T(0) ? S::load(x[c]) : large_negative);
        }
        largest = tfish_masked_block_reduce(buffer, largest, true);
        T total = T(0);
        for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
            total += tfish_math<T>::exp((S::load(k[c]) != T(0) ? S::load(x[c]) : large_negative) -
                                        largest);
        }
        total = tfish_masked_block_reduce(buffer, total, false);
        const T inverse = T(1) / total;
        for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
            const bool kept = S::load(k[c]) != T(0);
            y[c] = S::store(kept ? tfish_math<T>::exp(S::load(x[c]) - largest) * inverse : T(0));
        }
    }
}

extern "C" __global__ void tfish_masked_softmax_f32(float* __restrict__ out,
                                                    const float* __restrict__ scores,
                                                    const float* __restrict__ keep, int n_rows,
                                                    int n_cols, float large_negative) {
    tfish_masked_softmax<tfish_f32>(out, scores, keep, n_rows, n_cols, large_negative);
}

extern "C" __global__ void tfish_masked_softmax_f64(double* __restrict__ out,
                                                    const double* __restrict__ scores,
                                                    const double* __restrict__ keep, int n_rows,
                                                    int n_cols, double large_negative) {
    tfish_masked_softmax<tfish_f64>(out, scores, keep, n_rows, n_cols, large_negative);
}

// float16/bfloat16 as their 16 bits; large_negative is a float
extern "C" __global__ void tfish_masked_softmax_f16(unsigned short* __restrict__ out,
                                                    const unsigned short* __restrict__ scores,
                                                    const unsigned short* __restrict__ keep,
                                                    int n_rows, int n_cols, float large_negative) {
    tfish_masked_softmax<tfish_f16>(out, scores, keep, n_rows, n_cols, large_negative);
}

extern "C" __global__ void tfish_masked_softmax_bf16(unsigned short* __restrict__ out,
                                                     const unsigned short* __restrict__ scores,
                                                     const unsigned short* __restrict__ keep,
                                                     int n_rows, int n_cols,
                                                     float large_negative) {
    tfish_masked_softmax<tfish_bf16>(out, scores, keep, n_rows, n_cols, large_negative);
}
