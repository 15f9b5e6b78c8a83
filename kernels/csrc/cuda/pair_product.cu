// Pair products x[first[p]] * x[second[p]] and their backward on the GPU (a node id outside [0, N)
// stops the forward with a device-side assertion). The backward walks the
// pair ends grouped by node (one block per node, threads over features), so it needs no atomics
// and gives the CPU kernel's sums.
#include <torch/library.h>

#include "../pair_args.h"
#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

template <typename scalar_t>
__global__ void pair_product_kernel(const scalar_t* __restrict__ x, const int64_t* __restrict__ a,
                                    const int64_t* __restrict__ b, scalar_t* __restrict__ out, int64_t P, int64_t N,
                                    int64_t F) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t total = P * F;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = i / F, f = i - p * F;
    CUDA_KERNEL_ASSERT(a[p] >= 0 && a[p] < N && b[p] >= 0 && b[p] < N && "pair_product: node id outside [0, N)");
    out[i] = static_cast<scalar_t>(static_cast<acc_t>(x[a[p] * F + f]) * static_cast<acc_t>(x[b[p] * F + f]));
  }
}

template <typename scalar_t>
__global__ void pair_product_backward_kernel(const int64_t* __restrict__ ptr, const int64_t* __restrict__ ends,
                                             const int64_t* __restrict__ other, const scalar_t* __restrict__ x,
                                             const scalar_t* __restrict__ grad, scalar_t* __restrict__ out,
                                             int64_t P, int64_t F) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t n = blockIdx.x;
  for (int64_t f = threadIdx.x; f < F; f += blockDim.x) {
    acc_t acc = 0;
    for (int64_t k = ptr[n]; k < ptr[n + 1]; ++k) {
      const int64_t e = ends[k];
      acc += static_cast<acc_t>(grad[(e < P ? e : e - P) * F + f]) * static_cast<acc_t>(x[other[e] * F + f]);
    }
    out[n * F + f] = static_cast<scalar_t>(acc);
  }
}

at::Tensor pair_product_cuda(const at::Tensor& x_in, const at::Tensor& first_in, const at::Tensor& second_in) {
  check_pair_product_args(x_in, first_in, second_in);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor first = first_in.to(at::kLong).contiguous(), second = second_in.to(at::kLong).contiguous();
  const int64_t P = first.numel(), F = x.size(1);
  at::Tensor out = at::empty({P, F}, x.options());
  if (P == 0 || F == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(x.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pair_product_cuda", [&] {
    const int blocks = static_cast<int>(std::min<int64_t>(ceil_div(P * F, 256), 65535));
    pair_product_kernel<scalar_t><<<blocks, 256, 0, at::cuda::getCurrentCUDAStream()>>>(
        x.data_ptr<scalar_t>(), first.data_ptr<int64_t>(), second.data_ptr<int64_t>(), out.data_ptr<scalar_t>(), P,
        x.size(0), F);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

at::Tensor pair_product_backward_cuda(const at::Tensor& ptr_in, const at::Tensor& ends_in, const at::Tensor& other_in,
                                      const at::Tensor& x_in, const at::Tensor& grad_in) {
  check_pair_product_backward_args(ptr_in, ends_in, other_in, x_in, grad_in);
  const at::Tensor ptr = ptr_in.to(at::kLong).contiguous(), ends = ends_in.to(at::kLong).contiguous();
  const at::Tensor other = other_in.to(at::kLong).contiguous(), x = x_in.contiguous(), grad = grad_in.contiguous();
  const int64_t N = x.size(0), F = x.size(1), P = grad.size(0);
  at::Tensor out = at::empty_like(x);
  if (N == 0 || F == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(x.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pair_product_backward_cuda", [&] {
    const int threads = static_cast<int>(std::min<int64_t>(256, ceil_div(F, 32) * 32));
    pair_product_backward_kernel<scalar_t><<<N, threads, 0, at::cuda::getCurrentCUDAStream()>>>(
        ptr.data_ptr<int64_t>(), ends.data_ptr<int64_t>(), other.data_ptr<int64_t>(), x.data_ptr<scalar_t>(),
        grad.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), P, F);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("pair_product", &pair_product_cuda);
  m.impl("pair_product_backward", &pair_product_backward_cuda);
}

}  // namespace cuda
}  // namespace graphkit
