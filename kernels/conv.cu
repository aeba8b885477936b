// Convolution and pooling kernels, NHWC. The GEMMs are cuBLAS (cupy.matmul); bias+activation and
// its backward are the dense layer's kernels (dense.cu). Launch shapes are set in
// kernels/conv_cuda.py; every kernel is a grid-stride loop over its output, one thread per
// element, and every backward is written as a gather (each input sums what it contributed to),
// so no atomics and the results are deterministic. One body per kernel, templated on the storage S
// (tfish_common.cuh): float16/bfloat16 are read into float, summed and compared in float.
#include "tfish_common.cuh"

// Geometry of a 2-D window over an NHWC input of (n, h, w, c): kernel (kh, kw), strides, dilations
// and the padding before each axis (top, left); the output is (n, out_h, out_w, ...).
struct tfish_window {
    int n, h, w, c, kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, pad_left, out_h,
        out_w;
};

// The patch matrix: cols[((b*out_h + oh)*out_w + ow), ((i*kw + j)*c + ch)] = x at the window's
// tap (i, j), or 0 in the padding.
template <typename S>
__device__ void tfish_im2col(typename S::stored* __restrict__ cols,
                             const typename S::stored* __restrict__ x, tfish_window g) {
    typedef typename S::compute T;
    const long long total = (long long)g.n * g.out_h * g.out_w * g.kh * g.kw * g.c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < total;
         index += stride) {
        long long rest = index;
        const int ch = rest % g.c; rest /= g.c;
        const int j = rest % g.kw; rest /= g.kw;
        const int i = rest % g.kh; rest /= g.kh;
        const int ow = rest % g.out_w; rest /= g.out_w;
        const int oh = rest % g.out_h;
        const int b = rest / g.out_h;
        const int ih = oh * g.stride_h + i * g.dilation_h - g.pad_top;
        const int iw = ow * g.stride_w + j * g.dilation_w - g.pad_left;
        const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        cols[index] = inside ? x[(((long long)b * g.h + ih) * g.w + iw) * g.c + ch]
                             : S::store(T(0));
    }
}

// The adjoint of im2col: dx at each input pixel is the sum of the patch entries that read it.
template <typename S>
__device__ void tfish_col2im(typename S::stored* __restrict__ dx,
                             const typename S::stored* __restrict__ dcols, tfish_window g) {
    typedef typename S::compute T;
    const long long total = (long long)g.n * g.h * g.w * g.c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    const long long row = (long long)g.kh * g.kw * g.c;  // one patch row of dcols
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < total;
         index += stride) {
        long long rest = index;
        const int ch = rest % g.c; rest /= g.c;
        const int iw = rest % g.w; rest /= g.w;
        const int ih = rest % g.h;
        const int b = rest / g.h;
        T sum = T(0);
        for (int i = 0; i < g.kh; ++i) {
            const int th = ih + g.pad_top - i * g.dilation_h;  // = oh * stride_h
            if (th < 0 || th % g.stride_h) continue;
            const int oh = th / g.stride_h;
            if (oh >= g.out_h) continue;
            for (int j = 0; j < g.kw; ++j) {
                const int tw = iw + g.pad_left - j * g.dilation_w;
                if (tw < 0 || tw % g.stride_w) continue;
                const int ow = tw / g.stride_w;
                if (ow >= g.out_w) continue;
                sum += S::load(dcols[(((long long)b * g.out_h + oh) * g.out_w + ow) * row +
                                     (i * g.kw + j) * g.c + ch]);
            }
        }
        dx[index] = S::store(sum);
    }
}

// Max pooling: y = the window's maximum, argmax = the offset i*kw + j of its first maximum.
// Padding never wins; a window of padding only (refused by the caller) would give -inf.
template <typename S>
__device__ void tfish_max_pool_forward(typename S::stored* __restrict__ y,
                                       int* __restrict__ argmax,
                                       const typename S::stored* __restrict__ x, tfish_window g) {
    typedef typename S::compute T;
    typedef tfish_math<T> M;
    const long long total = (long long)g.n * g.out_h * g.out_w * g.c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < total;
         index += stride) {
        long long rest = index;
        const int ch = rest % g.c; rest /= g.c;
        const int ow = rest % g.out_w; rest /= g.out_w;
        const int oh = rest % g.out_h;
        const int b = rest / g.out_h;
        T best = M::neg_inf();
        int winner = 0;
        bool found = false;
        for (int i = 0; i < g.kh; ++i) {
            const int ih = oh * g.stride_h + i * g.dilation_h - g.pad_top;
            if (ih < 0 || ih >= g.h) continue;
            for (int j = 0; j < g.kw; ++j) {
                const int iw = ow * g.stride_w + j * g.dilation_w - g.pad_left;
                if (iw < 0 || iw >= g.w) continue;
                const T value = S::load(x[(((long long)b * g.h + ih) * g.w + iw) * g.c + ch]);
                if (!found || value > best) {
                    best = value;
                    winner = i * g.kw + j;
                    found = true;
                }
            }
        }
        y[index] = S::store(best);
        argmax[index] = winner;
    }
}

// The gradient of max pooling: dx at each input is the sum of dy over the windows it won.
template <typename S>
__device__ void tfish_max_pool_backward(typename S::stored* __restrict__ dx,
                                        const typename S::stored* __restrict__ dy,
                                        const int* __restrict__ argmax, tfish_window g) {
    typedef typename S::compute T;
    const long long total = (long long)g.n * g.h * g.w * g.c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < total;
         index += stride) {
        long long rest = index;
        const int ch = rest % g.c; rest /= g.c;
        const int iw = rest % g.w; rest /= g.w;
        const int ih = rest % g.h;
        const int b = rest / g.h;
        T sum = T(0);
        for (int i = 0; i < g.kh; ++i) {
            const int th = ih + g.pad_top - i * g.dilation_h;
            if (th < 0 || th % g.stride_h || th / g.stride_h >= g.out_h) continue;
            for (int j = 0; j < g.kw; ++j) {
                const int tw = iw + g.pad_left - j * g.dilation_w;
                if (tw < 0 || tw % g.stride_w || tw / g.stride_w >= g.out_w) continue;
                const long long out = (((long long)b * g.out_h + th / g.stride_h) * g.out_w +
                                       tw / g.stride_w) * g.c + ch;
                if (argmax[out] == i * g.kw + j) sum += S::load(dy[out]);
            }
        }
        dx[index] = S::store(sum);
    }
}

// The adjoint of max_pool_backward: out = u read at each window's winner.
template <typename S>
__device__ void tfish_max_pool_gather(typename S::stored* __restrict__ out,
                                      const typename S::stored* __restrict__ u,
                                      const int* __restrict__ argmax, tfish_window g) {
    typedef typename S::compute T;
    const long long total = (long long)g.n * g.out_h * g.out_w * g.c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < total;
         index += stride) {
        long long rest = index;
        const int ch = rest % g.c; rest /= g.c;
        const int ow = rest % g.out_w; rest /= g.out_w;
        const int oh = rest % g.out_h;
        const int b = rest / g.out_h;
        const int i = argmax[index] / g.kw, j = argmax[index] % g.kw;
        const int ih = oh * g.stride_h + i * g.dilation_h - g.pad_top;
        const int iw = ow * g.stride_w + j * g.dilation_w - g.pad_left;
        const bool inside = ih >= 0 && ih < g.h && iw >= 0 && iw < g.w;
        out[index] = inside ? u[(((long long)b * g.h + ih) * g.w + iw) * g.c + ch]
                            : S::store(T(0));
    }
}

// How many real (not padding) inputs the window of output (oh, ow) covers.
__device__ __forceinline__ int tfish_window_count(int oh, int ow, const tfish_window& g) {
    int rows = 0, columns = 0;
    for (int i = 0; i < g.kh; ++i) {
        const int ih = oh * g.stride_h + i * g.dilation_h - g.pad_top;
        rows += ih >= 0 && ih < g.h;
    }
    for (int j = 0; j < g.kw; ++j) {
        const int iw = ow * g.stride_w + j * g.dilation_w - g.pad_left;
        columns += iw >= 0 && iw < g.w;
    }
    return rows * columns;
}

// Average pooling over the real inputs of each window (TensorFlow does not count padding).
template <typename S>
__device__ void tfish_avg_pool_forward(typename S::stored* __restrict__ y,
                                       const typename S::stored* __restrict__ x,
                                       tfish_window g) {
    typedef typename S::compute T;
    const long long total = (long long)g.n * g.out_h * g.out_w * g.c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < total;
         index += stride) {
        long long rest = index;
        const int ch = rest % g.c; rest /= g.c;
        const int ow = rest % g.out_w; rest /= g.out_w;
        const int oh = rest % g.out_h;
        const int b = rest / g.out_h;
        T sum = T(0);
        for (int i = 0; i < g.kh; ++i) {
            const int ih = oh * g.stride_h + i * g.dilation_h - g.pad_top;
            if (ih < 0 || ih >= g.h) continue;
            for (int j = 0; j < g.kw; ++j) {
                const int iw = ow * g.stride_w + j * g.dilation_w - g.pad_left;
                if (iw < 0 || iw >= g.w) continue;
                sum += S::load(x[(((long long)b * g.h + ih) * g.w + iw) * g.c + ch]);
            }
        }
        y[index] = S::store(sum / T(tfish_window_count(oh, ow, g)));
    }
}

// The gradient of average pooling: each input gets dy / count from every window it is in.
template <typename S>
__device__ void tfish_avg_pool_backward(typename S::stored* __restrict__ dx,
                                        const typename S::stored* __restrict__ dy,
                                        tfish_window g) {
    typedef typename S::compute T;
    const long long total = (long long)g.n * g.h * g.w * g.c;
    const long long stride = (long long)gridDim.x * blockDim.x;
    for (long long index = (long long)blockIdx.x * blockDim.x + threadIdx.x; index < total;
         index += stride) {
        long long rest = index;
        const int ch = rest % g.c; rest /= g.c;
        const int iw = rest % g.w; rest /= g.w;
        const int ih = rest % g.h;
        const int b = rest / g.h;
        T sum = T(0);
        for (int i = 0; i < g.kh; ++i) {
            const int th = ih + g.pad_top - i * g.dilation_h;
            if (th < 0 || th % g.stride_h || th / g.stride_h >= g.out_h) continue;
            for (int j = 0; j < g.kw; ++j) {
                const int tw = iw + g.pad_left - j * g.dilation_w;
                if (tw < 0 || tw % g.stride_w || tw / g.stride_w >= g.out_w) continue;
                const int oh = th / g.stride_h, ow = tw / g.stride_w;
                const long long out = (((long long)b * g.out_h + oh) * g.out_w + ow) * g.c + ch;
                sum += S::load(dy[out]) / T(tfish_window_count(oh, ow, g));
            }
        }
        dx[index] = S::store(sum);
    }
}

// Entry points, written out (the emulator reads their C signatures): the geometry travels as
// 14 ints, as CuPy passes no structs.
// _f16/_bf16 take their 16-bit arrays as unsigned short.
#define TFISH_WINDOW                                                                         \
    tfish_window { n, h, w, c, kh, kw, stride_h, stride_w, dilation_h, dilation_w, pad_top, \
                   pad_left, out_h, out_w }

extern "C" __global__ void tfish_im2col_f32(
    float* __restrict__ cols, const float* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_im2col<tfish_f32>(cols, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_im2col_f64(
    double* __restrict__ cols, const double* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_im2col<tfish_f64>(cols, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_im2col_f16(
    unsigned short* __restrict__ cols, const unsigned short* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_im2col<tfish_f16>(cols, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_im2col_bf16(
    unsigned short* __restrict__ cols, const unsigned short* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_im2col<tfish_bf16>(cols, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_col2im_f32(
    float* __restrict__ dx, const float* __restrict__ dcols,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_col2im<tfish_f32>(dx, dcols, TFISH_WINDOW);
}
extern "C" __global__ void tfish_col2im_f64(
    double* __restrict__ dx, const double* __restrict__ dcols,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_col2im<tfish_f64>(dx, dcols, TFISH_WINDOW);
}
extern "C" __global__ void tfish_col2im_f16(
    unsigned short* __restrict__ dx, const unsigned short* __restrict__ dcols,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_col2im<tfish_f16>(dx, dcols, TFISH_WINDOW);
}
extern "C" __global__ void tfish_col2im_bf16(
    unsigned short* __restrict__ dx, const unsigned short* __restrict__ dcols,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_col2im<tfish_bf16>(dx, dcols, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_forward_f32(
    float* __restrict__ y, int* __restrict__ argmax, const float* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_forward<tfish_f32>(y, argmax, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_forward_f64(
    double* __restrict__ y, int* __restrict__ argmax, const double* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_forward<tfish_f64>(y, argmax, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_forward_f16(
    unsigned short* __restrict__ y, int* __restrict__ argmax, const unsigned short* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_forward<tfish_f16>(y, argmax, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_forward_bf16(
    unsigned short* __restrict__ y, int* __restrict__ argmax, const unsigned short* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_forward<tfish_bf16>(y, argmax, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_backward_f32(
    float* __restrict__ dx, const float* __restrict__ dy, const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_backward<tfish_f32>(dx, dy, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_backward_f64(
    double* __restrict__ dx, const double* __restrict__ dy, const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_backward<tfish_f64>(dx, dy, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_backward_f16(
    unsigned short* __restrict__ dx, const unsigned short* __restrict__ dy,
    const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_backward<tfish_f16>(dx, dy, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_backward_bf16(
    unsigned short* __restrict__ dx, const unsigned short* __restrict__ dy,
    const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_backward<tfish_bf16>(dx, dy, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_gather_f32(
    float* __restrict__ out, const float* __restrict__ u, const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_gather<tfish_f32>(out, u, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_gather_f64(
    double* __restrict__ out, const double* __restrict__ u, const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_gather<tfish_f64>(out, u, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_gather_f16(
    unsigned short* __restrict__ out, const unsigned short* __restrict__ u,
    const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_gather<tfish_f16>(out, u, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_max_pool_gather_bf16(
    unsigned short* __restrict__ out, const unsigned short* __restrict__ u,
    const int* __restrict__ argmax,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_max_pool_gather<tfish_bf16>(out, u, argmax, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_forward_f32(
    float* __restrict__ y, const float* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_forward<tfish_f32>(y, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_forward_f64(
    double* __restrict__ y, const double* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_forward<tfish_f64>(y, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_forward_f16(
    unsigned short* __restrict__ y, const unsigned short* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_forward<tfish_f16>(y, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_forward_bf16(
    unsigned short* __restrict__ y, const unsigned short* __restrict__ x,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_forward<tfish_bf16>(y, x, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_backward_f32(
    float* __restrict__ dx, const float* __restrict__ dy,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_backward<tfish_f32>(dx, dy, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_backward_f64(
    double* __restrict__ dx, const double* __restrict__ dy,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_backward<tfish_f64>(dx, dy, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_backward_f16(
    unsigned short* __restrict__ dx, const unsigned short* __restrict__ dy,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_backward<tfish_f16>(dx, dy, TFISH_WINDOW);
}
extern "C" __global__ void tfish_avg_pool_backward_bf16(
    unsigned short* __restrict__ dx, const unsigned short* __restrict__ dy,
    int n, int h, int w, int c, int kh, int kw, int stride_h, int stride_w, int dilation_h,
    int dilation_w, int pad_top, int pad_left, int out_h, int out_w) {
    tfish_avg_pool_backward<tfish_bf16>(dx, dy, TFISH_WINDOW);
}
