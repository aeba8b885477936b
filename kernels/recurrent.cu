// The fused per-step gate passes of the recurrent cells (see kernels/recurrent.py for the
// NumPy twins and the launchers). One thread per (batch row, unit), grid-stride loops.
// Gate layouts are Keras 3's: LSTM [i | f | c | o], GRU (reset_after) [z | r | h].
// keep[b] is 1 for a step that counts and 0 for a masked one (the state is carried through).
#include "tfish_common.cuh"

template <typename T>
__device__ __forceinline__ T tfish_sigmoid(T z) {
    return T(1) / (T(1) + tfish_math<T>::exp(-z));
}

// z (batch, 4 units): pre-activations in, gates out. c = f c_prev + i g, h = o tanh(c).
template <typename T>
__device__ void tfish_lstm_forward_step(T* __restrict__ z, const T* __restrict__ c_prev,
                                        const T* __restrict__ h_prev,
                                        const T* __restrict__ keep, T* __restrict__ c,
                                        T* __restrict__ h, T* __restrict__ tanh_c, int batch,
                                        int units) {
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        T* row = z + (size_t)b * 4 * units;
        const T i = tfish_sigmoid(row[j]);
        const T f = tfish_sigmoid(row[units + j]);
        const T g = tfish_math<T>::tanh(row[2 * units + j]);
        const T o = tfish_sigmoid(row[3 * units + j]);
        row[j] = i;
        row[units + j] = f;
        row[2 * units + j] = g;
        row[3 * units + j] = o;
        const T c_new = f * c_prev[index] + i * g;
        const T t = tfish_math<T>::tanh(c_new);
        tanh_c[index] = t;
        if (keep[b] != T(0)) {
            c[index] = c_new;
            h[index] = o * t;
        } else {
            c[index] = c_prev[index];
            h[index] = h_prev[index];
        }
    }
}

// dh, dc in: gradients reaching h_t, c_t. Out: dz (batch, 4 units); dc <- gradient reaching
// c_prev; dh <- the part reaching h_prev directly (through a masked step; 0 otherwise).
template <typename T>
__device__ void tfish_lstm_backward_step(T* __restrict__ dh, T* __restrict__ dc,
                                         const T* __restrict__ gates,
                                         const T* __restrict__ c_prev,
                                         const T* __restrict__ tanh_c,
                                         const T* __restrict__ keep, T* __restrict__ dz,
                                         int batch, int units) {
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        const T* row = gates + (size_t)b * 4 * units;
        T* drow = dz + (size_t)b * 4 * units;
        const T k = keep[b];
        const T dh_in = dh[index], dc_in = dc[index];
        const T dh_step = dh_in * k;
        const T i = row[j], f = row[units + j], g = row[2 * units + j], o = row[3 * units + j];
        const T t = tanh_c[index];
        const T dc_step = dc_in * k + dh_step * o * (T(1) - t * t);
        drow[j] = dc_step * g * i * (T(1) - i);
        drow[units + j] = dc_step * c_prev[index] * f * (T(1) - f);
        drow[2 * units + j] = dc_step * i * (T(1) - g * g);
        drow[3 * units + j] = dh_step * t * o * (T(1) - o);
        dc[index] = dc_step * f + dc_in * (T(1) - k);
        dh[index] = dh_in * (T(1) - k);
    }
}

// x_part (batch, 3 units): x W + b_in in, gates [z, r, hh] out; m: h_prev U + b_rec.
// h = z h_prev + (1 - z) hh, hh = tanh(x_h + r m_h); m_h (batch, units) keeps m's h column.
template <typename T>
__device__ void tfish_gru_forward_step(T* __restrict__ x_part, const T* __restrict__ m,
                                       const T* __restrict__ h_prev,
                                       const T* __restrict__ keep, T* __restrict__ h,
                                       T* __restrict__ m_h, int batch, int units) {
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        T* row = x_part + (size_t)b * 3 * units;
        const T* mrow = m + (size_t)b * 3 * units;
        const T z = tfish_sigmoid(row[j] + mrow[j]);
        const T r = tfish_sigmoid(row[units + j] + mrow[units + j]);
        const T mh = mrow[2 * units + j];
        const T hh = tfish_math<T>::tanh(row[2 * units + j] + r * mh);
        row[j] = z;
        row[units + j] = r;
        row[2 * units + j] = hh;
        m_h[index] = mh;
        const T previous = h_prev[index];
        h[index] = keep[b] != T(0) ? hh + z * (previous - hh) : previous;
    }
}

// dh in: gradient reaching h_t; out: the part reaching h_prev directly (dh z, or dh through a
// masked step). dx_part, dm (batch, 3 units): gradients of x W + b_in and h_prev U + b_rec.
template <typename T>
__device__ void tfish_gru_backward_step(T* __restrict__ dh, const T* __restrict__ gates,
                                        const T* __restrict__ m_h,
                                        const T* __restrict__ h_prev,
                                        const T* __restrict__ keep, T* __restrict__ dx_part,
                                        T* __restrict__ dm, int batch, int units) {
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units, j = index - b * units;
        const T* row = gates + (size_t)b * 3 * units;
        T* dxrow = dx_part + (size_t)b * 3 * units;
        T* dmrow = dm + (size_t)b * 3 * units;
        const T k = keep[b];
        const T dh_in = dh[index];
        const T d = dh_in * k;
        const T z = row[j], r = row[units + j], hh = row[2 * units + j];
        const T da = d * (T(1) - z) * (T(1) - hh * hh);
        const T dz = d * (h_prev[index] - hh) * z * (T(1) - z);
        const T dr = da * m_h[index] * r * (T(1) - r);
        dxrow[j] = dz;
        dxrow[units + j] = dr;
        dxrow[2 * units + j] = da;
        dmrow[j] = dz;
        dmrow[units + j] = dr;
        dmrow[2 * units + j] = da * r;
        dh[index] = d * z + dh_in * (T(1) - k);
    }
}

// h = act(z) (TFISH_TANH or TFISH_RELU), or h_prev on a masked step.
template <typename T>
__device__ void tfish_simple_rnn_forward_step(const T* __restrict__ z,
                                              const T* __restrict__ h_prev,
                                              const T* __restrict__ keep, T* __restrict__ h,
                                              int batch, int units, int activation) {
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units;
        h[index] = keep[b] != T(0) ? tfish_activate(z[index], activation, T(0)) : h_prev[index];
    }
}

// dz = dh act'(z) from the output h; dh <- the part reaching h_prev through a masked step.
template <typename T>
__device__ void tfish_simple_rnn_backward_step(T* __restrict__ dh, const T* __restrict__ h,
                                               const T* __restrict__ keep, T* __restrict__ dz,
                                               int batch, int units, int activation) {
    const int n = batch * units;
    const int stride = gridDim.x * blockDim.x;
    for (int index = blockIdx.x * blockDim.x + threadIdx.x; index < n; index += stride) {
        const int b = index / units;
        const T k = keep[b];
        const T d = dh[index] * k;
        const T y = h[index];
        const T slope = activation == TFISH_TANH ? T(1) - y * y : (y > T(0) ? T(1) : T(0));
        dz[index] = d * slope;
        dh[index] = dh[index] * (T(1) - k);
    }
}

// The kernels CuPy and the emulator load, one per precision.
extern "C" __global__ void tfish_lstm_forward_step_f32(
    float* __restrict__ z, const float* __restrict__ c_prev, const float* __restrict__ h_prev,
    const float* __restrict__ keep, float* __restrict__ c, float* __restrict__ h,
    float* __restrict__ tanh_c, int batch, int units) {
    tfish_lstm_forward_step<float>(z, c_prev, h_prev, keep, c, h, tanh_c, batch, units);
}

extern "C" __global__ void tfish_lstm_forward_step_f64(
    double* __restrict__ z, const double* __restrict__ c_prev, const double* __restrict__ h_prev,
    const double* __restrict__ keep, double* __restrict__ c, double* __restrict__ h,
    double* __restrict__ tanh_c, int batch, int units) {
    tfish_lstm_forward_step<double>(z, c_prev, h_prev, keep, c, h, tanh_c, batch, units);
}

extern "C" __global__ void tfish_lstm_backward_step_f32(
    float* __restrict__ dh, float* __restrict__ dc, const float* __restrict__ gates,
    const float* __restrict__ c_prev, const float* __restrict__ tanh_c,
    const float* __restrict__ keep, float* __restrict__ dz, int batch, int units) {
    tfish_lstm_backward_step<float>(dh, dc, gates, c_prev, tanh_c, keep, dz, batch, units);
}

extern "C" __global__ void tfish_lstm_backward_step_f64(
    double* __restrict__ dh, double* __restrict__ dc, const double* __restrict__ gates,
    const double* __restrict__ c_prev, const double* __restrict__ tanh_c,
    const double* __restrict__ keep, double* __restrict__ dz, int batch, int units) {
    tfish_lstm_backward_step<double>(dh, dc, gates, c_prev, tanh_c, keep, dz, batch, units);
}

extern "C" __global__ void tfish_gru_forward_step_f32(
    float* __restrict__ x_part, const float* __restrict__ m, const float* __restrict__ h_prev,
    const float* __restrict__ keep, float* __restrict__ h, float* __restrict__ m_h, int batch,
    int units) {
    tfish_gru_forward_step<float>(x_part, m, h_prev, keep, h, m_h, batch, units);
}

extern "C" __global__ void tfish_gru_forward_step_f64(
    double* __restrict__ x_part, const double* __restrict__ m, const double* __restrict__ h_prev,
    const double* __restrict__ keep, double* __restrict__ h, double* __restrict__ m_h, int batch,
    int units) {
    tfish_gru_forward_step<double>(x_part, m, h_prev, keep, h, m_h, batch, units);
}

extern "C" __global__ void tfish_gru_backward_step_f32(
    float* __restrict__ dh, const float* __restrict__ gates, const float* __restrict__ m_h,
    const float* __restrict__ h_prev, const float* __restrict__ keep, float* __restrict__ dx_part,
    float* __restrict__ dm, int batch, int units) {
    tfish_gru_backward_step<float>(dh, gates, m_h, h_prev, keep, dx_part, dm, batch, units);
}

extern "C" __global__ void tfish_gru_backward_step_f64(
    double* __restrict__ dh, const double* __restrict__ gates, const double* __restrict__ m_h,
    const double* __restrict__ h_prev, const double* __restrict__ keep,
    double* __restrict__ dx_part, double* __restrict__ dm, int batch, int units) {
    tfish_gru_backward_step<double>(dh, gates, m_h, h_prev, keep, dx_part, dm, batch, units);
}

extern "C" __global__ void tfish_simple_rnn_forward_step_f32(
    const float* __restrict__ z, const float* __restrict__ h_prev, const float* __restrict__ keep,
    float* __restrict__ h, int batch, int units, int activation) {
    tfish_simple_rnn_forward_step<float>(z, h_prev, keep, h, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_forward_step_f64(
    const double* __restrict__ z, const double* __restrict__ h_prev,
    const double* __restrict__ keep, double* __restrict__ h, int batch, int units, int activation) {
    tfish_simple_rnn_forward_step<double>(z, h_prev, keep, h, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_backward_step_f32(
    float* __restrict__ dh, const float* __restrict__ h, const float* __restrict__ keep,
    float* __restrict__ dz, int batch, int units, int activation) {
    tfish_simple_rnn_backward_step<float>(dh, h, keep, dz, batch, units, activation);
}

extern "C" __global__ void tfish_simple_rnn_backward_step_f64(
    double* __restrict__ dh, const double* __restrict__ h, const double* __restrict__ keep,
    double* __restrict__ dz, int batch, int units, int activation) {
    tfish_simple_rnn_backward_step<double>(dh, h, keep, dz, batch, units, activation);
}
