// CUDA sddmm: per-edge, per-head dot products of the endpoint features, one warp per CSR row.
#include <torch/library.h>

#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

// out[k, h] = <a[i, h, :], b[col[k], h, :]> for the entries k of row i (one warp per row).
template <typename scalar_t, typename index_t>
__global__ void sddmm_kernel(const index_t* __restrict__ rowptr, const index_t* __restrict__ col,
                             const scalar_t* __restrict__ a, const scalar_t* __restrict__ b,
                             scalar_t* __restrict__ out, int64_t M, int64_t H, int64_t C) {
  using acc_t = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x % kWarp;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (i >= M) return;
  const int64_t F = H * C;
  for (int64_t k = rowptr[i]; k < rowptr[i + 1]; ++k) {
    const int64_t j = col[k];
    for (int64_t h = 0; h < H; ++h) {
      acc_t s = 0;
      for (int64_t c = lane; c < C; c += kWarp)
        s += static_cast<acc_t>(a[i * F + h * C + c]) * static_cast<acc_t>(b[j * F + h * C + c]);
      s = warp_sum(s);
      if (lane == 0) out[k * H + h] = static_cast<scalar_t>(s);
    }
  }
}

at::Tensor sddmm_cuda(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& a_in, const at::Tensor& b_in,
                      int64_t heads) {
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t M = rowptr.numel() - 1, F = a.size(1), E = col.numel();
  TORCH_CHECK(heads >= 1 && F % heads == 0, "sddmm: F must be a multiple of heads");
  at::Tensor out = at::zeros({E, heads}, a.options());
  if (E == 0 || M == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(a.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "graphkit_sddmm_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "graphkit_sddmm_cuda", [&] {
      sddmm_kernel<scalar_t, index_t><<<GRAPHKIT_LAUNCH_ROWS(M)>>>(
          rowptr.contiguous().data_ptr<index_t>(), col.contiguous().data_ptr<index_t>(), a.data_ptr<scalar_t>(),
          b.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), M, heads, F / heads);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("sddmm", &sddmm_cuda);
}

}  // namespace cuda
}  // namespace graphkit
