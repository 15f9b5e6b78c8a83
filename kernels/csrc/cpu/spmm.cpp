// CSR sparse-times-dense with sum/mean/max/min and optional (per-head) edge weights, parallel
// over nnz-balanced row blocks; the max/min backward walks the transpose, so no atomics.
#include <ATen/OpMathType.h>
#include <torch/library.h>

#include <limits>

#include "common.h"

namespace graphkit {
namespace {

constexpr int64_t kSum = 0, kMean = 1, kMax = 2;
constexpr int64_t kPrefetch = 4;  // rows ahead: the gather is latency-bound

std::tuple<at::Tensor, at::Tensor> spmm_cpu(const at::Tensor& rowptr, const at::Tensor& col,
                                            const std::optional<at::Tensor>& weight_opt,
                                            const at::Tensor& x_in, int64_t reduce,
                                            const at::Tensor& /*colptr*/, const at::Tensor& /*row_t*/,
                                            const at::Tensor& /*perm*/) {
  TORCH_CHECK(x_in.dim() == 2, "spmm: x must be 2-D [N, F], got ", x_in.sizes());
  TORCH_CHECK(rowptr.scalar_type() == col.scalar_type(), "spmm: rowptr and col must share a dtype");
  TORCH_CHECK(reduce >= 0 && reduce <= 3, "spmm: reduce must be 0..3");
  const at::Tensor x = x_in.contiguous();
  const int64_t M = rowptr.numel() - 1, F = x.size(1), E = col.numel();
  at::Tensor weight;
  int64_t H = 1;
  if (weight_opt.has_value() && weight_opt->defined()) {
    weight = weight_opt->to(x.scalar_type()).contiguous();
    TORCH_CHECK(weight.size(0) == E, "spmm: weight must have one row per edge");
    H = weight.dim() == 2 ? weight.size(1) : 1;
    TORCH_CHECK(F % H == 0, "spmm: feature size ", F, " is not a multiple of the heads ", H);
  }
  const int64_t C = F / H;
  const bool has_arg = reduce >= kMax;
  at::Tensor out = at::zeros({M, F}, x.options());
  at::Tensor arg = has_arg ? at::full({M, F}, E, x.options().dtype(at::kLong))
                           : at::empty({0}, x.options().dtype(at::kLong));
  if (E == 0 || F == 0) return {out, arg};
  const at::Tensor rp_t = rowptr.contiguous(), col_t = col.contiguous();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "spmm_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "spmm_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const index_t* cl = col_t.data_ptr<index_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* wp = weight.defined() ? weight.data_ptr<scalar_t>() : nullptr;
      scalar_t* op = out.data_ptr<scalar_t>();
      int64_t* ap = has_arg ? arg.data_ptr<int64_t>() : nullptr;
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> acc(F), wexp(F);
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t b = rp[i], e = rp[i + 1];
          if (b == e) continue;
          if (!has_arg) {
            std::fill(acc.begin(), acc.end(), acc_t(0));
            for (int64_t k = b; k < e; ++k) {
              const scalar_t* xr = xp + static_cast<int64_t>(cl[k]) * F;
              if (k + kPrefetch < e) prefetch_row(xp + static_cast<int64_t>(cl[k + kPrefetch]) * F, F);
              if (H == 1) {
                const acc_t w = wp ? static_cast<acc_t>(wp[k]) : acc_t(1);
                for (int64_t f = 0; f < F; ++f) acc[f] += w * static_cast<acc_t>(xr[f]);
              } else {  // spread the per-head weights over the features: one long vector loop
                for (int64_t h = 0; h < H; ++h)
                  std::fill(wexp.begin() + h * C, wexp.begin() + (h + 1) * C, static_cast<acc_t>(wp[k * H + h]));
                for (int64_t f = 0; f < F; ++f) acc[f] += wexp[f] * static_cast<acc_t>(xr[f]);
              }
            }
            const acc_t scale = reduce == kMean ? acc_t(1) / acc_t(e - b) : acc_t(1);
            scalar_t* orow = op + i * F;
            for (int64_t f = 0; f < F; ++f) orow[f] = static_cast<scalar_t>(acc[f] * scale);
          } else {
            const bool is_max = reduce == kMax;
            int64_t* arow = ap + i * F;
            for (int64_t f = 0; f < F; ++f) acc[f] = is_max ? -std::numeric_limits<acc_t>::infinity()
                                                             : std::numeric_limits<acc_t>::infinity();
            for (int64_t k = b; k < e; ++k) {
              const scalar_t* xr = xp + static_cast<int64_t>(cl[k]) * F;
              if (k + kPrefetch < e) prefetch_row(xp + static_cast<int64_t>(cl[k + kPrefetch]) * F, F);
              for (int64_t h = 0; h < H; ++h) {
                const acc_t w = wp ? static_cast<acc_t>(wp[k * H + h]) : acc_t(1);
                for (int64_t f = h * C; f < (h + 1) * C; ++f) {
                  const acc_t v = w * static_cast<acc_t>(xr[f]);
                  const bool better = is_max ? v > acc[f] : v < acc[f];  // ties: first entry wins
                  acc[f] = better ? v : acc[f];
                  arow[f] = better ? k : arow[f];
                }
              }
            }
            scalar_t* orow = op + i * F;
            for (int64_t f = 0; f < F; ++f) orow[f] = static_cast<scalar_t>(acc[f]);
          }
        }
      });
    });
  });
  return {out, arg};
}

// grad_x[j, f] = sum over CSC entries k of column j (edge e = perm[k], row i = row_t[k]) with
// arg[i, f] == e of w[e] * grad_out[i, f].
at::Tensor spmm_arg_backward_cpu(const at::Tensor& colptr, const at::Tensor& row_t, const at::Tensor& perm,
                                 const std::optional<at::Tensor>& weight_opt,
                                 const at::Tensor& arg_in, const at::Tensor& grad_in, int64_t num_src) {
  const at::Tensor grad = grad_in.contiguous(), arg = arg_in.contiguous();
  const int64_t F = grad.size(1);
  at::Tensor weight;
  int64_t H = 1;
  if (weight_opt.has_value() && weight_opt->defined()) {
    weight = weight_opt->to(grad.scalar_type()).contiguous();
    H = weight.dim() == 2 ? weight.size(1) : 1;
  }
  const int64_t C = F / H;
  at::Tensor grad_x = at::zeros({num_src, F}, grad.options());
  if (perm.numel() == 0 || F == 0) return grad_x;
  const at::Tensor cp_t = colptr.contiguous(), rt_t = row_t.contiguous(), pm_t = perm.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "spmm_arg_backward_cpu", [&] {
    GRAPHKIT_DISPATCH_INDEX(colptr.scalar_type(), "spmm_arg_backward_cpu", [&] {
      const index_t* cp = cp_t.data_ptr<index_t>();
      const index_t* rt = rt_t.data_ptr<index_t>();
      const int64_t* pm = pm_t.data_ptr<int64_t>();
      const int64_t* ap = arg.data_ptr<int64_t>();
      const scalar_t* gp = grad.data_ptr<scalar_t>();
      const scalar_t* wp = weight.defined() ? weight.data_ptr<scalar_t>() : nullptr;
      scalar_t* out = grad_x.data_ptr<scalar_t>();
      parallel_rows_by_nnz(cp, num_src, [&](int64_t j0, int64_t j1) {
        for (int64_t j = j0; j < j1; ++j) {
          scalar_t* orow = out + j * F;
          for (int64_t k = cp[j]; k < cp[j + 1]; ++k) {
            const int64_t e = pm[k], i = rt[k];
            const int64_t* arow = ap + i * F;
            const scalar_t* grow = gp + i * F;
            for (int64_t h = 0; h < H; ++h) {
              const scalar_t w = wp ? wp[e * H + h] : scalar_t(1);
              for (int64_t f = h * C; f < (h + 1) * C; ++f) orow[f] += arow[f] == e ? w * grow[f] : scalar_t(0);
            }
          }
        }
      });
    });
  });
  return grad_x;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("spmm", &spmm_cpu);
  m.impl("spmm_arg_backward", &spmm_arg_backward_cpu);
}

}  // namespace graphkit
