// Fused GAT aggregation: scores -> leaky ReLU -> row softmax -> weighted sum in one pass per
// row; only alpha [E, H] is kept for the backward (which is composed from spmm, sddmm and
// segment_softmax_backward in graphkit/ops/native.py).
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <cmath>
#include <limits>

#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor> gat_aggregate_cpu(const at::Tensor& rowptr, const at::Tensor& col,
                                                     const at::Tensor& x_in, const at::Tensor& a_src_in,
                                                     const at::Tensor& a_dst_in, double negative_slope,
                                                     const at::Tensor& /*colptr*/, const at::Tensor& /*row_t*/,
                                                     const at::Tensor& /*perm*/) {
  const at::Tensor x = x_in.contiguous(), a_src = a_src_in.contiguous(), a_dst = a_dst_in.contiguous();
  TORCH_CHECK(x.dim() == 2 && a_src.dim() == 2 && a_dst.dim() == 2, "gat_aggregate: x [N, H*C], a_src [N, H], a_dst [M, H]");
  const int64_t M = rowptr.numel() - 1, F = x.size(1), H = a_src.size(1), E = col.numel();
  TORCH_CHECK(F % H == 0, "gat_aggregate: feature size must be a multiple of the heads");
  const int64_t C = F / H;
  at::Tensor out = at::zeros({M, F}, x.options());
  at::Tensor alpha = at::empty({E, H}, x.options());
  if (E == 0) return {out, alpha};
  const at::Tensor rp_t = rowptr.contiguous(), col_t = col.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gat_aggregate_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "gat_aggregate_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const index_t* cl = col_t.data_ptr<index_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* sp = a_src.data_ptr<scalar_t>();
      const scalar_t* dp = a_dst.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      scalar_t* alp = alpha.data_ptr<scalar_t>();
      const acc_t slope = static_cast<acc_t>(negative_slope);
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> mx(H), sum(H), acc(F), wexp(F);
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t b = rp[i], e = rp[i + 1];
          if (b == e) continue;
          std::fill(mx.begin(), mx.end(), -std::numeric_limits<acc_t>::infinity());
          for (int64_t k = b; k < e; ++k) {  // raw scores into alpha, row maxima
            const int64_t j = cl[k];
            for (int64_t h = 0; h < H; ++h) {
              acc_t s = static_cast<acc_t>(dp[i * H + h]) + static_cast<acc_t>(sp[j * H + h]);
              s = s > 0 ? s : s * slope;
              alp[k * H + h] = static_cast<scalar_t>(s);
              mx[h] = std::max(mx[h], s);
            }
          }
          std::fill(sum.begin(), sum.end(), acc_t(0));
          for (int64_t k = b; k < e; ++k)
            for (int64_t h = 0; h < H; ++h) {
              const acc_t v = std::exp(static_cast<acc_t>(alp[k * H + h]) - mx[h]);
              alp[k * H + h] = static_cast<scalar_t>(v);
              sum[h] += v;
            }
          std::fill(acc.begin(), acc.end(), acc_t(0));
          for (int64_t k = b; k < e; ++k) {
            const scalar_t* xr = xp + static_cast<int64_t>(cl[k]) * F;
            for (int64_t h = 0; h < H; ++h) {
              const acc_t a = static_cast<acc_t>(alp[k * H + h]) / sum[h];
              alp[k * H + h] = static_cast<scalar_t>(a);
              std::fill(wexp.begin() + h * C, wexp.begin() + (h + 1) * C, a);
            }
            for (int64_t f = 0; f < F; ++f) acc[f] += wexp[f] * static_cast<acc_t>(xr[f]);  // one vector loop
          }
          scalar_t* orow = op + i * F;
          for (int64_t f = 0; f < F; ++f) orow[f] = static_cast<scalar_t>(acc[f]);
        }
      });
    });
  });
  return {out, alpha};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("gat_aggregate", &gat_aggregate_cpu); }

}  // namespace graphkit
