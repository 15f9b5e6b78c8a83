// Dropout (optionally fused with a preceding ReLU) and its backward on the GPU: a grid-stride
// loop over elements, the same keep/drop draw as the CPU kernel (dropout_mask.h).
#include <torch/library.h>

#include "../dropout_mask.h"
#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

constexpr int kThreads = 256;

inline int blocks_for(int64_t n) { return static_cast<int>(std::min<int64_t>(ceil_div(n, kThreads), 65535)); }

template <typename scalar_t>
__global__ void dropout_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ out, int64_t n,
                               uint64_t seed, uint64_t threshold, float scale, bool relu) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    acc_t v = static_cast<acc_t>(x[i]);
    if (relu) v = v > acc_t(0) ? v : acc_t(0);
    out[i] = static_cast<scalar_t>(dropout_keep(seed, static_cast<uint64_t>(i), threshold) ? v * scale : acc_t(0));
  }
}

template <typename scalar_t>
__global__ void dropout_backward_kernel(const scalar_t* __restrict__ grad, const scalar_t* __restrict__ out,
                                        scalar_t* __restrict__ result, int64_t n, uint64_t seed,
                                        uint64_t threshold, float scale, bool relu) {
  using acc_t = at::opmath_type<scalar_t>;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const bool pass = relu ? static_cast<acc_t>(out[i]) > acc_t(0)
                           : dropout_keep(seed, static_cast<uint64_t>(i), threshold);
    result[i] = static_cast<scalar_t>(pass ? static_cast<acc_t>(grad[i]) * scale : acc_t(0));
  }
}

at::Tensor dropout_cuda(const at::Tensor& x_in, double p, int64_t seed, bool relu) {
  TORCH_CHECK(p >= 0.0 && p < 1.0, "dropout: p must be in [0, 1), got ", p);
  const at::Tensor x = x_in.contiguous();
  at::Tensor out = at::empty_like(x);
  const int64_t n = x.numel();
  if (n == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(x.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "dropout_cuda", [&] {
    dropout_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), n, static_cast<uint64_t>(seed), dropout_threshold(p),
        static_cast<float>(1.0 / (1.0 - p)), relu);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

at::Tensor dropout_backward_cuda(const at::Tensor& grad_in, const at::Tensor& out_in, double p, int64_t seed,
                                 bool relu) {
  // grad often arrives transposed (from einsum/bmm backwards); out is read only with the ReLU
  const at::Tensor grad = grad_in.contiguous(), out = relu ? out_in.contiguous() : grad;
  TORCH_CHECK(grad.sizes() == out.sizes(), "dropout_backward: grad and out must have one shape");
  at::Tensor result = at::empty_like(grad);
  const int64_t n = grad.numel();
  if (n == 0) return result;
  const at::cuda::OptionalCUDAGuard guard(grad.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "dropout_backward_cuda", [&] {
    dropout_backward_kernel<scalar_t><<<blocks_for(n), kThreads, 0, at::cuda::getCurrentCUDAStream()>>>(
        grad.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), result.data_ptr<scalar_t>(), n,
        static_cast<uint64_t>(seed), dropout_threshold(p), static_cast<float>(1.0 / (1.0 - p)), relu);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return result;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("dropout", &dropout_cuda);
  m.impl("dropout_backward", &dropout_backward_cuda);
}

}  // namespace cuda
}  // namespace graphkit
