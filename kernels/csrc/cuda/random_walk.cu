// CUDA random walks, one thread per walk. A walk draws from the same counter-based SplitMix64 stream
// (seed, walk index) as the CPU kernel, so a seed gives the same walks on either device.
#include <torch/library.h>

#include "../walk_step.h"
#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

template <typename index_t>
__global__ void walk_kernel(const index_t* __restrict__ rp, const index_t* __restrict__ cl,
                            const int64_t* __restrict__ start, int64_t* __restrict__ out, int64_t S, int64_t R,
                            int64_t L, bool biased, double inv_p, double inv_q, double bound, uint64_t seed) {
  const int64_t w = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (w >= S) return;
  CUDA_KERNEL_ASSERT(start[w] >= 0 && start[w] < R && "random_walk: start outside [0, num_nodes)");
  walk_one(rp, cl, start[w], out + w * L, L, biased, inv_p, inv_q, bound, seed, w);
}

at::Tensor random_walk_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& start_in,
                            int64_t walk_length, double p, double q, int64_t seed) {
  TORCH_CHECK(walk_length >= 0 && p > 0 && q > 0, "random_walk: walk_length >= 0 and positive p, q required");
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor start = start_in.to(at::kLong).contiguous();
  const int64_t S = start.numel(), L = walk_length + 1;
  at::Tensor walks = at::empty({S, L}, start.options());
  if (S == 0) return walks;
  const double inv_p = 1.0 / p, inv_q = 1.0 / q, bound = std::max(std::max(inv_p, 1.0), inv_q);
  const at::cuda::OptionalCUDAGuard guard(start.device());
  GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "graphkit_random_walk_cuda", [&] {
    walk_kernel<index_t><<<ceil_div(S, 128), 128, 0, at::cuda::getCurrentCUDAStream()>>>(
        rowptr.data_ptr<index_t>(), col.data_ptr<index_t>(), start.data_ptr<int64_t>(), walks.data_ptr<int64_t>(),
        S, rowptr.numel() - 1, L, p != 1.0 || q != 1.0, inv_p, inv_q, bound, static_cast<uint64_t>(seed));
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  });
  return walks;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) { m.impl("random_walk", &random_walk_cuda); }

}  // namespace cuda
}  // namespace graphkit
