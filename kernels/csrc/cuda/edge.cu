// CUDA per-edge kernels: sddmm, segment softmax (+ backward) and the fused GAT aggregation
// (+ backward), one warp per CSR row; the weighted sums reuse row_reduce (spmm.cu), so the
// backward runs over the CSC without atomics.
#include <torch/library.h>

#include <limits>

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

// v[k, h] <- softmax of v[k, h] over the entries k in [b, e) of a row, for head h (the warp's lanes
// stride over the entries).
template <typename scalar_t>
__device__ void row_softmax_in_place(scalar_t* v, int64_t b, int64_t e, int64_t H, int64_t h, int lane) {
  using acc_t = at::opmath_type<scalar_t>;
  acc_t mx = -std::numeric_limits<acc_t>::infinity();
  for (int64_t k = b + lane; k < e; k += kWarp) mx = max(mx, static_cast<acc_t>(v[k * H + h]));
  mx = warp_max(mx);
  acc_t sum = 0;
  for (int64_t k = b + lane; k < e; k += kWarp) sum += exp(static_cast<acc_t>(v[k * H + h]) - mx);
  sum = warp_sum(sum);
  for (int64_t k = b + lane; k < e; k += kWarp)
    v[k * H + h] = static_cast<scalar_t>(exp(static_cast<acc_t>(v[k * H + h]) - mx) / sum);
}

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

#define GRAPHKIT_LAUNCH_ROWS(M) dim3(ceil_div((M), kWarpsPerBlock)), kWarp * kWarpsPerBlock, 0, at::cuda::getCurrentCUDAStream()

at::Tensor sddmm_cuda(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& a_in, const at::Tensor& b_in,
                      int64_t heads, const at::Tensor&, const at::Tensor&, const at::Tensor&) {
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

std::tuple<at::Tensor, at::Tensor> gat_aggregate_cuda(const at::Tensor& rowptr, const at::Tensor& col,
                                                      const at::Tensor& x, const at::Tensor& a_src_in,
                                                      const at::Tensor& a_dst_in, double negative_slope,
                                                      const at::Tensor&, const at::Tensor&, const at::Tensor&) {
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
  at::Tensor out = std::get<0>(row_reduce(rowptr.contiguous(), col.contiguous(), at::Tensor(), alpha, x, 0, E));
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
  at::Tensor grad_x = std::get<0>(row_reduce(cp, rt, pm, alpha, grad_out, 0, E));
  at::Tensor grad_src = std::get<0>(row_reduce(cp, pm, at::Tensor(), at::Tensor(), g_raw, 0, E));
  return {grad_x, grad_src, grad_dst};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("sddmm", &sddmm_cuda);
  m.impl("segment_softmax", &segment_softmax_cuda);
  m.impl("segment_softmax_backward", &segment_softmax_backward_cuda);
  m.impl("gat_aggregate", &gat_aggregate_cuda);
  m.impl("gat_aggregate_backward", &gat_aggregate_backward_cuda);
}

}  // namespace cuda
}  // namespace graphkit
