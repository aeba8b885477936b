// Dense layer kernels: y = act(x @ W + b) and its backward pass.
// The GEMMs themselves are cuBLAS (cupy.matmul) except in tfish_dense_fused_*, which computes a
// whole small layer in one launch. Launch shapes are set in kernels/cuda.py.
#include "tfish_common.cuh"

#define TFISH_DENSE_TILE 16     // tfish_dense_fused_*: blocks of TILE x TILE threads
#define TFISH_COLSUM_WIDTH 32   // tfish_column_sum_*: blocks of WIDTH x ROWS threads
#define TFISH_COLSUM_ROWS 8

// y = act(pre + bias), row-major (n_rows, n_cols). `pre` holds x @ W on entry; with save_pre it
// is overwritten with x @ W + bias (the backward of gelu needs it), otherwise the caller passes
// the same buffer for pre and y (so neither pointer is __restrict__). Templated on the storage S
// (tfish_common.cuh): float16/bfloat16 are read into float and stored rounded.
template <typename S>
__device__ void tfish_bias_act_forward(typename S::stored* pre, typename S::stored* y,
                                       const typename S::stored* __restrict__ bias, int n_rows,
                                       int n_cols, int activation, typename S::compute alpha,
                                       int save_pre) {
    typedef typename S::compute T;
    const long long n = (long long)n_rows * n_cols;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T z = S::load(pre[i]) + S::load(bias[i % n_cols]);
        if (save_pre) pre[i] = S::store(z);
        y[i] = S::store(tfish_activate<T>(z, activation, alpha));
    }
}

// The whole layer in one launch, for small layers where launch overhead dominates: each block
// computes a TILE x TILE tile of y from TILE-wide slabs of x and W staged in shared memory.
// Threads outside the matrix still take part in loading and in every barrier.
template <typename T>
__device__ void tfish_dense_fused(const T* __restrict__ x, const T* __restrict__ w,
                                  const T* __restrict__ bias, T* pre, T* y, int n, int k, int m,
                                  int activation, T alpha, int save_pre) {
    __shared__ T x_tile[TFISH_DENSE_TILE][TFISH_DENSE_TILE];
    __shared__ T w_tile[TFISH_DENSE_TILE][TFISH_DENSE_TILE];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int row = blockIdx.y * TFISH_DENSE_TILE + ty;
    const int col = blockIdx.x * TFISH_DENSE_TILE + tx;
    T acc = T(0);
    for (int k0 = 0; k0 < k; k0 += TFISH_DENSE_TILE) {
        x_tile[ty][tx] = (row < n && k0 + tx < k) ? x[(long long)row * k + k0 + tx] : T(0);
        w_tile[ty][tx] = (k0 + ty < k && col < m) ? w[(long long)(k0 + ty) * m + col] : T(0);
        __syncthreads();
        for (int j = 0; j < TFISH_DENSE_TILE; ++j) acc += x_tile[ty][j] * w_tile[j][tx];
        __syncthreads();  // the next slab overwrites the tiles
    }
    if (row < n && col < m) {
        const long long i = (long long)row * m + col;
        const T z = acc + bias[col];
        if (save_pre) pre[i] = z;
        y[i] = tfish_activate(z, activation, alpha);
    }
}

// g = dy * act'(y or pre), one pass. g may be dy itself (the caller gave up dy).
template <typename S>
__device__ void tfish_activation_backward(typename S::stored* g, const typename S::stored* dy,
                                          const typename S::stored* __restrict__ y,
                                          const typename S::stored* __restrict__ pre, int n,
                                          int activation, typename S::compute alpha) {
    typedef typename S::compute T;
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        g[i] = S::store(S::load(dy[i]) * tfish_activation_derivative<T>(
                                             S::load(y[i]), S::load(pre[i]), activation, alpha));
    }
}

// out[c] = sum over rows of g[r, c]. Block (WIDTH, ROWS): each thread sums every ROWS-th row of
// one column, then the ROWS partial sums of a column are added in shared memory. The sums are
// taken in S::compute: float for float16/bfloat16, as TensorFlow's half-precision reductions.
template <typename S>
__device__ void tfish_column_sum(typename S::stored* __restrict__ out,
                                 const typename S::stored* __restrict__ g, int n_rows,
                                 int n_cols) {
    typedef typename S::compute T;
    __shared__ T partial[TFISH_COLSUM_ROWS][TFISH_COLSUM_WIDTH];
    const int tx = threadIdx.x, ty = threadIdx.y;
    const int col = blockIdx.x * TFISH_COLSUM_WIDTH + tx;
    T sum = T(0);
    if (col < n_cols) {
        for (int r = ty; r < n_rows; r += TFISH_COLSUM_ROWS) {
            sum += S::load(g[(long long)r * n_cols + col]);
        }
    }
    partial[ty][tx] = sum;
    __syncthreads();
    for (int half = TFISH_COLSUM_ROWS / 2; half > 0; half /= 2) {
        if (ty < half) partial[ty][tx] += partial[ty + half][tx];
        __syncthreads();
    }
    if (ty == 0 && col < n_cols) out[col] = S::store(partial[0][tx]);
}

extern "C" __global__ void tfish_bias_act_forward_f32(float* pre, float* y,
                                                      const float* __restrict__ bias, int n_rows,
                                                      int n_cols, int activation, float alpha,
                                                      int save_pre) {
    tfish_bias_act_forward<tfish_f32>(pre, y, bias, n_rows, n_cols, activation, alpha, save_pre);
}
extern "C" __global__ void tfish_bias_act_forward_f64(double* pre, double* y,
                                                      const double* __restrict__ bias, int n_rows,
                                                      int n_cols, int activation, double alpha,
                                                      int save_pre) {
    tfish_bias_act_forward<tfish_f64>(pre, y, bias, n_rows, n_cols, activation, alpha, save_pre);
}

extern "C" __global__ void tfish_dense_fused_f32(const float* __restrict__ x,
                                                 const float* __restrict__ w,
                                                 const float* __restrict__ bias, float* pre,
                                                 float* y, int n, int k, int m, int activation,
                                                 float alpha, int save_pre) {
    tfish_dense_fused<float>(x, w, bias, pre, y, n, k, m, activation, alpha, save_pre);
}
extern "C" __global__ void tfish_dense_fused_f64(const double* __restrict__ x,
                                                 const double* __restrict__ w,
                                                 const double* __restrict__ bias, double* pre,
                                                 double* y, int n, int k, int m, int activation,
                                                 double alpha, int save_pre) {
    tfish_dense_fused<double>(x, w, bias, pre, y, n, k, m, activation, alpha, save_pre);
}

extern "C" __global__ void tfish_activation_backward_f32(float* g, const float* dy,
                                                         const float* __restrict__ y,
                                                         const float* __restrict__ pre, int n,
                                                         int activation, float alpha) {
    tfish_activation_backward<tfish_f32>(g, dy, y, pre, n, activation, alpha);
}
extern "C" __global__ void tfish_activation_backward_f64(double* g, const double* dy,
                                                         const double* __restrict__ y,
                                                         const double* __restrict__ pre, int n,
                                                         int activation, double alpha) {
    tfish_activation_backward<tfish_f64>(g, dy, y, pre, n, activation, alpha);
}

extern "C" __global__ void tfish_column_sum_f32(float* __restrict__ out,
                                                const float* __restrict__ g, int n_rows,
                                                int n_cols) {
    tfish_column_sum<tfish_f32>(out, g, n_rows, n_cols);
}
extern "C" __global__ void tfish_column_sum_f64(double* __restrict__ out,
                                                const double* __restrict__ g, int n_rows,
                                                int n_cols) {
    tfish_column_sum<tfish_f64>(out, g, n_rows, n_cols);
}

// ---- float16 / bfloat16: stored in 16 bits (unsigned short), computed in float -------------
extern "C" __global__ void tfish_bias_act_forward_f16(unsigned short* pre, unsigned short* y,
                                                      const unsigned short* __restrict__ bias,
                                                      int n_rows, int n_cols, int activation,
                                                      float alpha, int save_pre) {
    tfish_bias_act_forward<tfish_f16>(pre, y, bias, n_rows, n_cols, activation, alpha, save_pre);
}
extern "C" __global__ void tfish_bias_act_forward_bf16(unsigned short* pre, unsigned short* y,
                                                       const unsigned short* __restrict__ bias,
                                                       int n_rows, int n_cols, int activation,
                                                       float alpha, int save_pre) {
    tfish_bias_act_forward<tfish_bf16>(pre, y, bias, n_rows, n_cols, activation, alpha,
                                       save_pre);
}

extern "C" __global__ void tfish_activation_backward_f16(unsigned short* g,
                                                         const unsigned short* dy,
                                                         const unsigned short* __restrict__ y,
                                                         const unsigned short* __restrict__ pre,
                                                         int n, int activation, float alpha) {
    tfish_activation_backward<tfish_f16>(g, dy, y, pre, n, activation, alpha);
}
extern "C" __global__ void tfish_activation_backward_bf16(unsigned short* g,
                                                          const unsigned short* dy,
                                                          const unsigned short* __restrict__ y,
                                                          const unsigned short* __restrict__ pre,
                                                          int n, int activation, float alpha) {
    tfish_activation_backward<tfish_bf16>(g, dy, y, pre, n, activation, alpha);
}

extern "C" __global__ void tfish_column_sum_f16(unsigned short* __restrict__ out,
                                                const unsigned short* __restrict__ g, int n_rows,
                                                int n_cols) {
    tfish_column_sum<tfish_f16>(out, g, n_rows, n_cols);
}
extern "C" __global__ void tfish_column_sum_bf16(unsigned short* __restrict__ out,
                                                 const unsigned short* __restrict__ g, int n_rows,
                                                 int n_cols) {
    tfish_column_sum<tfish_bf16>(out, g, n_rows, n_cols);
}
