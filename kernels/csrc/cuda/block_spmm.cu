// Block-sparse products for sheaf Laplacians on the GPU (see cpu/block_spmm.cpp): one thread per
// output element, entries of a row walked in order, so no atomics and the CPU kernels' sums.
#include <torch/library.h>

#include "common.cuh"

namespace graphkit {
namespace cuda {
namespace {

template <typename scalar_t, typename index_t>
__global__ void block_rows_kernel(const index_t* __restrict__ ptr, const index_t* __restrict__ idx,
                                  const index_t* __restrict__ bperm, int64_t rows, const scalar_t* __restrict__ blocks,
                                  const scalar_t* __restrict__ x, int64_t d, int64_t C, bool transpose,
                                  scalar_t* __restrict__ out) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t total = rows * d * C;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t r = t / (d * C), a = (t / C) % d, c = t % C;
    acc_t acc = 0;
    for (int64_t k = ptr[r]; k < ptr[r + 1]; ++k) {
      const scalar_t* b = blocks + static_cast<int64_t>(bperm ? bperm[k] : k) * d * d;
      const scalar_t* xs = x + static_cast<int64_t>(idx[k]) * d * C + c;
      for (int64_t j = 0; j < d; ++j)
        acc += static_cast<acc_t>(transpose ? b[j * d + a] : b[a * d + j]) * static_cast<acc_t>(xs[j * C]);
    }
    out[t] = static_cast<scalar_t>(acc);
  }
}

template <typename scalar_t, typename index_t>
__global__ void blocks_grad_kernel(const index_t* __restrict__ rowptr, int64_t rows, const index_t* __restrict__ col,
                                   int64_t entries, const scalar_t* __restrict__ grad, const scalar_t* __restrict__ x,
                                   int64_t d, int64_t C, scalar_t* __restrict__ out) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t total = entries * d * d;
  for (int64_t t = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; t < total;
       t += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k = t / (d * d), a = (t / d) % d, b = t % d;
    int64_t lo = 0, hi = rows;  // the row of entry k: last r with rowptr[r] <= k
    while (hi - lo > 1) {
      const int64_t mid = (lo + hi) / 2;
      if (static_cast<int64_t>(rowptr[mid]) <= k) lo = mid; else hi = mid;
    }
    const scalar_t* g = grad + lo * d * C + a * C;
    const scalar_t* xs = x + static_cast<int64_t>(col[k]) * d * C + b * C;
    acc_t s = 0;
    for (int64_t c = 0; c < C; ++c) s += static_cast<acc_t>(g[c]) * static_cast<acc_t>(xs[c]);
    out[t] = static_cast<scalar_t>(s);
  }
}

inline int blocks_for(int64_t n) { return static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(ceil_div(n, 256), 65535))); }

at::Tensor run_rows(const at::Tensor& ptr_in, const at::Tensor& idx_in, const at::Tensor* perm_in,
                    const at::Tensor& blocks_in, const at::Tensor& x_in, bool transpose) {
  const at::Tensor ptr = ptr_in.contiguous(), idx = idx_in.contiguous(), blocks = blocks_in.contiguous();
  const at::Tensor x = x_in.contiguous();
  TORCH_CHECK(blocks.dim() == 3 && x.dim() == 3 && x.size(1) == blocks.size(1), "block_spmm: blocks [E, d, d] and x [N, d, C] expected");
  const int64_t rows = ptr.numel() - 1, d = x.size(1), C = x.size(2);
  at::Tensor out = at::empty({rows, d, C}, x.options());
  if (out.numel() == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(x.device());
  at::Tensor perm = perm_in ? perm_in->contiguous() : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "block_rows_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(idx.scalar_type(), "block_rows_cuda", [&] {
      block_rows_kernel<scalar_t, index_t><<<blocks_for(out.numel()), 256, 0, at::cuda::getCurrentCUDAStream()>>>(
          ptr.data_ptr<index_t>(), idx.data_ptr<index_t>(), perm_in ? perm.data_ptr<index_t>() : nullptr, rows,
          blocks.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), d, C, transpose, out.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

at::Tensor block_spmm_cuda(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& blocks,
                           const at::Tensor& x) {
  return run_rows(rowptr, col, nullptr, blocks, x, false);
}

at::Tensor block_spmm_transpose_cuda(const at::Tensor& colptr, const at::Tensor& row_t, const at::Tensor& perm,
                                     const at::Tensor& blocks, const at::Tensor& grad) {
  return run_rows(colptr, row_t, &perm, blocks, grad, true);
}

at::Tensor block_spmm_blocks_grad_cuda(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& grad_in,
                                       const at::Tensor& x_in) {
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor grad = grad_in.contiguous(), x = x_in.contiguous();
  const int64_t d = x.size(1), C = x.size(2), E = col.numel();
  at::Tensor out = at::empty({E, d, d}, x.options());
  if (out.numel() == 0) return out;
  const at::cuda::OptionalCUDAGuard guard(x.device());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "block_spmm_blocks_grad_cuda", [&] {
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "block_spmm_blocks_grad_cuda", [&] {
      blocks_grad_kernel<scalar_t, index_t><<<blocks_for(out.numel()), 256, 0, at::cuda::getCurrentCUDAStream()>>>(
          rowptr.data_ptr<index_t>(), rowptr.numel() - 1, col.data_ptr<index_t>(), E, grad.data_ptr<scalar_t>(),
          x.data_ptr<scalar_t>(), d, C, out.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CUDA, m) {
  m.impl("block_spmm", &block_spmm_cuda);
  m.impl("block_spmm_transpose", &block_spmm_transpose_cuda);
  m.impl("block_spmm_blocks_grad", &block_spmm_blocks_grad_cuda);
}

}  // namespace cuda
}  // namespace graphkit
