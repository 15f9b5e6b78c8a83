// Block-sparse products for sheaf Laplacians: every CSR entry k carries a d x d block B_k, and
//   out[i] = sum over the entries k of row i of B_k x[col[k]]          (x [N, d, C])
// without an [E, d, C] message tensor. The transposed product (the gradient of x) runs the same
// row loop over the CSC arrays with the blocks transposed; the gradient of the blocks is one
// d x d outer-product sum per entry. No atomics: deterministic for any thread count.
#include <torch/library.h>

#include <vector>

#include "common.h"

namespace graphkit {
namespace {

// out[r] = sum_{k in ptr-row r} B(k) x[idx[k]], B(k) = blocks[bid(k)] or its transpose.
template <typename scalar_t, typename index_t>
void block_rows(const index_t* ptr, const index_t* idx, const index_t* bperm, int64_t rows, const scalar_t* blocks,
                const scalar_t* x, int64_t d, int64_t C, bool transpose, scalar_t* out) {
  using acc_t = at::opmath_type<scalar_t>;
  parallel_rows_by_nnz(ptr, rows, [&](int64_t r0, int64_t r1) {
    std::vector<acc_t> acc(d * C);
    for (int64_t r = r0; r < r1; ++r) {
      std::fill(acc.begin(), acc.end(), acc_t(0));
      for (int64_t k = ptr[r]; k < ptr[r + 1]; ++k) {
        const scalar_t* b = blocks + static_cast<int64_t>(bperm ? bperm[k] : k) * d * d;
        const scalar_t* xs = x + static_cast<int64_t>(idx[k]) * d * C;
        for (int64_t a = 0; a < d; ++a) {
          acc_t* row = acc.data() + a * C;
          for (int64_t c2 = 0; c2 < d; ++c2) {
            const acc_t w = static_cast<acc_t>(transpose ? b[c2 * d + a] : b[a * d + c2]);
            const scalar_t* xv = xs + c2 * C;
            for (int64_t c = 0; c < C; ++c) row[c] += w * static_cast<acc_t>(xv[c]);
          }
        }
      }
      scalar_t* o = out + r * d * C;
      for (int64_t t = 0; t < d * C; ++t) o[t] = static_cast<scalar_t>(acc[t]);
    }
  });
}

void check_blocks(const at::Tensor& blocks, const at::Tensor& x, int64_t entries) {
  TORCH_CHECK(blocks.dim() == 3 && blocks.size(1) == blocks.size(2), "block_spmm: blocks must be [E, d, d]");
  TORCH_CHECK(blocks.size(0) == entries, "block_spmm: one block per entry expected, got ", blocks.size(0), " for ",
              entries, " entries");
  TORCH_CHECK(x.dim() == 3 && x.size(1) == blocks.size(1), "block_spmm: x must be [N, d, C] with d = ", blocks.size(1));
  TORCH_CHECK(blocks.scalar_type() == x.scalar_type(), "block_spmm: blocks and x must share a dtype");
}

at::Tensor block_spmm_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& blocks_in,
                          const at::Tensor& x_in) {
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor blocks = blocks_in.contiguous(), x = x_in.contiguous();
  check_blocks(blocks, x, col.numel());
  const int64_t M = rowptr.numel() - 1, d = x.size(1), C = x.size(2);
  at::Tensor out = at::empty({M, d, C}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "block_spmm_cpu", [&] {
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "block_spmm_cpu", [&] {
      block_rows<scalar_t, index_t>(rowptr.data_ptr<index_t>(), col.data_ptr<index_t>(), nullptr, M,
                                    blocks.data_ptr<scalar_t>(), x.data_ptr<scalar_t>(), d, C, false,
                                    out.data_ptr<scalar_t>());
    });
  });
  return out;
}

// grad_x[j] = sum over the CSC entries of column j of B_perm^T grad[row_t].
at::Tensor block_spmm_transpose_cpu(const at::Tensor& colptr_in, const at::Tensor& row_t_in, const at::Tensor& perm_in,
                                    const at::Tensor& blocks_in, const at::Tensor& grad_in) {
  const at::Tensor colptr = colptr_in.contiguous(), row_t = row_t_in.contiguous(), perm = perm_in.contiguous();
  const at::Tensor blocks = blocks_in.contiguous(), grad = grad_in.contiguous();
  check_blocks(blocks, grad, row_t.numel());
  const int64_t N = colptr.numel() - 1, d = grad.size(1), C = grad.size(2);
  at::Tensor out = at::empty({N, d, C}, grad.options());
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "block_spmm_transpose_cpu", [&] {
    GRAPHKIT_DISPATCH_INDEX(row_t.scalar_type(), "block_spmm_transpose_cpu", [&] {
      block_rows<scalar_t, index_t>(colptr.data_ptr<index_t>(), row_t.data_ptr<index_t>(), perm.data_ptr<index_t>(), N,
                                    blocks.data_ptr<scalar_t>(), grad.data_ptr<scalar_t>(), d, C, true,
                                    out.data_ptr<scalar_t>());
    });
  });
  return out;
}

// grad_B[k] = grad[row(k)] x[col(k)]^T, a d x d sum over the C channels per entry.
at::Tensor block_spmm_blocks_grad_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& grad_in,
                                      const at::Tensor& x_in) {
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor grad = grad_in.contiguous(), x = x_in.contiguous();
  const int64_t M = rowptr.numel() - 1, d = x.size(1), C = x.size(2);
  at::Tensor out = at::empty({col.numel(), d, d}, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "block_spmm_blocks_grad_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "block_spmm_blocks_grad_cpu", [&] {
      const index_t* rp = rowptr.data_ptr<index_t>();
      const index_t* cl = col.data_ptr<index_t>();
      const scalar_t* gp = grad.data_ptr<scalar_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        for (int64_t r = r0; r < r1; ++r) {
          const scalar_t* g = gp + r * d * C;
          for (int64_t k = rp[r]; k < rp[r + 1]; ++k) {
            const scalar_t* xs = xp + static_cast<int64_t>(cl[k]) * d * C;
            for (int64_t a = 0; a < d; ++a)
              for (int64_t b = 0; b < d; ++b) {
                acc_t s = 0;
                for (int64_t c = 0; c < C; ++c) s += static_cast<acc_t>(g[a * C + c]) * static_cast<acc_t>(xs[b * C + c]);
                op[(k * d + a) * d + b] = static_cast<scalar_t>(s);
              }
          }
        }
      });
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("block_spmm", &block_spmm_cpu);
  m.impl("block_spmm_transpose", &block_spmm_transpose_cpu);
  m.impl("block_spmm_blocks_grad", &block_spmm_blocks_grad_cpu);
}

}  // namespace graphkit
