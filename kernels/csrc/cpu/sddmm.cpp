// sddmm: per-edge, per-head dot products of the endpoint features, out[k, h] = <a[i, h, :],
// b[col[k], h, :]> for the entries k of row i. Parallel over nnz-balanced row blocks; every edge is
// written once.
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include "common.h"

namespace graphkit {
namespace {

at::Tensor sddmm_cpu(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& a_in,
                     const at::Tensor& b_in, int64_t heads) {
  TORCH_CHECK(a_in.dim() == 2 && b_in.dim() == 2 && a_in.size(1) == b_in.size(1),
              "sddmm: a and b must be [M, F] and [N, F]");
  const at::Tensor a = a_in.contiguous(), b = b_in.contiguous();
  const int64_t M = rowptr.numel() - 1, F = a.size(1), E = col.numel();
  TORCH_CHECK(heads >= 1 && F % heads == 0, "sddmm: F must be a multiple of heads");
  const int64_t C = F / heads;
  at::Tensor out = at::zeros({E, heads}, a.options());
  if (E == 0) return out;
  const at::Tensor rp_t = rowptr.contiguous(), col_t = col.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "sddmm_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "sddmm_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const index_t* cl = col_t.data_ptr<index_t>();
      const scalar_t* ap = a.data_ptr<scalar_t>();
      const scalar_t* bp = b.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> prod(F);
        const int64_t limit = rp[r1];
        for (int64_t i = r0; i < r1; ++i) {
          const scalar_t* arow = ap + i * F;
          for (int64_t k = rp[i]; k < rp[i + 1]; ++k) {
            if (k + kPrefetchDistance < limit)
              prefetch_bytes(bp + static_cast<int64_t>(cl[k + kPrefetchDistance]) * F, F * sizeof(scalar_t));
            const scalar_t* brow = bp + static_cast<int64_t>(cl[k]) * F;
            if (heads == 1) {
              acc_t s = 0;
              _Pragma("omp simd reduction(+ : s)")
              for (int64_t f = 0; f < F; ++f) s += static_cast<acc_t>(arow[f]) * static_cast<acc_t>(brow[f]);
              op[k] = static_cast<scalar_t>(s);
              continue;
            }
            // one long vector loop over all features, then short per-head sums
            for (int64_t f = 0; f < F; ++f) prod[f] = static_cast<acc_t>(arow[f]) * static_cast<acc_t>(brow[f]);
            for (int64_t h = 0; h < heads; ++h) {
              acc_t s = 0;
              for (int64_t c = h * C; c < (h + 1) * C; ++c) s += prod[c];
              op[k * heads + h] = static_cast<scalar_t>(s);
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
  m.impl("sddmm", &sddmm_cpu);
}

}  // namespace graphkit
