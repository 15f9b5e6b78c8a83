// CUDA gather (rows of x by index; an index outside [0, N) stops the kernel with a device-side
// assertion, read at the next synchronisation, instead of a host round trip per call) and its
// backward, grouped sums over a CSR of the index by row_reduce (spmm.cu): no atomics.
#include <torch/library.h>

#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

template <typename scalar_t, typename index_t>
__global__ void gather_kernel(const scalar_t* __restrict__ x, const index_t* __restrict__ index,
                              scalar_t* __restrict__ out, int64_t K, int64_t N, int64_t F) {
  const int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (t >= K * F) return;
  const int64_t k = t / F, f = t % F, n = index[k];
  CUDA_KERNEL_ASSERT(n >= 0 && n < N && "gather: index outside [0, N)");
  out[t] = x[n * F + f];
}

at::Tensor gather_cuda(const at::Tensor& x_in, const at::Tensor& index_in) {
  TORCH_CHECK(x_in.dim() == 2, "gather: x must be 2-D [N, F], got ", x_in.sizes());
  const at::Tensor x = x_in.contiguous(), index = index_in.contiguous();
  const int64_t K = index.numel(), N = x.size(0), F = x.size(1);
  at::Tensor out = at::empty({K, F}, x.options());
  if (K == 0 || F == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(x.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "graphkit_gather_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(index.scalar_type(), "graphkit_gather_cuda", [&] {
      gather_kernel<scalar_t, index_t><<<ceil_div(K * F, 256), 256, 0, at::cuda::getCurrentCUDAStream()>>>(
          x.data_ptr<scalar_t>(), index.data_ptr<index_t>(), out.data_ptr<scalar_t>(), K, N, F);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

at::Tensor gather_backward_cuda(const at::Tensor& ptr, const at::Tensor& perm, const at::Tensor& grad) {
  return std::get<0>(row_reduce(ptr.contiguous(), perm.contiguous(), at::Tensor(), at::Tensor(), grad, kSum,
                                perm.numel()));
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("gather", &gather_cuda);
  m.impl("gather_backward", &gather_backward_cuda);
}

}  // namespace cuda
}  // namespace graphkit
