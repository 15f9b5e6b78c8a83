// CUDA softmax of per-edge scores over each CSR row, and its backward: one warp per row, lanes
// over the row's entries (row_softmax_in_place, shared with the GAT scores).
#include <torch/library.h>

#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

// Softmax over the entries of each row, per head (one warp per row, lanes over entries).
template <typename scalar_t, typename index_t>
__global__ void softmax_kernel(const index_t* __restrict__ rowptr, const scalar_t* __restrict__ scores,
                               scalar_t* __restrict__ out, int64_t M, int64_t H) {
  const int lane = threadIdx.x % kWarp;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (i >= M) return;
  const int64_t b = rowptr[i], e = rowptr[i + 1];
  for (int64_t k = b * H + lane; k < e * H; k += kWarp) out[k] = scores[k];
  __syncwarp();
  for (int64_t h = 0; h < H; ++h) row_softmax_in_place(out, b, e, H, h, lane);
}

// grad_scores = y * (g - sum_row(y * g)), per head.
template <typename scalar_t, typename index_t>
__global__ void softmax_backward_kernel(const index_t* __restrict__ rowptr, const scalar_t* __restrict__ y,
                                        const scalar_t* __restrict__ g, scalar_t* __restrict__ out, int64_t M,
                                        int64_t H) {
  using acc_t = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x % kWarp;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (i >= M) return;
  const int64_t b = rowptr[i], e = rowptr[i + 1];
  for (int64_t h = 0; h < H; ++h) {
    acc_t dot = 0;
    for (int64_t k = b + lane; k < e; k += kWarp) dot += static_cast<acc_t>(y[k * H + h]) * static_cast<acc_t>(g[k * H + h]);
    dot = warp_sum(dot);
    for (int64_t k = b + lane; k < e; k += kWarp)
      out[k * H + h] = static_cast<scalar_t>(static_cast<acc_t>(y[k * H + h]) * (static_cast<acc_t>(g[k * H + h]) - dot));
  }
}

at::Tensor segment_softmax_cuda(const at::Tensor& rowptr, const at::Tensor& scores_in) {
  const at::Tensor scores = scores_in.contiguous();
  const int64_t M = rowptr.numel() - 1, H = scores.dim() == 2 ? scores.size(1) : 1;
  at::Tensor out = at::empty_like(scores);
  if (scores.numel() == 0 || M == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(scores.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, scores.scalar_type(), "graphkit_softmax_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(rowptr.scalar_type(), "graphkit_softmax_cuda", [&] {
      softmax_kernel<scalar_t, index_t><<<GRAPHKIT_LAUNCH_ROWS(M)>>>(
          rowptr.contiguous().data_ptr<index_t>(), scores.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), M, H);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

at::Tensor segment_softmax_backward_cuda(const at::Tensor& rowptr, const at::Tensor& y_in, const at::Tensor& g_in) {
  const at::Tensor y = y_in.contiguous(), g = g_in.contiguous();
  const int64_t M = rowptr.numel() - 1, H = y.dim() == 2 ? y.size(1) : 1;
  at::Tensor out = at::empty_like(y);
  if (y.numel() == 0 || M == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(y.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, y.scalar_type(), "graphkit_softmax_backward_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(rowptr.scalar_type(), "graphkit_softmax_backward_cuda", [&] {
      softmax_backward_kernel<scalar_t, index_t><<<GRAPHKIT_LAUNCH_ROWS(M)>>>(
          rowptr.contiguous().data_ptr<index_t>(), y.data_ptr<scalar_t>(), g.data_ptr<scalar_t>(),
          out.data_ptr<scalar_t>(), M, H);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("segment_softmax", &segment_softmax_cuda);
  m.impl("segment_softmax_backward", &segment_softmax_backward_cuda);
}

}  // namespace cuda
}  // namespace graphkit
