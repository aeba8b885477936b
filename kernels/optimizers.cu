// Optimiser updates, one pass each, in place, with Keras semantics (see kernels/__init__.py).
// Scalars that do not change within a step (lr_t, 1 - beta, ...) are computed on the host.
#include "tfish_common.cuh"

// param -= learning_rate * grad
template <typename T>
__device__ void tfish_sgd_update(T* __restrict__ param, const T* __restrict__ grad, int n,
                                 T learning_rate) {
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        param[i] -= learning_rate * grad[i];
    }
}

// velocity = momentum * velocity - learning_rate * grad
// param += velocity                                   (nesterov: momentum * velocity - lr * grad)
template <typename T>
__device__ void tfish_sgd_momentum_update(T* __restrict__ param, const T* __restrict__ grad,
                                          T* __restrict__ velocity, int n, T learning_rate,
                                          T momentum, int nesterov) {
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T step = learning_rate * grad[i];
        const T v = momentum * velocity[i] - step;
        velocity[i] = v;
        param[i] += nesterov ? momentum * v - step : v;
    }
}

// Keras Adam/AdamW: param *= decay_factor (1 - weight_decay * lr; 1 for Adam), then
// m += (g - m) * (1 - beta_1); v += (g * g - v) * (1 - beta_2); param -= lr_t * m / (sqrt(v) + eps)
template <typename T>
__device__ void tfish_adam_update(T* __restrict__ param, const T* __restrict__ grad,
                                  T* __restrict__ m, T* __restrict__ v, int n, T lr_t,
                                  T one_minus_beta_1, T one_minus_beta_2, T epsilon,
                                  T decay_factor) {
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = grad[i];
        const T m_new = m[i] + (g - m[i]) * one_minus_beta_1;
        const T v_new = v[i] + (g * g - v[i]) * one_minus_beta_2;
        m[i] = m_new;
        v[i] = v_new;
        param[i] = param[i] * decay_factor - lr_t * m_new / (tfish_math<T>::sqrt(v_new) + epsilon);
    }
}

// Keras Adagrad: param *= decay_factor; accumulator += g * g;
// param -= learning_rate * g / sqrt(accumulator + epsilon)
template <typename T>
__device__ void tfish_adagrad_update(T* __restrict__ param, const T* __restrict__ grad,
                                     T* __restrict__ accumulator, int n, T learning_rate,
                                     T epsilon, T decay_factor) {
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = grad[i];
        const T a = accumulator[i] + g * g;
        accumulator[i] = a;
        param[i] = param[i] * decay_factor - learning_rate * g / tfish_math<T>::sqrt(a + epsilon);
    }
}

// Keras Nadam with the step's scalars from the host: m and v as in Adam, then
// param = param * decay_factor - lr * (m_coef * m + grad_coef * g) / (sqrt(v * v_coef) + eps)
// where m_coef = u_{t+1} / (1 - prod u_1..u_{t+1}), grad_coef = (1 - u_t) / (1 - prod u_1..u_t)
// and v_coef = 1 / (1 - beta_2^t).
template <typename T>
__device__ void tfish_nadam_update(T* __restrict__ param, const T* __restrict__ grad,
                                   T* __restrict__ m, T* __restrict__ v, int n, T learning_rate,
                                   T one_minus_beta_1, T one_minus_beta_2, T epsilon, T m_coef,
                                   T grad_coef, T v_coef, T decay_factor) {
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = grad[i];
        const T m_new = m[i] + (g - m[i]) * one_minus_beta_1;
        const T v_new = v[i] + (g * g - v[i]) * one_minus_beta_2;
        m[i] = m_new;
        v[i] = v_new;
        const T m_hat = m_coef * m_new + grad_coef * g;
        param[i] = param[i] * decay_factor -
                   learning_rate * m_hat / (tfish_math<T>::sqrt(v_new * v_coef) + epsilon);
    }
}

// Keras Lion: param = param * decay_factor - lr * sign(beta_1 * m + (1 - beta_1) * g);
// m = beta_2 * m + (1 - beta_2) * g  (sign(0) = 0)
template <typename T>
__device__ void tfish_lion_update(T* __restrict__ param, const T* __restrict__ grad,
                                  T* __restrict__ m, int n, T learning_rate, T beta_1, T beta_2,
                                  T decay_factor) {
    const int stride = gridDim.x * blockDim.x;
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += stride) {
        const T g = grad[i];
        const T m_old = m[i];
        const T c = beta_1 * m_old + (T(1) - beta_1) * g;
        const T sign = T(c > T(0)) - T(c < T(0));
        param[i] = param[i] * decay_factor - learning_rate * sign;
        m[i] = beta_2 * m_old + (T(1) - beta_2) * g;
    }
}

extern "C" __global__ void tfish_sgd_update_f32(float* __restrict__ param,
                                                const float* __restrict__ grad, int n,
                                                float learning_rate) {
    tfish_sgd_update<float>(param, grad, n, learning_rate);
}
extern "C" __global__ void tfish_sgd_update_f64(double* __restrict__ param,
                                                const double* __restrict__ grad, int n,
                                                double learning_rate) {
    tfish_sgd_update<double>(param, grad, n, learning_rate);
}

extern "C" __global__ void tfish_sgd_momentum_update_f32(float* __restrict__ param,
                                                         const float* __restrict__ grad,
                                                         float* __restrict__ velocity, int n,
                                                         float learning_rate, float momentum,
                                                         int nesterov) {
    tfish_sgd_momentum_update<float>(param, grad, velocity, n, learning_rate, momentum, nesterov);
}
extern "C" __global__ void tfish_sgd_momentum_update_f64(double* __restrict__ param,
                                                         const double* __restrict__ grad,
                                                         double* __restrict__ velocity, int n,
                                                         double learning_rate, double momentum,
                                                         int nesterov) {
    tfish_sgd_momentum_update<double>(param, grad, velocity, n, learning_rate, momentum, nesterov);
}

extern "C" __global__ void tfish_adam_update_f32(float* __restrict__ param,
                                                 const float* __restrict__ grad,
                                                 float* __restrict__ m, float* __restrict__ v,
                                                 int n, float lr_t, float one_minus_beta_1,
                                                 float one_minus_beta_2, float epsilon,
                                                 float decay_factor) {
    tfish_adam_update<float>(param, grad, m, v, n, lr_t, one_minus_beta_1, one_minus_beta_2,
                             epsilon, decay_factor);
}
extern "C" __global__ void tfish_adam_update_f64(double* __restrict__ param,
                                                 const double* __restrict__ grad,
                                                 double* __restrict__ m, double* __restrict__ v,
                                                 int n, double lr_t, double one_minus_beta_1,
                                                 double one_minus_beta_2, double epsilon,
                                                 double decay_factor) {
    tfish_adam_update<double>(param, grad, m, v, n, lr_t, one_minus_beta_1, one_minus_beta_2,
                              epsilon, decay_factor);
}

extern "C" __global__ void tfish_adagrad_update_f32(float* __restrict__ param,
                                                    const float* __restrict__ grad,
                                                    float* __restrict__ accumulator, int n,
                                                    float learning_rate, float epsilon,
                                                    float decay_factor) {
    tfish_adagrad_update<float>(param, grad, accumulator, n, learning_rate, epsilon, decay_factor);
}

extern "C" __global__ void tfish_adagrad_update_f64(double* __restrict__ param,
                                                    const double* __restrict__ grad,
                                                    double* __restrict__ accumulator, int n,
                                                    double learning_rate, double epsilon,
                                                    double decay_factor) {
    tfish_adagrad_update<double>(param, grad, accumulator, n, learning_rate, epsilon, decay_factor);
}

extern "C" __global__ void tfish_nadam_update_f32(float* __restrict__ param,
                                                  const float* __restrict__ grad,
                                                  float* __restrict__ m, float* __restrict__ v, int n,
                                                  float learning_rate, float one_minus_beta_1,
                                                  float one_minus_beta_2, float epsilon, float m_coef,
                                                  float grad_coef, float v_coef, float decay_factor) {
    tfish_nadam_update<float>(param, grad, m, v, n, learning_rate, one_minus_beta_1,
                              one_minus_beta_2, epsilon, m_coef, grad_coef, v_coef, decay_factor);
}

extern "C" __global__ void tfish_nadam_update_f64(double* __restrict__ param,
                                                  const double* __restrict__ grad,
                                                  double* __restrict__ m, double* __restrict__ v, int n,
                                                  double learning_rate, double one_minus_beta_1,
                                                  double one_minus_beta_2, double epsilon, double m_coef,
                                                  double grad_coef, double v_coef, double decay_factor) {
    tfish_nadam_update<double>(param, grad, m, v, n, learning_rate, one_minus_beta_1,
                              one_minus_beta_2, epsilon, m_coef, grad_coef, v_coef, decay_factor);
}

extern "C" __global__ void tfish_lion_update_f32(float* __restrict__ param,
                                                 const float* __restrict__ grad,
                                                 float* __restrict__ m, int n, float learning_rate,
                                                 float beta_1, float beta_2, float decay_factor) {
    tfish_lion_update<float>(param, grad, m, n, learning_rate, beta_1, beta_2, decay_factor);
}

extern "C" __global__ void tfish_lion_update_f64(double* __restrict__ param,
                                                 const double* __restrict__ grad,
                                                 double* __restrict__ m, int n, double learning_rate,
                                                 double beta_1, double beta_2, double decay_factor) {
    tfish_lion_update<double>(param, grad, m, n, learning_rate, beta_1, beta_2, decay_factor);
}
