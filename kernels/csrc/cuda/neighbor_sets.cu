// Per-pair neighbour sets on the GPU: one thread per pair runs row_sets.h's merge walk, first to
// count, then (after a scan of the counts) to write. Same output as the CPU kernel; a node id
// outside [0, R) stops the counting kernel with a device-side assertion.
#include <torch/library.h>

#include <tuple>

#include "../row_sets.h"
#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

template <bool kWrite, typename index_t>
__global__ void neighbor_sets_kernel(const index_t* __restrict__ rp, const index_t* __restrict__ cl,
                                     const int64_t* __restrict__ a, const int64_t* __restrict__ b, int64_t P,
                                     int64_t R, RowSet mode, int64_t* __restrict__ counts_or_ptr,
                                     index_t* __restrict__ out) {
  const int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (p >= P) return;
  CUDA_KERNEL_ASSERT(a[p] >= 0 && a[p] < R && b[p] >= 0 && b[p] < R && "neighbor_sets: node id outside [0, R)");
  const index_t *x = cl + rp[a[p]], *y = cl + rp[b[p]];
  const int64_t nx = rp[a[p] + 1] - rp[a[p]], ny = rp[b[p] + 1] - rp[b[p]];
  if (kWrite)
    merge_rows<true>(x, nx, y, ny, mode, out + counts_or_ptr[p]);
  else
    counts_or_ptr[p] = merge_rows<false>(x, nx, y, ny, mode, static_cast<index_t*>(nullptr));
}

std::tuple<at::Tensor, at::Tensor> neighbor_sets_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                      const at::Tensor& first_in, const at::Tensor& second_in,
                                                      c10::string_view which) {
  const RowSet mode = check_neighbor_sets_args(rowptr_in, col_in, first_in, second_in, which);
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor first = first_in.to(at::kLong).contiguous(), second = second_in.to(at::kLong).contiguous();
  const int64_t P = first.numel();
  const at::cuda::OptionalCUDAGuard guard(first.device());
  at::Tensor counts = at::zeros({P}, first.options());
  at::Tensor ptr = at::zeros({P + 1}, first.options());
  at::Tensor nodes;
  GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "graphkit_neighbor_sets_cuda", [&] {
    const auto stream = at::cuda::getCurrentCUDAStream();
    if (P > 0) {
      neighbor_sets_kernel<false, index_t><<<ceil_div(P, 128), 128, 0, stream>>>(
          rowptr.data_ptr<index_t>(), col.data_ptr<index_t>(), first.data_ptr<int64_t>(), second.data_ptr<int64_t>(),
          P, rowptr.numel() - 1, mode, counts.data_ptr<int64_t>(), nullptr);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      ptr.narrow(0, 1, P).copy_(counts.cumsum(0));
    }
    nodes = at::empty({ptr[P].item<int64_t>()}, col.options());  // the graph's index dtype, as on the CPU
    if (P > 0 && nodes.numel() > 0) {
      neighbor_sets_kernel<true, index_t><<<ceil_div(P, 128), 128, 0, stream>>>(
          rowptr.data_ptr<index_t>(), col.data_ptr<index_t>(), first.data_ptr<int64_t>(), second.data_ptr<int64_t>(),
          P, rowptr.numel() - 1, mode, ptr.data_ptr<int64_t>(), nodes.data_ptr<index_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
  });
  return {ptr, nodes};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) { m.impl("neighbor_sets", &neighbor_sets_cuda); }

}  // namespace cuda
}  // namespace graphkit
