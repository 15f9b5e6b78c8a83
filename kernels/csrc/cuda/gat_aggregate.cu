// CUDA fused GAT aggregation (+ backward): the scores and their row softmax with one warp per CSR
// row, the weighted sums through row_reduce (spmm.cu), so the backward runs over the CSC without
// atomics and no [E, F] tensor is made.
#include <torch/library.h>

#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

// GAT scores: alpha[k, h] = softmax over row i of leaky_relu(a_dst[i, h] + a_src[col[k], h]).
template <typename scalar_t, typename index_t>
__global__ void gat_alpha_kernel(const index_t* __restrict__ rowptr, const index_t* __restrict__ col,
                                 const scalar_t* __restrict__ a_src, const scalar_t* __restrict__ a_dst,
                                 scalar_t* __restrict__ alpha, int64_t M, int64_t H, float slope) {
  using acc_t = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x % kWarp;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (i >= M) return;
  const int64_t b = rowptr[i], e = rowptr[i + 1];
  for (int64_t h = 0; h < H; ++h) {
    const acc_t d = static_cast<acc_t>(a_dst[i * H + h]);
    for (int64_t k = b + lane; k < e; k += kWarp) {
      const acc_t s = d + static_cast<acc_t>(a_src[static_cast<int64_t>(col[k]) * H + h]);
      alpha[k * H + h] = static_cast<scalar_t>(s > 0 ? s : s * slope);
    }
    __syncwarp();
    row_softmax_in_place(alpha, b, e, H, h, lane);
  }
}

// GAT backward over rows: g_alpha = <grad_out[i, h], x[j, h]> (+ grad_alpha), then the softmax and
// LeakyReLU backward into g_raw [E, H] and grad_a_dst[i, h] = sum over the row of g_raw.
template <typename scalar_t, typename index_t>
__global__ void gat_backward_rows_kernel(const index_t* __restrict__ rowptr, const index_t* __restrict__ col,
                                         const scalar_t* __restrict__ x, const scalar_t* __restrict__ a_src,
                                         const scalar_t* __restrict__ a_dst, const scalar_t* __restrict__ alpha,
                                         const scalar_t* __restrict__ grad_out, const scalar_t* __restrict__ grad_alpha,
                                         scalar_t* __restrict__ g_raw, scalar_t* __restrict__ grad_dst, int64_t M,
                                         int64_t H, int64_t C, float slope) {
  using acc_t = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x % kWarp;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (i >= M) return;
  const int64_t b = rowptr[i], e = rowptr[i + 1], F = H * C;
  for (int64_t h = 0; h < H; ++h) {
    acc_t dot = 0;
    for (int64_t k = b; k < e; ++k) {  // g_alpha into g_raw; lanes over the head's channels
      const int64_t j = col[k];
      acc_t s = 0;
      for (int64_t c = lane; c < C; c += kWarp)
        s += static_cast<acc_t>(grad_out[i * F + h * C + c]) * static_cast<acc_t>(x[j * F + h * C + c]);
      s = warp_sum(s);
      if (grad_alpha != nullptr) s += static_cast<acc_t>(grad_alpha[k * H + h]);
      if (lane == 0) g_raw[k * H + h] = static_cast<scalar_t>(s);
      dot += static_cast<acc_t>(alpha[k * H + h]) * s;
    }
    __syncwarp();
    acc_t total = 0;
    const acc_t d = static_cast<acc_t>(a_dst[i * H + h]);
    for (int64_t k = b + lane; k < e; k += kWarp) {
      const acc_t g_score = static_cast<acc_t>(alpha[k * H + h]) * (static_cast<acc_t>(g_raw[k * H + h]) - dot);
      const acc_t raw = d + static_cast<acc_t>(a_src[static_cast<int64_t>(col[k]) * H + h]);
      const acc_t g = raw > 0 ? g_score : g_score * slope;
      g_raw[k * H + h] = static_cast<scalar_t>(g);
      total += g;
    }
    total = warp_sum(total);
    if (lane == 0) grad_dst[i * H + h] = static_cast<scalar_t>(total);
  }
}

std::tuple<at::Tensor, at::Tensor> gat_aggregate_cuda(const at::Tensor& rowptr, const at::Tensor& col,
                                                      const at::Tensor& x, const at::Tensor& a_src_in,
                                                      const at::Tensor& a_dst_in, double negative_slope) {
  const at::Tensor a_src = a_src_in.contiguous(), a_dst = a_dst_in.contiguous();
  const int64_t M = rowptr.numel() - 1, H = a_src.size(1), E = col.numel();
  TORCH_CHECK(x.dim() == 2 && x.size(1) % H == 0, "gat_aggregate: x must be [N, H*C]");
  at::Tensor alpha = at::empty({E, H}, x.options());
  if (E == 0 || M == 0) return {at::zeros({M, x.size(1)}, x.options()), alpha};
  const at::cuda::OptionalCUDAGuard guard(x.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "graphkit_gat_alpha_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "graphkit_gat_alpha_cuda", [&] {
      gat_alpha_kernel<scalar_t, index_t><<<GRAPHKIT_LAUNCH_ROWS(M)>>>(
          rowptr.contiguous().data_ptr<index_t>(), col.contiguous().data_ptr<index_t>(), a_src.data_ptr<scalar_t>(),
          a_dst.data_ptr<scalar_t>(), alpha.data_ptr<scalar_t>(), M, H, static_cast<float>(negative_slope));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  // the weighted sum: only alpha [E, H] is materialised, never an [E, F] message tensor
  at::Tensor out = std::get<0>(row_reduce(rowptr.contiguous(), col.contiguous(), at::Tensor(), alpha, x, kSum, E));
  return {out, alpha};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> gat_aggregate_backward_cuda(
    const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& x_in, const at::Tensor& a_src_in,
    const at::Tensor& a_dst_in, const at::Tensor& alpha_in, const at::Tensor& grad_out_in,
    const at::Tensor& grad_alpha_in, double negative_slope, const at::Tensor& colptr, const at::Tensor& row_t,
    const at::Tensor& perm) {
  const at::Tensor x = x_in.contiguous(), a_src = a_src_in.contiguous(), a_dst = a_dst_in.contiguous();
  const at::Tensor alpha = alpha_in.contiguous(), grad_out = grad_out_in.contiguous();
  const at::Tensor grad_alpha = grad_alpha_in.contiguous();
  const int64_t M = rowptr.numel() - 1, F = x.size(1), H = a_src.size(1), E = col.numel();
  at::Tensor grad_dst = at::zeros_like(a_dst);
  if (E == 0 || M == 0) return {at::zeros_like(x), at::zeros_like(a_src), grad_dst};
  at::Tensor g_raw = at::empty({E, H}, x.options());
  const at::cuda::OptionalCUDAGuard guard(x.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "graphkit_gat_backward_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "graphkit_gat_backward_cuda", [&] {
      gat_backward_rows_kernel<scalar_t, index_t><<<GRAPHKIT_LAUNCH_ROWS(M)>>>(
          rowptr.contiguous().data_ptr<index_t>(), col.contiguous().data_ptr<index_t>(), x.data_ptr<scalar_t>(),
          a_src.data_ptr<scalar_t>(), a_dst.data_ptr<scalar_t>(), alpha.data_ptr<scalar_t>(),
          grad_out.data_ptr<scalar_t>(), grad_alpha.numel() ? grad_alpha.data_ptr<scalar_t>() : nullptr,
          g_raw.data_ptr<scalar_t>(), grad_dst.data_ptr<scalar_t>(), M, H, F / H, static_cast<float>(negative_slope));
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  // columns of the transpose: grad_x[j] = sum alpha * grad_out[i], grad_a_src[j] = sum g_raw
  const at::Tensor cp = colptr.contiguous(), rt = row_t.contiguous(), pm = perm.contiguous();
  at::Tensor grad_x = std::get<0>(row_reduce(cp, rt, pm, alpha, grad_out, kSum, E));
  at::Tensor grad_src = std::get<0>(row_reduce(cp, pm, at::Tensor(), at::Tensor(), g_raw, kSum, E));
  return {grad_x, grad_src, grad_dst};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("gat_aggregate", &gat_aggregate_cuda);
  m.impl("gat_aggregate_backward", &gat_aggregate_backward_cuda);
}

}  // namespace cuda
}  // namespace graphkit
