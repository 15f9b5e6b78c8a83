// CUDA CSR SpMM (spmm, its transpose and its max/min backward): row-split (one warp per row), the warp loads 32 entries' indices and weights at
// once (coalesced) and broadcasts them by shuffle, every lane owns kVec consecutive features
// (16-byte loads), feature tiles of 32 * kVec channels along grid.y. The same kernel serves the
// forward (sum/mean/max/min), the transposed product of the backward (weights through perm),
// segment_reduce (no index: entry k is row k of src) and gather's backward (no weights). No
// atomics anywhere, so results are deterministic.
#include <torch/library.h>

#include <limits>

#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

// out[r, f] = reduce over entries k in [ptr[r], ptr[r+1]) of w(k, f) * x[idx ? idx[k] : k, f]
// with w(k, f) = w[(wperm ? wperm[k] : k) * H + f / C] (1 without w).
template <typename scalar_t, typename index_t, int kVec>
__global__ void row_reduce_kernel(const index_t* __restrict__ ptr, const index_t* __restrict__ idx,
                                  const index_t* __restrict__ wperm, const scalar_t* __restrict__ w,
                                  const scalar_t* __restrict__ x, scalar_t* __restrict__ out,
                                  int64_t* __restrict__ arg, int64_t num_rows, int64_t F, int64_t H,
                                  Reduce reduce) {
  using acc_t = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x % kWarp;
  const int64_t r = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (r >= num_rows) return;
  const int64_t f = (static_cast<int64_t>(blockIdx.y) * kWarp + lane) * kVec;
  const bool active = f < F;
  const int64_t C = F / H;
  const bool arg_reduce = has_arg(reduce);
  const acc_t init = reduce == kMax ? -std::numeric_limits<acc_t>::infinity()
                   : reduce == kMin ? std::numeric_limits<acc_t>::infinity() : acc_t(0);
  acc_t acc[kVec];
  int64_t best[kVec];
  const int64_t b = ptr[r], e = ptr[r + 1];
#pragma unroll
  for (int v = 0; v < kVec; ++v) { acc[v] = init; best[v] = b; }
  for (int64_t k0 = b; k0 < e; k0 += kWarp) {
    const int64_t k_lane = k0 + lane;
    const int64_t j_lane = k_lane < e ? (idx ? static_cast<int64_t>(idx[k_lane]) : k_lane) : 0;
    const int64_t we_lane = k_lane < e ? (wperm ? static_cast<int64_t>(wperm[k_lane]) : k_lane) : 0;
    const int count = e - k0 < kWarp ? static_cast<int>(e - k0) : kWarp;
    for (int t = 0; t < count; ++t) {
      const int64_t j = __shfl_sync(0xffffffff, j_lane, t);
      const int64_t we = __shfl_sync(0xffffffff, we_lane, t);
      if (!active) continue;
      Pack<scalar_t, kVec> xv = *reinterpret_cast<const Pack<scalar_t, kVec>*>(x + j * F + f);
#pragma unroll
      for (int v = 0; v < kVec; ++v) {
        const acc_t weight = w ? static_cast<acc_t>(w[we * H + (f + v) / C]) : acc_t(1);
        const acc_t value = weight * static_cast<acc_t>(xv.v[v]);
        if (!arg_reduce) {
          acc[v] += value;
        } else {
          const bool better = arg_better(value, acc[v], reduce == kMax);
          acc[v] = better ? value : acc[v];
          best[v] = better ? k0 + t : best[v];
        }
      }
    }
  }
  if (!active) return;
  const acc_t scale = (reduce == kMean && e > b) ? acc_t(1) / acc_t(e - b) : acc_t(1);
  Pack<scalar_t, kVec> o;
#pragma unroll
  for (int v = 0; v < kVec; ++v) o.v[v] = static_cast<scalar_t>(e > b ? acc[v] * scale : acc_t(0));
  *reinterpret_cast<Pack<scalar_t, kVec>*>(out + r * F + f) = o;
  if (arg_reduce && arg != nullptr) {
#pragma unroll
    for (int v = 0; v < kVec; ++v) arg[r * F + f + v] = e > b ? best[v] : arg[r * F + f + v];
  }
}

}  // namespace

// Launches row_reduce_kernel; returns (out [R, F], arg [R, F] or empty).
std::tuple<at::Tensor, at::Tensor> row_reduce(const at::Tensor& ptr, const at::Tensor& idx, const at::Tensor& wperm,
                                              const at::Tensor& weight, const at::Tensor& x_in, Reduce reduce,
                                              int64_t num_entries) {
  const at::Tensor x = x_in.contiguous();
  const int64_t R = ptr.numel() - 1, F = x.size(1);
  const int64_t H = weight.defined() && weight.dim() == 2 ? weight.size(1) : 1;
  TORCH_CHECK(F % H == 0, "graphkit (CUDA): feature size ", F, " is not a multiple of the heads ", H);
  at::Tensor out = at::zeros({R, F}, x.options());
  const bool arg_reduce = has_arg(reduce);
  at::Tensor arg = arg_reduce ? at::full({R, F}, num_entries, x.options().dtype(at::kLong))
                              : at::empty({0}, x.options().dtype(at::kLong));
  if (R == 0 || F == 0 || num_entries == 0) return {out, arg};
  const at::cuda::OptionalCUDAGuard guard(x.device());
  const auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "graphkit_row_reduce_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(ptr.scalar_type(), "graphkit_row_reduce_cuda", [&] {
      const int width = vector_width<scalar_t>(F, x.data_ptr()) > 4 ? 4 : vector_width<scalar_t>(F, x.data_ptr());
      GRAPHKIT_CUDA_DISPATCH_VEC(width, [&] {
        const dim3 grid(ceil_div(R, kWarpsPerBlock), ceil_div(F, kWarp * kVec));
        row_reduce_kernel<scalar_t, index_t, kVec><<<grid, kWarp * kWarpsPerBlock, 0, stream>>>(
            ptr.data_ptr<index_t>(), idx.defined() ? idx.data_ptr<index_t>() : nullptr,
            wperm.defined() ? wperm.data_ptr<index_t>() : nullptr,
            weight.defined() ? weight.data_ptr<scalar_t>() : nullptr, x.data_ptr<scalar_t>(),
            out.data_ptr<scalar_t>(), arg_reduce ? arg.data_ptr<int64_t>() : nullptr, R, F, H, reduce);
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
    });
  });
  return {out, arg};
}

namespace {

at::Tensor cast_weight(const std::optional<at::Tensor>& w, const at::Tensor& like) {
  return (w.has_value() && w->defined()) ? w->to(like.scalar_type()).contiguous() : at::Tensor();
}

std::tuple<at::Tensor, at::Tensor> spmm_cuda(const at::Tensor& rowptr, const at::Tensor& col,
                                             const std::optional<at::Tensor>& weight, const at::Tensor& x,
                                             c10::string_view reduce) {
  TORCH_CHECK(x.dim() == 2, "spmm: x must be 2-D [N, F]");
  return row_reduce(rowptr.contiguous(), col.contiguous(), at::Tensor(), cast_weight(weight, x), x,
                    parse_reduce(reduce, "spmm"), col.numel());
}

at::Tensor spmm_transpose_cuda(const at::Tensor& colptr, const at::Tensor& row_t, const at::Tensor& perm,
                               const std::optional<at::Tensor>& weight, const at::Tensor& x) {
  return std::get<0>(row_reduce(colptr.contiguous(), row_t.contiguous(), perm.numel() ? perm.contiguous() : at::Tensor(),
                                cast_weight(weight, x), x, kSum, row_t.numel()));
}

// grad_x[j, f] = sum over CSC entries k of column j with arg[row_t[k], f] == perm[k] of
// w[perm[k], head(f)] * grad_out[row_t[k], f]: one warp per column, no atomics.
template <typename scalar_t, typename index_t>
__global__ void arg_backward_kernel(const index_t* __restrict__ colptr, const index_t* __restrict__ row_t,
                                    const index_t* __restrict__ perm, const scalar_t* __restrict__ w,
                                    const int64_t* __restrict__ arg, const scalar_t* __restrict__ grad,
                                    scalar_t* __restrict__ out, int64_t N, int64_t F, int64_t H) {
  using acc_t = at::opmath_type<scalar_t>;
  const int lane = threadIdx.x % kWarp;
  const int64_t j = static_cast<int64_t>(blockIdx.x) * kWarpsPerBlock + threadIdx.x / kWarp;
  if (j >= N) return;
  const int64_t C = F / H;
  for (int64_t f = static_cast<int64_t>(blockIdx.y) * kWarp + lane; f < F; f += static_cast<int64_t>(gridDim.y) * kWarp) {
    acc_t acc = 0;
    for (int64_t k = colptr[j]; k < colptr[j + 1]; ++k) {
      const int64_t e = perm[k], i = row_t[k];
      if (arg[i * F + f] == e) acc += (w ? static_cast<acc_t>(w[e * H + f / C]) : acc_t(1)) * static_cast<acc_t>(grad[i * F + f]);
    }
    out[j * F + f] = static_cast<scalar_t>(acc);
  }
}

at::Tensor spmm_arg_backward_cuda(const at::Tensor& colptr, const at::Tensor& row_t, const at::Tensor& perm,
                                  const std::optional<at::Tensor>& weight_opt, const at::Tensor& arg,
                                  const at::Tensor& grad_in, int64_t num_src) {
  const at::Tensor grad = grad_in.contiguous(), weight = cast_weight(weight_opt, grad_in);
  const int64_t F = grad.size(1), H = weight.defined() && weight.dim() == 2 ? weight.size(1) : 1;
  at::Tensor out = at::zeros({num_src, F}, grad.options());
  if (num_src == 0 || F == 0 || perm.numel() == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(grad.device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "graphkit_arg_backward_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(colptr.scalar_type(), "graphkit_arg_backward_cuda", [&] {
      const dim3 grid(ceil_div(num_src, kWarpsPerBlock), ceil_div(F, kWarp));
      arg_backward_kernel<scalar_t, index_t><<<grid, kWarp * kWarpsPerBlock, 0, at::cuda::getCurrentCUDAStream()>>>(
          colptr.contiguous().data_ptr<index_t>(), row_t.contiguous().data_ptr<index_t>(),
          perm.contiguous().data_ptr<index_t>(), weight.defined() ? weight.data_ptr<scalar_t>() : nullptr,
          arg.contiguous().data_ptr<int64_t>(), grad.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), num_src, F, H);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("spmm", &spmm_cuda);
  m.impl("spmm_transpose", &spmm_transpose_cuda);
  m.impl("spmm_arg_backward", &spmm_arg_backward_cuda);
}

}  // namespace cuda
}  // namespace graphkit
