// Softmax cross-entropy fused with its gradient, one block per row (grid-stride over rows).
//   loss[r] = -sum_c labels[r, c] * log_softmax(logits[r])[c]
//   grad[r] = softmax(logits[r]) - labels[r]
// Stable: everything is computed from logits - max(logits), so logits of +-1000 stay finite.
// Launch with blockDim.x a power of two <= TFISH_SOFTMAX_MAX_THREADS (see kernels/cuda.py).
// One body per kernel, templated on the storage S (tfish_common.cuh): float16 and bfloat16 rows
// are read into float and every sum is taken in float, as TensorFlow's half-precision kernel does.
#include "tfish_common.cuh"

#define TFISH_SOFTMAX_MAX_THREADS 256

// Tree reduction of buffer[0 .. blockDim.x) into buffer[0]; every thread must call it.
template <typename T>
__device__ __forceinline__ void tfish_block_sum(T* buffer) {
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) buffer[threadIdx.x] += buffer[threadIdx.x + half];
        __syncthreads();
    }
}

template <typename T>
__device__ __forceinline__ void tfish_block_max(T* buffer) {
    for (int half = blockDim.x / 2; half > 0; half /= 2) {
        if ((int)threadIdx.x < half) {
            buffer[threadIdx.x] = tfish_math<T>::max(buffer[threadIdx.x], buffer[threadIdx.x + half]);
        }
        __syncthreads();
    }
}

// Row maximum of `x` (n_cols values), returned to every thread of the block.
template <typename S>
__device__ __forceinline__ typename S::compute tfish_row_max(
    const typename S::stored* __restrict__ x, int n_cols, typename S::compute* buffer) {
    typedef typename S::compute T;
    T largest = tfish_math<T>::neg_inf();
    for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
        largest = tfish_math<T>::max(largest, S::load(x[c]));
    }
    buffer[threadIdx.x] = largest;
    __syncthreads();
    tfish_block_max(buffer);
    largest = buffer[0];
    __syncthreads();  // buffer is reused by the caller
    return largest;
}

template <typename S>
__device__ void tfish_softmax_cross_entropy(typename S::stored* __restrict__ loss,
                                            typename S::stored* __restrict__ grad,
                                            const typename S::stored* __restrict__ logits,
                                            const typename S::stored* __restrict__ labels,
                                            int n_rows, int n_cols) {
    typedef typename S::compute T;
    typedef typename S::stored Stored;
    typedef tfish_math<T> M;
    __shared__ T exp_sums[TFISH_SOFTMAX_MAX_THREADS];
    __shared__ T label_dot_shifted[TFISH_SOFTMAX_MAX_THREADS];  // sum labels * (x - max)
    __shared__ T label_sums[TFISH_SOFTMAX_MAX_THREADS];
    for (int row = blockIdx.x; row < n_rows; row += gridDim.x) {
        const Stored* x = logits + (long long)row * n_cols;
        const Stored* l = labels + (long long)row * n_cols;
        Stored* g = grad + (long long)row * n_cols;
        const T largest = tfish_row_max<S>(x, n_cols, exp_sums);
        T exp_sum = T(0), dot = T(0), label_sum = T(0);
        for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
            const T shifted = S::load(x[c]) - largest;
            const T label = S::load(l[c]);
            exp_sum += M::exp(shifted);
            dot += label * shifted;
            label_sum += label;
        }
        exp_sums[threadIdx.x] = exp_sum;
        label_dot_shifted[threadIdx.x] = dot;
        label_sums[threadIdx.x] = label_sum;
        __syncthreads();
        tfish_block_sum(exp_sums);
        tfish_block_sum(label_dot_shifted);
        tfish_block_sum(label_sums);
        exp_sum = exp_sums[0];
        if (threadIdx.x == 0) {
            loss[row] = S::store(M::log(exp_sum) * label_sums[0] - label_dot_shifted[0]);
        }
        const T inverse_sum = T(1) / exp_sum;
        for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
            g[c] = S::store(M::exp(S::load(x[c]) - largest) * inverse_sum - S::load(l[c]));
        }
        __syncthreads();  // the next row reuses the shared buffers
    }
}

// Integer labels (N,); a label outside [0, n_cols) gives NaN loss and gradient for its row.
template <typename S>
__device__ void tfish_sparse_softmax_cross_entropy(typename S::stored* __restrict__ loss,
                                                   typename S::stored* __restrict__ grad,
                                                   const typename S::stored* __restrict__ logits,
                                                   const long long* __restrict__ labels,
                                                   int n_rows, int n_cols) {
    typedef typename S::compute T;
    typedef typename S::stored Stored;
    typedef tfish_math<T> M;
    __shared__ T exp_sums[TFISH_SOFTMAX_MAX_THREADS];
    for (int row = blockIdx.x; row < n_rows; row += gridDim.x) {
        const Stored* x = logits + (long long)row * n_cols;
        Stored* g = grad + (long long)row * n_cols;
        const long long label = labels[row];
        const bool valid = label >= 0 && label < n_cols;
        const T largest = tfish_row_max<S>(x, n_cols, exp_sums);
        T exp_sum = T(0);
        for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
            exp_sum += M::exp(S::load(x[c]) - largest);
        }
        exp_sums[threadIdx.x] = exp_sum;
        __syncthreads();
        tfish_block_sum(exp_sums);
        exp_sum = exp_sums[0];
        if (threadIdx.x == 0) {
            loss[row] = S::store(valid ? M::log(exp_sum) - (S::load(x[label]) - largest)
                                       : M::nan());
        }
        const T inverse_sum = T(1) / exp_sum;
        for (int c = threadIdx.x; c < n_cols; c += blockDim.x) {
            const T softmax = M::exp(S::load(x[c]) - largest) * inverse_sum;
            g[c] = S::store(valid ? softmax - (c == label ? T(1) : T(0)) : M::nan());
        }
        __syncthreads();  // the next row reuses the shared buffer
    }
}

extern "C" __global__ void tfish_softmax_cross_entropy_f32(float* __restrict__ loss,
                                                           float* __restrict__ grad,
                                                           const float* __restrict__ logits,
                                                           const float* __restrict__ labels,
                                                           int n_rows, int n_cols) {
    tfish_softmax_cross_entropy<tfish_f32>(loss, grad, logits, labels, n_rows, n_cols);
}
extern "C" __global__ void tfish_softmax_cross_entropy_f64(double* __restrict__ loss,
                                                           double* __restrict__ grad,
                                                           const double* __restrict__ logits,
                                                           const double* __restrict__ labels,
                                                           int n_rows, int n_cols) {
    tfish_softmax_cross_entropy<tfish_f64>(loss, grad, logits, labels, n_rows, n_cols);
}
extern "C" __global__ void tfish_softmax_cross_entropy_f16(
    unsigned short* __restrict__ loss, unsigned short* __restrict__ grad,
    const unsigned short* __restrict__ logits, const unsigned short* __restrict__ labels,
    int n_rows, int n_cols) {
    tfish_softmax_cross_entropy<tfish_f16>(loss, grad, logits, labels, n_rows, n_cols);
}
extern "C" __global__ void tfish_softmax_cross_entropy_bf16(
    unsigned short* __restrict__ loss, unsigned short* __restrict__ grad,
    const unsigned short* __restrict__ logits, const unsigned short* __restrict__ labels,
    int n_rows, int n_cols) {
    tfish_softmax_cross_entropy<tfish_bf16>(loss, grad, logits, labels, n_rows, n_cols);
}

extern "C" __global__ void tfish_sparse_softmax_cross_entropy_f32(
    float* __restrict__ loss, float* __restrict__ grad, const float* __restrict__ logits,
    const long long* __restrict__ labels, int n_rows, int n_cols) {
    tfish_sparse_softmax_cross_entropy<tfish_f32>(loss, grad, logits, labels, n_rows, n_cols);
}
extern "C" __global__ void tfish_sparse_softmax_cross_entropy_f64(
    double* __restrict__ loss, double* __restrict__ grad, const double* __restrict__ logits,
    const long long* __restrict__ labels, int n_rows, int n_cols) {
    tfish_sparse_softmax_cross_entropy<tfish_f64>(loss, grad, logits, labels, n_rows, n_cols);
}
extern "C" __global__ void tfish_sparse_softmax_cross_entropy_f16(
    unsigned short* __restrict__ loss, unsigned short* __restrict__ grad,
    const unsigned short* __restrict__ logits, const long long* __restrict__ labels, int n_rows,
    int n_cols) {
    tfish_sparse_softmax_cross_entropy<tfish_f16>(loss, grad, logits, labels, n_rows, n_cols);
}
extern "C" __global__ void tfish_sparse_softmax_cross_entropy_bf16(
    unsigned short* __restrict__ loss, unsigned short* __restrict__ grad,
    const unsigned short* __restrict__ logits, const long long* __restrict__ labels, int n_rows,
    int n_cols) {
    tfish_sparse_softmax_cross_entropy<tfish_bf16>(loss, grad, logits, labels, n_rows, n_cols);
}
