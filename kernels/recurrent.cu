// The fused per-step gate passes of the recurrent cells (see kernels/recurrent.py for the
// NumPy twins and the launchers). One thread per (batch row, unit), grid-stride loops.
// Gate layouts are Keras 3's: LSTM [i | f | c | o], GRU (reset_after) [z | r | h].
// keep[b] is 1 for a step that counts and 0 for a masked one (the state is carried through).
// One body per kernel, templated on the storage S (tfish_common.cuh): float16/bfloat16 are read
// into float, the gates computed in float and stored rounded (the backward pass reads the stored
// gates, as the float32 kernels read theirs).
#include "tfish_common.cuh"

template <typename T>
__device__ __forceinline__ T tfish_sigmoid(T z) {
    return T(1) / (T(1) + tfish_math<T>::exp(-z));
}

// z (batch, 4 units): pre-activations in, gates out. c = f c_prev + i g, h = o tanh(c).
template <typename S>
__device__ void tfish_lstm_forward_step(typename S::stored* __restrict__ z,
                                        const typename S::stored* __restrict__ c_prev,
                                        const typename S::stored* __restrict__ h_prev,
                                        const typename S::stored* __restrict__ keep,
                                        typename S::stored* __restrict__ c,
                                        typename S::stored* __restrict__ h,
                                        typename S::stored* __restrict__ tanh_c, int batch,
                                        int units) {
    typedef typename S::compute T;
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        typename S::stored* row = z + (size_t)b * 4 * units;
        const T i = tfish_sigmoid(S::load(row[j]));
        const T f = tfish_sigmoid(S::load(row[units + j]));
        const T g = tfish_math<T>::tanh(S::load(row[2 * units + j]));
        const T o = tfish_sigmoid(S::load(row[3 * units + j]));
        row[j] = S::store(i);
        row[units + j] = S::store(f);
        row[2 * units + j] = S::store(g);
        row[3 * units + j] = S::store(o);
        const T c_new = f * S::load(c_prev[index]) + i * g;
        const T t = tfish_math<T>::tanh(c_new);
        tanh_c[index] = S::store(t);
        if (S::load(keep[b]) != T(0)) {
            c[index] = S::store(c_new);
            h[index] = S::store(o * t);
        } else {
            c[index] = c_prev[index];
            h[index] = h_prev[index];
        }
    }
}

// dh, dc in: gradients reaching h_t, c_t. Out: dz (batch, 4 units); dc <- gradient reaching
// c_prev; dh <- the part reaching h_prev directly (through a masked step; 0 otherwise).
template <typename S>
__device__ void tfish_lstm_backward_step(typename S::stored* __restrict__ dh,
                                         typename S::stored* __restrict__ dc,
                                         const typename S::stored* __restrict__ gates,
                                         const typename S::stored* __restrict__ c_prev,
                                         const typename S::stored* __restrict__ tanh_c,
                                         const typename S::stored* __restrict__ keep,
                                         typename S::stored* __restrict__ dz, int batch,
                                         int units) {
    typedef typename S::compute T;
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        const typename S::stored* row = gates + (size_t)b * 4 * units;
        typename S::stored* drow = dz + (size_t)b * 4 * units;
        const T k = S::load(keep[b]);
        const T dh_in = S::load(dh[index]), dc_in = S::load(dc[index]);
        const T dh_step = dh_in * k;
        const T i = S::load(row[j]), f = S::load(row[units + j]);
        const T g = S::load(row[2 * units + j]), o = S::load(row[3 * units + j]);
        const T t = S::load(tanh_c[index]);
        const T dc_step = dc_in * k + dh_step * o * (T(1) - t * t);
        drow[j] = S::store(dc_step * g * i * (T(1) - i));
        drow[units + j] = S::store(dc_step * S::load(c_prev[index]) * f * (T(1) - f));
        drow[2 * units + j] = S::store(dc_step * i * (T(1) - g * g));
        drow[3 * units + j] = S::store(dh_step * t * o * (T(1) - o));
        dc[index] = S::store(dc_step * f + dc_in * (T(1) - k));
        dh[index] = S::store(dh_in * (T(1) - k));
    }
}

// x_part (batch, 3 units): x W + b_in in, gates [z, r, hh] out; m: h_prev U + b_rec.
// h = z h_prev + (1 - z) hh, hh = tanh(x_h + r m_h); m_h (batch, units) keeps m's h column.
template <typename S>
__device__ void tfish_gru_forward_step(typename S::stored* __restrict__ x_part,
                                       const typename S::stored* __restrict__ m,
                                       const typename S::stored* __restrict__ h_prev,
                                       const typename S::stored* __restrict__ keep,
                                       typename S::stored* __restrict__ h,
                                       typename S::stored* __restrict__ m_h, int batch,
                                       int units) {
    typedef typename S::compute T;
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        typename S::stored* row = x_part + (size_t)b * 3 * units;
        const typename S::stored* mrow = m + (size_t)b * 3 * units;
        const T z = tfish_sigmoid(S::load(row[j]) + S::load(mrow[j]));
        const T r = tfish_sigmoid(S::load(row[units + j]) + S::load(mrow[units + j]));
        const T mh = S::load(mrow[2 * units + j]);
        const T hh = tfish_math<T>::tanh(S::load(row[2 * units + j]) + r * mh);
        row[j] = S::store(z);
        row[units + j] = S::store(r);
        row[2 * units + j] = S::store(hh);
        m_h[index] = mrow[2 * units + j];
        const T previous = S::load(h_prev[index]);
        h[index] = S::load(keep[b]) != T(0) ? S::store(hh + z * (previous - hh)) : h_prev[index];
    }
}

// dh in: gradient reaching h_t; out: the part reaching h_prev directly (dh z, or dh through a
// masked step). dx_part, dm (batch, 3 units): gradients of x W + b_in and h_prev U + b_rec.
template <typename S>
__device__ void tfish_gru_backward_step(typename S::stored* __restrict__ dh,
                                        const typename S::stored* __restrict__ gates,
                                        const typename S::stored* __restrict__ m_h,
                                        const typename S::stored* __restrict__ h_prev,
                                        const typename S::stored* __restrict__ keep,
                                        typename S::stored* __restrict__ dx_part,
                                        typename S::stored* __restrict__ dm, int batch,
                                        int units) {
    typedef typename S::compute T;
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        const typename S::stored* row = gates + (size_t)b * 3 * units;
        typename S::stored* dxrow = dx_part + (size_t)b * 3 * units;
        typename S::stored* dmrow = dm + (size_t)b * 3 * units;
        const T k = S::load(keep[b]);
        const T dh_in = S::load(dh[index]);
        const T d = dh_in * k;
        const T z = S::load(row[j]), r = S::load(row[units + j]);
        const T hh = S::load(row[2 * units + j]);
        const T da = d * (T(1) - z) * (T(1) - hh * hh);
        const T dz = d * (S::load(h_prev[index]) - hh) * z * (T(1) - z);
        const T dr = da * S::load(m_h[index]) * r * (T(1) - r);
        dxrow[j] = S::store(dz);
        dxrow[units + j] = S::store(dr);
        dxrow[2 * units + j] = S::store(da);
        dmrow[j] = S::store(dz);
        dmrow[units + j] = S::store(dr);
        dmrow[2 * units + j] = S::store(da * r);
        dh[index] = S::store(d * z + dh_in * (T(1) - k));
    }
}

// h = act(z) (TFISH_TANH or TFISH_RELU), or h_prev on a masked step.
template <typename S>
__device__ void tfish_simple_rnn_forward_step(const typename S::stored* __restrict__ z,
                                              const typename S::stored* __restrict__ h_prev,
                                              const typename S::stored* __restrict__ keep,
                                              typename S::stored* __restrict__ h, int batch,
                                              int units, int activation) {
    typedef typename S::compute T;
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units;
        h[index] = S::load(keep[b]) != T(0)
                       ? S::store(tfish_activate(S::load(z[index]), activation, T(0)))
                       : h_prev[index];
    }
}

// dz = dh act'(z) from the output h; dh <- the part reaching h_prev through a masked step.
template <typename S>
__device__ void tfish_simple_rnn_backward_step(typename S::stored* __restrict__ dh,
                                               const typename S::stored* __restrict__ h,
                                               const typename S::stored* __restrict__ keep,
                                               typename S::stored* __restrict__ dz, int batch,
                                               int units, int activation) {
    typedef typename S::compute T;
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units;
        const T k = S::load(keep[b]);
        const T dh_in = S::load(dh[index]);
        const T y = S::load(h[index]);
        const T slope = activation == TFISH_TANH ? T(1) - y * y : (y > T(0) ? T(1) : T(0));
        dz[index] = S::store(dh_in * k * slope);
        dh[index] = S::store(dh_in * (T(1) - k));
    }
}

// The kernels CuPy and the emulator load, one per precision (_f16/_bf16: 16-bit arrays as
// unsigned short).
extern "C" __global__ void tfish_lstm_forward_step_f32(
    float* __restrict__ z, const float* __restrict__ c_prev, const float* __restrict__ h_prev,
    const float* __restrict__ keep, float* __restrict__ c, float* __restrict__ h,
    float* __restrict__ tanh_c, int batch, int units) {
    tfish_lstm_forward_step<tfish_f32>(z, c_prev, h_prev, keep, c, h, tanh_c, batch, units);
}

extern "C" __global__ void tfish_lstm_forward_step_f64(
    double* __restrict__ z, const double* __restrict__ c_prev, const double* __restrict__ h_prev,
    const double* __restrict__ keep, double* __restrict__ c, double* __restrict__ h,
    double* __restrict__ tanh_c, int batch, int units) {
    tfish_lstm_forward_step<tfish_f64>(z, c_prev, h_prev, keep, c, h, tanh_c, batch, units);
}

extern "C" __global__ void tfish_lstm_forward_step_f16(
    unsigned short* __restrict__ z, const unsigned short* __restrict__ c_prev,
    const unsigned short* __restrict__ h_prev, const unsigned short* __restrict__ keep,
    unsigned short* __restrict__ c, unsigned short* __restrict__ h,
    unsigned short* __restrict__ tanh_c, int batch, int units) {
    tfish_lstm_forward_step<tfish_f16>(z, c_prev, h_prev, keep, c, h, tanh_c, batch, units);
}

extern "C" __global__ void tfish_lstm_forward_step_bf16(
    unsigned short* __restrict__ z, const unsigned short* __restrict__ c_prev,
    const unsigned short* __restrict__ h_prev, const unsigned short* __restrict__ keep,
    unsigned short* __restrict__ c, unsigned short* __restrict__ h,
    unsigned short* __restrict__ tanh_c, int batch, int units) {
    tfish_lstm_forward_step<tfish_bf16>(z, c_prev, h_prev, keep, c, h, tanh_c, batch, units);
}

extern "C" __global__ void tfish_lstm_backward_step_f32(
    float* __restrict__ dh, float* __restrict__ dc, const float* __restrict__ gates,
    const float* __restrict__ c_prev, const float* __restrict__ tanh_c,
    const float* __restrict__ keep, float* __restrict__ dz, int batch, int units) {
    tfish_lstm_backward_step<tfish_f32>(dh, dc, gates, c_prev, tanh_c, keep, dz, batch, units);
}

extern "C" __global__ void tfish_lstm_backward_step_f64(
    double* __restrict__ dh, double* __restrict__ dc, const double* __restrict__ gates,
    const double* __restrict__ c_prev, const double* __restrict__ tanh_c,
    const double* __restrict__ keep, double* __restrict__ dz, int batch, int units) {
    tfish_lstm_backward_step<tfish_f64>(dh, dc, gates, c_prev, tanh_c, keep, dz, batch, units);
}

extern "C" __global__ void tfish_lstm_backward_step_f16(
    unsigned short* __restrict__ dh, unsigned short* __restrict__ dc,
    const unsigned short* __restrict__ gates, const unsigned short* __restrict__ c_prev,
    const unsigned short* __restrict__ tanh_c, const unsigned short* __restrict__ keep,
    unsigned short* __restrict__ dz, int batch, int units) {
    tfish_lstm_backward_step<tfish_f16>(dh, dc, gates, c_prev, tanh_c, keep, dz, batch, units);
}

extern "C" __global__ void tfish_lstm_backward_step_bf16(
    unsigned short* __restrict__ dh, unsigned short* __restrict__ dc,
    const unsigned short* __restrict__ gates, const unsigned short* __restrict__ c_prev,
    const unsigned short* __restrict__ tanh_c, const unsigned short* __restrict__ keep,
    unsigned short* __restrict__ dz, int batch, int units) {
    tfish_lstm_backward_step<tfish_bf16>(dh, dc, gates, c_prev, tanh_c, keep, dz, batch, units);
}

extern "C" __global__ void tfish_gru_forward_step_f32(
    float* __restrict__ x_part, const float* __restrict__ m, const float* __restrict__ h_prev,
    const float* __restrict__ keep, float* __restrict__ h, float* __restrict__ m_h, int batch,
    int units) {
    tfish_gru_forward_step<tfish_f32>(x_part, m, h_prev, keep, h, m_h, batch, units);
}

extern "C" __global__ void tfish_gru_forward_step_f64(
    double* __restrict__ x_part, const double* __restrict__ m, const double* __restrict__ h_prev,
    const double* __restrict__ keep, double* __restrict__ h, double* __restrict__ m_h, int batch,
    int units) {
    tfish_gru_forward_step<tfish_f64>(x_part, m, h_prev, keep, h, m_h, batch, units);
}

extern "C" __global__ void tfish_gru_forward_step_f16(
    unsigned short* __restrict__ x_part, const unsigned short* __restrict__ m,
    const unsigned short* __restrict__ h_prev, const unsigned short* __restrict__ keep,
    unsigned short* __restrict__ h, unsigned short* __restrict__ m_h, int batch, int units) {
    tfish_gru_forward_step<tfish_f16>(x_part, m, h_prev, keep, h, m_h, batch, units);
}

extern "C" __global__ void tfish_gru_forward_step_bf16(
    unsigned short* __restrict__ x_part, const unsigned short* __restrict__ m,
    const unsigned short* __restrict__ h_prev, const unsigned short* __restrict__ keep,
    unsigned short* __restrict__ h, unsigned short* __restrict__ m_h, int batch, int units) {
    tfish_gru_forward_step<tfish_bf16>(x_part, m, h_prev, keep, h, m_h, batch, units);
}

extern "C" __global__ void tfish_gru_backward_step_f32(
    float* __restrict__ dh, const float* __restrict__ gates, const float* __restrict__ m_h,
    const float* __restrict__ h_prev, const float* __restrict__ keep, float* __restrict__ dx_part,
    float* __restrict__ dm, int batch, int units) {
    tfish_gru_backward_step<tfish_f32>(dh, gates, m_h, h_prev, keep, dx_part, dm, batch, units);
}

extern "C" __global__ void tfish_gru_backward_step_f64(
    double* __restrict__ dh, const double* __restrict__ gates, const double* __restrict__ m_h,
    const double* __restrict__ h_prev, const double* __restrict__ keep,
    double* __restrict__ dx_part, double* __restrict__ dm, int batch, int units) {
    tfish_gru_backward_step<tfish_f64>(dh, gates, m_h, h_prev, keep, dx_part, dm, batch, units);
}

extern "C" __global__ void tfish_gru_backward_step_f16(
    unsigned short* __restrict__ dh, const unsigned short* __restrict__ gates,
    const unsigned short* __restrict__ m_h, const unsigned short* __restrict__ h_prev,
    const unsigned short* __restrict__ keep, unsigned short* __restrict__ dx_part,
    unsigned short* __restrict__ dm, int batch, int units) {
    tfish_gru_backward_step<tfish_f16>(dh, gates, m_h, h_prev, keep, dx_part, dm, batch, units);
}

extern "C" __global__ void tfish_gru_backward_step_bf16(
    unsigned short* __restrict__ dh, const unsigned short* __restrict__ gates,
    const unsigned short* __restrict__ m_h, const unsigned short* __restrict__ h_prev,
    const unsigned short* __restrict__ keep, unsigned short* __restrict__ dx_part,
    unsigned short* __restrict__ dm, int batch, int units) {
    tfish_gru_backward_step<tfish_bf16>(dh, gates, m_h, h_prev, keep, dx_part, dm, batch, units);
}

extern "C" __global__ void tfish_simple_rnn_forward_step_f32(
    const float* __restrict__ z, const float* __restrict__ h_prev, const float* __restrict__ keep,
    float* __restrict__ h, int batch, int units, int activation) {
    tfish_simple_rnn_forward_step<tfish_f32>(z, h_prev, keep, h, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_forward_step_f64(
    const double* __restrict__ z, const double* __restrict__ h_prev,
    const double* __restrict__ keep, double* __restrict__ h, int batch, int units, int activation) {
    tfish_simple_rnn_forward_step<tfish_f64>(z, h_prev, keep, h, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_forward_step_f16(
    const unsigned short* __restrict__ z, const unsigned short* __restrict__ h_prev,
    const unsigned short* __restrict__ keep, unsigned short* __restrict__ h, int batch, int units,
    int activation) {
    tfish_simple_rnn_forward_step<tfish_f16>(z, h_prev, keep, h, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_forward_step_bf16(
    const unsigned short* __restrict__ z, const unsigned short* __restrict__ h_prev,
    const unsigned short* __restrict__ keep, unsigned short* __restrict__ h, int batch, int units,
    int activation) {
    tfish_simple_rnn_forward_step<tfish_bf16>(z, h_prev, keep, h, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_backward_step_f32(
    float* __restrict__ dh, const float* __restrict__ h, const float* __restrict__ keep,
    float* __restrict__ dz, int batch, int units, int activation) {
    tfish_simple_rnn_backward_step<tfish_f32>(dh, h, keep, dz, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_backward_step_f64(
    double* __restrict__ dh, const double* __restrict__ h, const double* __restrict__ keep,
    double* __restrict__ dz, int batch, int units, int activation) {
    tfish_simple_rnn_backward_step<tfish_f64>(dh, h, keep, dz, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_backward_step_f16(
    unsigned short* __restrict__ dh, const unsigned short* __restrict__ h,
    const unsigned short* __restrict__ keep, unsigned short* __restrict__ dz, int batch, int units,
    int activation) {
    tfish_simple_rnn_backward_step<tfish_f16>(dh, h, keep, dz, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_backward_step_bf16(
    unsigned short* __restrict__ dh, const unsigned short* __restrict__ h,
    const unsigned short* __restrict__ keep, unsigned short* __restrict__ dz, int batch, int units,
    int activation) {
    tfish_simple_rnn_backward_step<tfish_bf16>(dh, h, keep, dz, batch, units, activation);
}
