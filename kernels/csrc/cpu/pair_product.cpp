// Pair products out[p] = x[first[p]] * x[second[p]] (the Hadamard input of link predictors) in one
// pass, and their backward as grouped sums over a CSR of the pair ends (no atomics, so the
// result is deterministic): grad_x[n] = sum over the ends k of pair p(k) at node n of
// grad[p(k)] * x[other end of p(k)].
#include <torch/library.h>

#include <atomic>

#include "../index_check.h"
#include "../pair_args.h"
#include "common.h"

namespace graphkit {
namespace {

at::Tensor pair_product_cpu(const at::Tensor& x_in, const at::Tensor& first_in, const at::Tensor& second_in) {
  check_pair_product_args(x_in, first_in, second_in);
  const at::Tensor x = x_in.contiguous();
  const at::Tensor first = first_in.to(at::kLong).contiguous(), second = second_in.to(at::kLong).contiguous();
  const int64_t P = first.numel(), N = x.size(0), F = x.size(1);
  at::Tensor out = at::empty({P, F}, x.options());
  if (P == 0 || F == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pair_product_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const int64_t* a = first.data_ptr<int64_t>();
    const int64_t* b = second.data_ptr<int64_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    std::atomic<bool> bad{false};
    at::parallel_for(0, P, 256, [&](int64_t p0, int64_t p1) {
      for (int64_t p = p0; p < p1; ++p) {
        if (outside(a[p], N) || outside(b[p], N)) {
          bad.store(true, std::memory_order_relaxed);
          continue;
        }
        if (p + kPrefetchDistance < p1) {
          prefetch_bytes(xp + a[p + kPrefetchDistance] * F, F * sizeof(scalar_t));
          prefetch_bytes(xp + b[p + kPrefetchDistance] * F, F * sizeof(scalar_t));
        }
        const scalar_t* xa = xp + a[p] * F;
        const scalar_t* xb = xp + b[p] * F;
        scalar_t* o = op + p * F;
        for (int64_t f = 0; f < F; ++f)
          o[f] = static_cast<scalar_t>(static_cast<acc_t>(xa[f]) * static_cast<acc_t>(xb[f]));
      }
    });
    if (bad) {
      check_ids("pair_product", "first", a, P, N);
      check_ids("pair_product", "second", b, P, N);
    }
  });
  return out;
}

// ptr [N + 1] / ends [2P]: the pair ends grouped by node (end k < P is first[k], end k >= P is
// second[k - P]); other[k] is the node at the pair's other end.
at::Tensor pair_product_backward_cpu(const at::Tensor& ptr_in, const at::Tensor& ends_in, const at::Tensor& other_in,
                                     const at::Tensor& x_in, const at::Tensor& grad_in) {
  check_pair_product_backward_args(ptr_in, ends_in, other_in, x_in, grad_in);
  const at::Tensor ptr = ptr_in.to(at::kLong).contiguous(), ends = ends_in.to(at::kLong).contiguous();
  const at::Tensor other = other_in.to(at::kLong).contiguous(), x = x_in.contiguous(), grad = grad_in.contiguous();
  const int64_t N = x.size(0), F = x.size(1), P = grad.size(0);
  at::Tensor out = at::empty_like(x);
  if (N == 0 || F == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pair_product_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    constexpr int64_t kB = block_size<acc_t>();
    const int64_t* pp = ptr.data_ptr<int64_t>();
    const int64_t* ep = ends.data_ptr<int64_t>();
    const int64_t* ot = other.data_ptr<int64_t>();
    const scalar_t* xp = x.data_ptr<scalar_t>();
    const scalar_t* gp = grad.data_ptr<scalar_t>();
    scalar_t* op = out.data_ptr<scalar_t>();
    parallel_rows_by_nnz(pp, N, [&](int64_t n0, int64_t n1) {
      alignas(64) acc_t acc[kB];
      for (int64_t n = n0; n < n1; ++n) {
        for (int64_t f0 = 0; f0 < F; f0 += kB) {
          const int64_t len = std::min(kB, F - f0);
          for (int64_t t = 0; t < len; ++t) acc[t] = acc_t(0);
          for (int64_t k = pp[n]; k < pp[n + 1]; ++k) {
            const int64_t e = ep[k];
            const scalar_t* g = gp + (e < P ? e : e - P) * F + f0;
            const scalar_t* o = xp + ot[e] * F + f0;
            for (int64_t t = 0; t < len; ++t) acc[t] += static_cast<acc_t>(g[t]) * static_cast<acc_t>(o[t]);
          }
          scalar_t* orow = op + n * F + f0;
          for (int64_t t = 0; t < len; ++t) orow[t] = static_cast<scalar_t>(acc[t]);
        }
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("pair_product", &pair_product_cpu);
  m.impl("pair_product_backward", &pair_product_backward_cpu);
}

}  // namespace graphkit
