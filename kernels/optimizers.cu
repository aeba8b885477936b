// Optimiser updates, one pass each, in place, with Keras semantics (see kernels/__init__.py).
// Scalars that do not change within a step (lr_t, 1 - beta, ...) are computed on the host.
// One body per update, templated on the storage S (tfish_common.cuh): float16/bfloat16 parameters
// and slots are read into float, updated in float and stored rounded (the scalars are float).
#include "tfish_common.cuh"

// param -= learning_rate * grad
template <typename S>
__device__ void tfish_sgd_update(typename S::stored* __restrict__ param,
                                 const typename S::stored* __restrict__ grad, int n,
                                 typename S::compute learning_rate) {
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        param[i] = S::store(S::load(param[i]) - learning_rate * S::load(grad[i]));
    }
}

// velocity = momentum * velocity - learning_rate * grad
// param += velocity                                   (nesterov: momentum * velocity - lr * grad)
template <typename S>
__device__ void tfish_sgd_momentum_update(typename S::stored* __restrict__ param,
                                          const typename S::stored* __restrict__ grad,
                                          typename S::stored* __restrict__ velocity, int n,
                                          typename S::compute learning_rate,
                                          typename S::compute momentum, int nesterov) {
    typedef typename S::compute T;
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T step = learning_rate * S::load(grad[i]);
        const T v = momentum * S::load(velocity[i]) - step;
        velocity[i] = S::store(v);
        param[i] = S::store(S::load(param[i]) + (nesterov ? momentum * v - step : v));
    }
}

// Keras Adam/AdamW: param *= decay_factor (1 - weight_decay * lr; 1 for Adam), then
// m += (g - m) * (1 - beta_1); v += (g * g - v) * (1 - beta_2); param -= lr_t * m / (sqrt(v) + eps)
template <typename S>
__device__ void tfish_adam_update(typename S::stored* __restrict__ param,
                                  const typename S::stored* __restrict__ grad,
                                  typename S::stored* __restrict__ m,
                                  typename S::stored* __restrict__ v, int n,
                                  typename S::compute lr_t, typename S::compute one_minus_beta_1,
                                  typename S::compute one_minus_beta_2,
                                  typename S::compute epsilon, typename S::compute decay_factor) {
    typedef typename S::compute T;
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = S::load(grad[i]), m_old = S::load(m[i]), v_old = S::load(v[i]);
        const T m_new = m_old + (g - m_old) * one_minus_beta_1;
        const T v_new = v_old + (g * g - v_old) * one_minus_beta_2;
        m[i] = S::store(m_new);
        v[i] = S::store(v_new);
        param[i] = S::store(S::load(param[i]) * decay_factor -
                            lr_t * m_new / (tfish_math<T>::sqrt(v_new) + epsilon));
    }
}

// Keras Adagrad: param *= decay_factor; accumulator += g * g;
// param -= learning_rate * g / sqrt(accumulator + epsilon)
template <typename S>
__device__ void tfish_adagrad_update(typename S::stored* __restrict__ param,
                                     const typename S::stored* __restrict__ grad,
                                     typename S::stored* __restrict__ accumulator, int n,
                                     typename S::compute learning_rate,
                                     typename S::compute epsilon,
                                     typename S::compute decay_factor) {
    typedef typename S::compute T;
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = S::load(grad[i]);
        const T a = S::load(accumulator[i]) + g * g;
        accumulator[i] = S::store(a);
        param[i] = S::store(S::load(param[i]) * decay_factor -
                            learning_rate * g / tfish_math<T>::sqrt(a + epsilon));
    }
}

// Keras Nadam with the step's scalars from the host: m and v as in Adam, then
// param = param * decay_factor - lr * (m_coef * m + grad_coef * g) / (sqrt(v * v_coef) + eps)
// where m_coef = u_{t+1} / (1 - prod u_1..u_{t+1}), grad_coef = (1 - u_t) / (1 - prod u_1..u_t)
// and v_coef = 1 / (1 - beta_2^t).
template <typename S>
__device__ void tfish_nadam_update(typename S::stored* __restrict__ param,
                                   const typename S::stored* __restrict__ grad,
                                   typename S::stored* __restrict__ m,
                                   typename S::stored* __restrict__ v, int n,
                                   typename S::compute learning_rate,
                                   typename S::compute one_minus_beta_1,
                                   typename S::compute one_minus_beta_2,
                                   typename S::compute epsilon, typename S::compute m_coef,
                                   typename S::compute grad_coef, typename S::compute v_coef,
                                   typename S::compute decay_factor) {
    typedef typename S::compute T;
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = S::load(grad[i]), m_old = S::load(m[i]), v_old = S::load(v[i]);
        const T m_new = m_old + (g - m_old) * one_minus_beta_1;
        const T v_new = v_old + (g * g - v_old) * one_minus_beta_2;
        m[i] = S::store(m_new);
        v[i] = S::store(v_new);
        const T m_hat = m_coef * m_new + grad_coef * g;
        param[i] = S::store(S::load(param[i]) * decay_factor -
                            learning_rate * m_hat / (tfish_math<T>::sqrt(v_new * v_coef) + epsilon));
    }
}

// Keras Lion: param = param * decay_factor - lr * sign(beta_1 * m + (1 - beta_1) * g);
// m = beta_2 * m + (1 - beta_2) * g  (sign(0) = 0)
template <typename S>
__device__ void tfish_lion_update(typename S::stored* __restrict__ param,
                                  const typename S::stored* __restrict__ grad,
                                  typename S::stored* __restrict__ m, int n,
                                  typename S::compute learning_rate, typename S::compute beta_1,
                                  typename S::compute beta_2, typename S::compute decay_factor) {
    typedef typename S::compute T;
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = S::load(grad[i]);
        const T m_old = S::load(m[i]);
        const T c = beta_1 * m_old + (T(1) - beta_1) * g;
        const T sign = T(c > T(0)) - T(c < T(0));
        param[i] = S::store(S::load(param[i]) * decay_factor - learning_rate * sign);
        m[i] = S::store(beta_2 * m_old + (T(1) - beta_2) * g);
    }
}

// ---- entry points: _f32, _f64, and _f16/_bf16 (16-bit arrays as unsigned short, float scalars)
extern "C" __global__ void tfish_sgd_update_f32(float* __restrict__ param,
                                                const float* __restrict__ grad, int n,
                                                float learning_rate) {
    tfish_sgd_update<tfish_f32>(param, grad, n, learning_rate);
}
extern "C" __global__ void tfish_sgd_update_f64(double* __restrict__ param,
                                                const double* __restrict__ grad, int n,
                                                double learning_rate) {
    tfish_sgd_update<tfish_f64>(param, grad, n, learning_rate);
}
extern "C" __global__ void tfish_sgd_update_f16(unsigned short* __restrict__ param,
                                                const unsigned short* __restrict__ grad, int n,
                                                float learning_rate) {
    tfish_sgd_update<tfish_f16>(param, grad, n, learning_rate);
}
extern "C" __global__ void tfish_sgd_update_bf16(unsigned short* __restrict__ param,
                                                 const unsigned short* __restrict__ grad, int n,
                                                 float learning_rate) {
    tfish_sgd_update<tfish_bf16>(param, grad, n, learning_rate);
}

extern "C" __global__ void tfish_sgd_momentum_update_f32(float* __restrict__ param,
                                                         const float* __restrict__ grad,
                                                         float* __restrict__ velocity, int n,
                                                         float learning_rate, float momentum,
                                                         int nesterov) {
    tfish_sgd_momentum_update<tfish_f32>(param, grad, velocity, n, learning_rate, momentum,
                                         nesterov);
}
extern "C" __global__ void tfish_sgd_momentum_update_f64(double* __restrict__ param,
                                                         const double* __restrict__ grad,
                                                         double* __restrict__ velocity, int n,
                                                         double learning_rate, double momentum,
                                                         int nesterov) {
    tfish_sgd_momentum_update<tfish_f64>(param, grad, velocity, n, learning_rate, momentum,
                                         nesterov);
}
extern "C" __global__ void tfish_sgd_momentum_update_f16(unsigned short* __restrict__ param,
                                                         const unsigned short* __restrict__ grad,
                                                         unsigned short* __restrict__ velocity,
                                                         int n, float learning_rate,
                                                         float momentum, int nesterov) {
    tfish_sgd_momentum_update<tfish_f16>(param, grad, velocity, n, learning_rate, momentum,
                                         nesterov);
}
extern "C" __global__ void tfish_sgd_momentum_update_bf16(unsigned short* __restrict__ param,
                                                          const unsigned short* __restrict__ grad,
                                                          unsigned short* __restrict__ velocity,
                                                          int n, float learning_rate,
                                                          float momentum, int nesterov) {
    tfish_sgd_momentum_update<tfish_bf16>(param, grad, velocity, n, learning_rate, momentum,
                                          nesterov);
}

extern "C" __global__ void tfish_adam_update_f32(float* __restrict__ param,
                                                 const float* __restrict__ grad,
                                                 float* __restrict__ m, float* __restrict__ v,
                                                 int n, float lr_t, float one_minus_beta_1,
                                                 float one_minus_beta_2, float epsilon,
                                                 float decay_factor) {
    tfish_adam_update<tfish_f32>(param, grad, m, v, n, lr_t, one_minus_beta_1, one_minus_beta_2,
                                 epsilon, decay_factor);
}
extern "C" __global__ void tfish_adam_update_f64(double* __restrict__ param,
                                                 const double* __restrict__ grad,
                                                 double* __restrict__ m, double* __restrict__ v,
                                                 int n, double lr_t, double one_minus_beta_1,
                                                 double one_minus_beta_2, double epsilon,
                                                 double decay_factor) {
    tfish_adam_update<tfish_f64>(param, grad, m, v, n, lr_t, one_minus_beta_1, one_minus_beta_2,
                                 epsilon, decay_factor);
}
extern "C" __global__ void tfish_adam_update_f16(unsigned short* __restrict__ param,
                                                 const unsigned short* __restrict__ grad,
                                                 unsigned short* __restrict__ m,
                                                 unsigned short* __restrict__ v, int n,
                                                 float lr_t, float one_minus_beta_1,
                                                 float one_minus_beta_2, float epsilon,
                                                 float decay_factor) {
    tfish_adam_update<tfish_f16>(param, grad, m, v, n, lr_t, one_minus_beta_1, one_minus_beta_2,
                                 epsilon, decay_factor);
}
extern "C" __global__ void tfish_adam_update_bf16(unsigned short* __restrict__ param,
                                                  const unsigned short* __restrict__ grad,
                                                  unsigned short* __restrict__ m,
                                                  unsigned short* __restrict__ v, int n,
                                                  float lr_t, float one_minus_beta_1,
                                                  float one_minus_beta_2, float epsilon,
                                                  float decay_factor) {
    tfish_adam_update<tfish_bf16>(param, grad, m, v, n, lr_t, one_minus_beta_1,
                                  one_minus_beta_2, epsilon, decay_factor);
}

extern "C" __global__ void tfish_adagrad_update_f32(float* __restrict__ param,
                                                    const float* __restrict__ grad,
                                                    float* __restrict__ accumulator, int n,
                                                    float learning_rate, float epsilon,
                                                    float decay_factor) {
    tfish_adagrad_update<tfish_f32>(param, grad, accumulator, n, learning_rate, epsilon,
                                    decay_factor);
}
extern "C" __global__ void tfish_adagrad_update_f64(double* __restrict__ param,
                                                    const double* __restrict__ grad,
                                                    double* __restrict__ accumulator, int n,
                                                    double learning_rate, double epsilon,
                                                    double decay_factor) {
    tfish_adagrad_update<tfish_f64>(param, grad, accumulator, n, learning_rate, epsilon,
                                    decay_factor);
}
extern "C" __global__ void tfish_adagrad_update_f16(unsigned short* __restrict__ param,
                                                    const unsigned short* __restrict__ grad,
                                                    unsigned short* __restrict__ accumulator,
                                                    int n, float learning_rate, float epsilon,
                                                    float decay_factor) {
    tfish_adagrad_update<tfish_f16>(param, grad, accumulator, n, learning_rate, epsilon,
                                    decay_factor);
}
extern "C" __global__ void tfish_adagrad_update_bf16(unsigned short* __restrict__ param,
                                                     const unsigned short* __restrict__ grad,
                                                     unsigned short* __restrict__ accumulator,
                                                     int n, float learning_rate, float epsilon,
                                                     float decay_factor) {
    tfish_adagrad_update<tfish_bf16>(param, grad, accumulator, n, learning_rate, epsilon,
                                     decay_factor);
}

extern "C" __global__ void tfish_nadam_update_f32(float* __restrict__ param,
                                                  const float* __restrict__ grad,
                                                  float* __restrict__ m, float* __restrict__ v,
                                                  int n, float learning_rate,
                                                  float one_minus_beta_1, float one_minus_beta_2,
                                                  float epsilon, float m_coef, float grad_coef,
                                                  float v_coef, float decay_factor) {
    tfish_nadam_update<tfish_f32>(param, grad, m, v, n, learning_rate, one_minus_beta_1,
                                  one_minus_beta_2, epsilon, m_coef, grad_coef, v_coef,
                                  decay_factor);
}
extern "C" __global__ void tfish_nadam_update_f64(double* __restrict__ param,
                                                  const double* __restrict__ grad,
                                                  double* __restrict__ m, double* __restrict__ v,
                                                  int n, double learning_rate,
                                                  double one_minus_beta_1,
                                                  double one_minus_beta_2, double epsilon,
                                                  double m_coef, double grad_coef, double v_coef,
                                                  double decay_factor) {
    tfish_nadam_update<tfish_f64>(param, grad, m, v, n, learning_rate, one_minus_beta_1,
                                  one_minus_beta_2, epsilon, m_coef, grad_coef, v_coef,
                                  decay_factor);
}
extern "C" __global__ void tfish_nadam_update_f16(unsigned short* __restrict__ param,
                                                  const unsigned short* __restrict__ grad,
                                                  unsigned short* __restrict__ m,
                                                  unsigned short* __restrict__ v, int n,
                                                  float learning_rate, float one_minus_beta_1,
                                                  float one_minus_beta_2, float epsilon,
                                                  float m_coef, float grad_coef, float v_coef,
                                                  float decay_factor) {
    tfish_nadam_update<tfish_f16>(param, grad, m, v, n, learning_rate, one_minus_beta_1,
                                  one_minus_beta_2, epsilon, m_coef, grad_coef, v_coef,
                                  decay_factor);
}
extern "C" __global__ void tfish_nadam_update_bf16(unsigned short* __restrict__ param,
                                                   const unsigned short* __restrict__ grad,
                                                   unsigned short* __restrict__ m,
                                                   unsigned short* __restrict__ v, int n,
                                                   float learning_rate, float one_minus_beta_1,
                                                   float one_minus_beta_2, float epsilon,
                                                   float m_coef, float grad_coef, float v_coef,
                                                   float decay_factor) {
    tfish_nadam_update<tfish_bf16>(param, grad, m, v, n, learning_rate, one_minus_beta_1,
                                   one_minus_beta_2, epsilon, m_coef, grad_coef, v_coef,
                                   decay_factor);
}

extern "C" __global__ void tfish_lion_update_f32(float* __restrict__ param,
                                                 const float* __restrict__ grad,
                                                 float* __restrict__ m, int n, float learning_rate,
                                                 float beta_1, float beta_2, float decay_factor) {
    tfish_lion_update<tfish_f32>(param, grad, m, n, learning_rate, beta_1, beta_2, decay_factor);
}
extern "C" __global__ void tfish_lion_update_f64(double* __restrict__ param,
                                                 const double* __restrict__ grad,
                                                 double* __restrict__ m, int n,
                                                 double learning_rate, double beta_1,
                                                 double beta_2, double decay_factor) {
    tfish_lion_update<tfish_f64>(param, grad, m, n, learning_rate, beta_1, beta_2, decay_factor);
}
extern "C" __global__ void tfish_lion_update_f16(unsigned short* __restrict__ param,
                                                 const unsigned short* __restrict__ grad,
                                                 unsigned short* __restrict__ m, int n,
                                                 float learning_rate, float beta_1, float beta_2,
                                                 float decay_factor) {
    tfish_lion_update<tfish_f16>(param, grad, m, n, learning_rate, beta_1, beta_2, decay_factor);
}
extern "C" __global__ void tfish_lion_update_bf16(unsigned short* __restrict__ param,
                                                  const unsigned short* __restrict__ grad,
                                                  unsigned short* __restrict__ m, int n,
                                                  float learning_rate, float beta_1,
                                                  float beta_2, float decay_factor) {
    tfish_lion_update<tfish_bf16>(param, grad, m, n, learning_rate, beta_1, beta_2, decay_factor);
}
