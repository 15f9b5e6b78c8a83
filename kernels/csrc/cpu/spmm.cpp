// CSR sparse-times-dense with sum/mean/max/min and optional (per-head) edge weights, parallel
// over nnz-balanced row blocks with register-blocked feature tiles; the backward walks the
// transpose (CSC) or, for few columns, scatters into per-chunk accumulators: no atomics, and
// results that do not depend on the thread count.
#include <torch/library.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "../reduce.h"
#include "common.h"

namespace graphkit {
namespace {

// The weight tensor of an entry list: undefined, [E] or [E, H] with F % H == 0; returns H.
int64_t check_weight(const at::Tensor& weight, int64_t E, int64_t F, const char* op) {
  if (!weight.defined()) return 1;
  TORCH_CHECK(weight.dim() <= 2 && weight.size(0) == E, op, ": weight must be [E] or [E, H] with E = ", E);
  const int64_t H = weight.dim() == 2 ? weight.size(1) : 1;
  TORCH_CHECK(H >= 1 && F % H == 0, op, ": feature size ", F, " is not a multiple of the heads ", H);
  return H;
}

at::Tensor optional_weight(const std::optional<at::Tensor>& w, const at::Tensor& like) {
  return (w.has_value() && w->defined()) ? w->to(like.scalar_type()).contiguous() : at::Tensor();
}

// Max/min over each row with the arg entry (first one on ties; E where a row is empty).
template <typename acc_t, typename scalar_t, typename index_t>
void arg_reduce_rows(const index_t* rp, const index_t* cl, int64_t M, const scalar_t* xp, int64_t F,
                     const scalar_t* wp, int64_t H, bool is_max, scalar_t* op, int64_t* ap) {
  constexpr int64_t kB = block_size<acc_t>() / 2;  // values and args both in registers
  const int64_t C = F / H;
  const acc_t init = is_max ? -std::numeric_limits<acc_t>::infinity() : std::numeric_limits<acc_t>::infinity();
  parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
    acc_t acc[kB], wexp[kB];
    int64_t arg[kB], head_of[kB];
    const int64_t limit = rp[r1];
    for (int64_t f0 = 0; f0 < F; f0 += kB) {
      const int64_t n = std::min(kB, F - f0);
      for (int64_t t = 0; t < n; ++t) head_of[t] = (f0 + t) / C;
      std::fill(wexp, wexp + kB, acc_t(1));
      for (int64_t i = r0; i < r1; ++i) {
        const int64_t b = rp[i], e = rp[i + 1];
        if (b == e) continue;
        std::fill(acc, acc + n, init);
        std::fill(arg, arg + n, b);
        for (int64_t k = b; k < e; ++k) {
          if (k + kPrefetchDistance < limit)
            prefetch_bytes(xp + static_cast<int64_t>(cl[k + kPrefetchDistance]) * F + f0, n * sizeof(scalar_t));
          const scalar_t* xr = xp + static_cast<int64_t>(cl[k]) * F + f0;
          if (wp)
            for (int64_t t = 0; t < n; ++t) wexp[t] = static_cast<acc_t>(wp[k * H + head_of[t]]);
_Pragma("omp simd")
          for (int64_t t = 0; t < n; ++t) {
            const acc_t v = wexp[t] * static_cast<acc_t>(xr[t]);
            const bool better = arg_better(v, acc[t], is_max);
            acc[t] = better ? v : acc[t];
            arg[t] = better ? k : arg[t];
          }
        }
        scalar_t* orow = op + i * F + f0;
        int64_t* arow = ap + i * F + f0;
        for (int64_t t = 0; t < n; ++t) {
          orow[t] = static_cast<scalar_t>(acc[t]);
          arow[t] = arg[t];
        }
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor> spmm_cpu(const at::Tensor& rowptr, const at::Tensor& col,
                                            const std::optional<at::Tensor>& weight_opt,
                                            const at::Tensor& x_in, c10::string_view reduce_name) {
  TORCH_CHECK(x_in.dim() == 2, "spmm: x must be 2-D [N, F], got ", x_in.sizes());
  TORCH_CHECK(rowptr.scalar_type() == col.scalar_type(), "spmm: rowptr and col must share a dtype");
  const Reduce reduce = parse_reduce(reduce_name, "spmm");
  const at::Tensor x = x_in.contiguous();
  const int64_t M = rowptr.numel() - 1, F = x.size(1), E = col.numel();
  const at::Tensor weight = optional_weight(weight_opt, x);
  const int64_t H = check_weight(weight, E, F, "spmm");
  const bool with_arg = has_arg(reduce);
  at::Tensor arg = with_arg ? at::full({M, F}, E, x.options().dtype(at::kLong))
                            : at::empty({0}, x.options().dtype(at::kLong));
  if (E == 0 || F == 0) return {at::zeros({M, F}, x.options()), arg};
  // sum/mean write every row (0 where empty); max/min skip empty rows, which stay 0
  at::Tensor out = with_arg ? at::zeros({M, F}, x.options()) : at::empty({M, F}, x.options());
  const at::Tensor rp_t = rowptr.contiguous(), col_t = col.contiguous();

  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "spmm_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "spmm_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const index_t* cl = col_t.data_ptr<index_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* wp = weight.defined() ? weight.data_ptr<scalar_t>() : nullptr;
      scalar_t* op = out.data_ptr<scalar_t>();
      if (with_arg) {
        arg_reduce_rows<acc_t>(rp, cl, M, xp, F, wp, H, reduce == kMax, op, arg.data_ptr<int64_t>());
        return;
      }
      weighted_row_sums<acc_t>(rp, cl, M, xp, F, wp, static_cast<const index_t*>(nullptr), H,
                               [&](int64_t i, int64_t f0, int64_t n, const acc_t* acc) {
        const int64_t deg = rp[i + 1] - rp[i];
        const acc_t scale = (reduce == kMean && deg > 0) ? acc_t(1) / acc_t(deg) : acc_t(1);
        scalar_t* orow = op + i * F + f0;
        for (int64_t t = 0; t < n; ++t) orow[t] = static_cast<scalar_t>(acc[t] * scale);
      });
    });
  });
  return {out, arg};
}

// The transposed product through the CSC: out[j] = sum over the entries k of column j of
// w[perm[k]] * x[row_t[k]] (the backward of a weighted sum with respect to its input).
at::Tensor spmm_transpose_cpu(const at::Tensor& colptr, const at::Tensor& row_t, const at::Tensor& perm,
                              const std::optional<at::Tensor>& weight_opt, const at::Tensor& x_in) {
  TORCH_CHECK(x_in.dim() == 2, "spmm_transpose: x must be 2-D [M, F], got ", x_in.sizes());
  TORCH_CHECK(colptr.scalar_type() == row_t.scalar_type() && (perm.numel() == 0 || row_t.scalar_type() == perm.scalar_type()),
              "spmm_transpose: colptr, row_t and perm must share a dtype");
  const at::Tensor x = x_in.contiguous();
  const int64_t N = colptr.numel() - 1, F = x.size(1), E = row_t.numel();
  const at::Tensor weight = optional_weight(weight_opt, x);
  const int64_t H = check_weight(weight, E, F, "spmm_transpose");
  if (E == 0 || F == 0) return at::zeros({N, F}, x.options());
  at::Tensor out = at::empty({N, F}, x.options());  // every row is written
  const at::Tensor cp_t = colptr.contiguous(), rt_t = row_t.contiguous(), pm_t = perm.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "spmm_transpose_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(colptr.scalar_type(), "spmm_transpose_cpu", [&] {
      const index_t* cp = cp_t.data_ptr<index_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      weighted_row_sums<acc_t>(cp, rt_t.data_ptr<index_t>(), N, x.data_ptr<scalar_t>(), F,
                               weight.defined() ? weight.data_ptr<scalar_t>() : nullptr,
                               pm_t.numel() ? pm_t.data_ptr<index_t>() : nullptr, H,
                               [&](int64_t j, int64_t f0, int64_t n, const acc_t* acc) {
        scalar_t* orow = op + j * F + f0;
        for (int64_t t = 0; t < n; ++t) orow[t] = static_cast<scalar_t>(acc[t]);
      });
    });
  });
  return out;
}

// Fixed number of row chunks (and accumulators) of spmm_transpose_scatter: the result does not
// depend on the thread count, and a few chunks per thread keep the threads balanced.
constexpr int64_t kScatterChunks = 8;

// acc[col[k]] += w(k) * x[i] for the entries k of rows [r0, r1): w none, [E] or [E, H] (C = F / H).
// A free function, outside the dtype-dispatch macro, so that the feature loops vectorise.
template <typename acc_t, typename scalar_t, typename index_t>
void scatter_rows(const index_t* __restrict rp, const index_t* __restrict cl, int64_t r0, int64_t r1,
                  const scalar_t* __restrict x, int64_t F, const scalar_t* __restrict w, int64_t H,
                  acc_t* __restrict acc) {
  const int64_t C = F / H;
  for (int64_t i = r0; i < r1; ++i) {
    const scalar_t* xr = x + i * F;
    for (int64_t k = rp[i]; k < rp[i + 1]; ++k) {
      acc_t* ar = acc + static_cast<int64_t>(cl[k]) * F;
      if (w == nullptr) {
#pragma omp simd
        for (int64_t f = 0; f < F; ++f) ar[f] += static_cast<acc_t>(xr[f]);
      } else {
        for (int64_t h = 0; h < H; ++h) {
          const acc_t wk = static_cast<acc_t>(w[k * H + h]);
#pragma omp simd
          for (int64_t c = h * C; c < (h + 1) * C; ++c) ar[c] += wk * static_cast<acc_t>(xr[c]);
        }
      }
    }
  }
}

// out[e] = sum over chunks c, in order, of acc[c][e], for the elements [e0, e1) of one accumulator.
template <typename acc_t, typename scalar_t>
void add_chunks(const acc_t* __restrict acc, int64_t chunks, int64_t size, int64_t e0, int64_t e1,
                scalar_t* __restrict out) {
  for (int64_t e = e0; e < e1; ++e) {
    acc_t total = acc[e];
    for (int64_t c = 1; c < chunks; ++c) total += acc[c * size + e];
    out[e] = static_cast<scalar_t>(total);
  }
}

at::Tensor spmm_transpose_scatter_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                      const std::optional<at::Tensor>& weight_opt, const at::Tensor& x_in,
                                      int64_t num_cols) {
  TORCH_CHECK(x_in.dim() == 2, "spmm_transpose_scatter: x must be 2-D [M, F], got ", x_in.sizes());
  TORCH_CHECK(rowptr_in.scalar_type() == col_in.scalar_type(), "spmm_transpose_scatter: rowptr and col must share a dtype");
  TORCH_CHECK(x_in.size(0) == rowptr_in.numel() - 1, "spmm_transpose_scatter: x has ", x_in.size(0),
              " rows but the matrix has ", rowptr_in.numel() - 1);
  TORCH_CHECK(num_cols >= 0, "spmm_transpose_scatter: num_cols must be >= 0");
  const at::Tensor x = x_in.contiguous(), rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const int64_t M = x.size(0), F = x.size(1), E = col.numel();
  const at::Tensor weight = optional_weight(weight_opt, x);
  const int64_t H = check_weight(weight, E, F, "spmm_transpose_scatter");
  at::Tensor out = at::empty({num_cols, F}, x.options());
  if (E == 0 || F == 0 || num_cols == 0) return out.zero_();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "spmm_transpose_scatter_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "spmm_transpose_scatter_cpu", [&] {
      const index_t* rp = rowptr.data_ptr<index_t>();
      const index_t* cl = col.data_ptr<index_t>();
      const int64_t chunks = std::min<int64_t>(kScatterChunks, M);
      std::vector<int64_t> bounds(chunks + 1, M);
      bounds[0] = 0;
      for (int64_t c = 1; c < chunks; ++c)  // first row at or past the c-th share of the entries
        bounds[c] = std::lower_bound(rp, rp + M, static_cast<index_t>(E * c / chunks)) - rp;
      const int64_t size = num_cols * F;
      at::Tensor acc = at::zeros({chunks, num_cols, F}, x.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
      acc_t* ap = acc.data_ptr<acc_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      const scalar_t* wp = weight.defined() ? weight.data_ptr<scalar_t>() : nullptr;
      at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c)
          scatter_rows<acc_t>(rp, cl, bounds[c], bounds[c + 1], xp, F, wp, H, ap + c * size);
      });
      scalar_t* op = out.data_ptr<scalar_t>();
      at::parallel_for(0, size, 1 << 14, [&](int64_t e0, int64_t e1) { add_chunks(ap, chunks, size, e0, e1, op); });
    });
  });
  return out;
}

// grad_x[j, f] = sum over CSC entries k of column j (edge e = perm[k], row i = row_t[k]) with
// arg[i, f] == e of w[e] * grad_out[i, f].
at::Tensor spmm_arg_backward_cpu(const at::Tensor& colptr, const at::Tensor& row_t, const at::Tensor& perm,
                                 const std::optional<at::Tensor>& weight_opt,
                                 const at::Tensor& arg_in, const at::Tensor& grad_in, int64_t num_src) {
  TORCH_CHECK(colptr.scalar_type() == row_t.scalar_type() && row_t.scalar_type() == perm.scalar_type(),
              "spmm_arg_backward: colptr, row_t and perm must share a dtype");
  const at::Tensor grad = grad_in.contiguous(), arg = arg_in.contiguous();
  const int64_t F = grad.size(1);
  const at::Tensor weight = optional_weight(weight_opt, grad);
  const int64_t H = check_weight(weight, perm.numel(), F, "spmm_arg_backward");
  const int64_t C = F / H;
  at::Tensor grad_x = at::zeros({num_src, F}, grad.options());
  if (perm.numel() == 0 || F == 0) return grad_x;
  const at::Tensor cp_t = colptr.contiguous(), rt_t = row_t.contiguous(), pm_t = perm.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "spmm_arg_backward_cpu", [&] {
    GRAPHKIT_DISPATCH_INDEX(colptr.scalar_type(), "spmm_arg_backward_cpu", [&] {
      const index_t* cp = cp_t.data_ptr<index_t>();
      const index_t* rt = rt_t.data_ptr<index_t>();
      const index_t* pm = pm_t.data_ptr<index_t>();
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
  m.impl("spmm_transpose", &spmm_transpose_cpu);
  m.impl("spmm_transpose_scatter", &spmm_transpose_scatter_cpu);
  m.impl("spmm_arg_backward", &spmm_arg_backward_cpu);
}

}  // namespace graphkit
