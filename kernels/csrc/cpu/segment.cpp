// General messages: reduce [E, F] per-edge messages over each CSR row (sum/mean/max/min), gather
// rows by index, and gather's backward as grouped sums (a CSR of the index), so no atomics.
#include <torch/library.h>

#include <cstring>
#include <limits>

#include "common.h"

namespace graphkit {
namespace {

constexpr int64_t kMean = 1, kMax = 2;

std::tuple<at::Tensor, at::Tensor> segment_reduce_cpu(const at::Tensor& rowptr, const at::Tensor& src_in,
                                                      int64_t reduce) {
  TORCH_CHECK(src_in.dim() == 2, "segment_reduce: src must be 2-D [E, F], got ", src_in.sizes());
  TORCH_CHECK(reduce >= 0 && reduce <= 3, "segment_reduce: reduce must be 0..3");
  const at::Tensor src = src_in.contiguous();
  const int64_t M = rowptr.numel() - 1, E = src.size(0), F = src.size(1);
  const bool has_arg = reduce >= kMax;
  at::Tensor out = at::zeros({M, F}, src.options());
  at::Tensor arg = has_arg ? at::full({M, F}, E, src.options().dtype(at::kLong))
                           : at::empty({0}, src.options().dtype(at::kLong));
  if (E == 0 || F == 0) return {out, arg};
  const at::Tensor rp_t = rowptr.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, src.scalar_type(), "segment_reduce_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(rowptr.scalar_type(), "segment_reduce_cpu", [&] {
      const index_t* rp = rp_t.data_ptr<index_t>();
      const scalar_t* sp = src.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      int64_t* ap = has_arg ? arg.data_ptr<int64_t>() : nullptr;
      const bool is_max = reduce == kMax;
      parallel_rows_by_nnz(rp, M, [&](int64_t r0, int64_t r1) {
        std::vector<acc_t> acc(F);
        for (int64_t i = r0; i < r1; ++i) {
          const int64_t b = rp[i], e = rp[i + 1];
          if (b == e) continue;
          scalar_t* orow = op + i * F;
          if (!has_arg) {
            std::fill(acc.begin(), acc.end(), acc_t(0));
            for (int64_t k = b; k < e; ++k) {
              const scalar_t* s = sp + k * F;
_Pragma("omp simd")
              for (int64_t f = 0; f < F; ++f) acc[f] += static_cast<acc_t>(s[f]);
            }
            const acc_t scale = reduce == kMean ? acc_t(1) / acc_t(e - b) : acc_t(1);
            for (int64_t f = 0; f < F; ++f) orow[f] = static_cast<scalar_t>(acc[f] * scale);
          } else {
            int64_t* arow = ap + i * F;
            for (int64_t f = 0; f < F; ++f) {
              acc[f] = static_cast<acc_t>(sp[b * F + f]);
              arow[f] = b;
            }
            for (int64_t k = b + 1; k < e; ++k) {
              const scalar_t* s = sp + k * F;
_Pragma("omp simd")
              for (int64_t f = 0; f < F; ++f) {
                const acc_t v = static_cast<acc_t>(s[f]);
                const bool better = is_max ? v > acc[f] : v < acc[f];  // ties: the first entry wins
                acc[f] = better ? v : acc[f];
                arow[f] = better ? k : arow[f];
              }
            }
            for (int64_t f = 0; f < F; ++f) orow[f] = static_cast<scalar_t>(acc[f]);
          }
        }
      });
    });
  });
  return {out, arg};
}

at::Tensor gather_cpu(const at::Tensor& x_in, const at::Tensor& index_in) {
  TORCH_CHECK(x_in.dim() == 2, "gather: x must be 2-D [N, F], got ", x_in.sizes());
  const at::Tensor x = x_in.contiguous(), index = index_in.contiguous();
  const int64_t K = index.numel(), N = x.size(0), F = x.size(1);
  at::Tensor out = at::empty({K, F}, x.options());
  if (K == 0 || F == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "gather_cpu", [&] {
    GRAPHKIT_DISPATCH_INDEX(index.scalar_type(), "gather_cpu", [&] {
      const index_t* ip = index.data_ptr<index_t>();
      const scalar_t* xp = x.data_ptr<scalar_t>();
      scalar_t* op = out.data_ptr<scalar_t>();
      at::parallel_for(0, K, 1024, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t n = ip[k];
          TORCH_CHECK(n >= 0 && n < N, "gather: index ", n, " out of range for ", N, " rows");
          if (k + kPrefetchDistance < k1) prefetch_bytes(xp + static_cast<int64_t>(ip[k + kPrefetchDistance]) * F, F * sizeof(scalar_t));
          std::memcpy(op + k * F, xp + n * F, F * sizeof(scalar_t));
        }
      });
    });
  });
  return out;
}

at::Tensor gather_backward_cpu(const at::Tensor& ptr, const at::Tensor& perm, const at::Tensor& grad_in) {
  TORCH_CHECK(grad_in.dim() == 2, "gather_backward: grad must be 2-D [K, F]");
  TORCH_CHECK(ptr.scalar_type() == perm.scalar_type(), "gather_backward: ptr and perm must share a dtype");
  const at::Tensor grad = grad_in.contiguous();
  const int64_t N = ptr.numel() - 1, F = grad.size(1);
  at::Tensor out = at::zeros({N, F}, grad.options());
  if (perm.numel() == 0 || F == 0) return out;
  const at::Tensor p_t = ptr.contiguous(), pm_t = perm.contiguous();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(), "gather_backward_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    GRAPHKIT_DISPATCH_INDEX(ptr.scalar_type(), "gather_backward_cpu", [&] {
      scalar_t* op = out.data_ptr<scalar_t>();
      weighted_row_sums<acc_t>(p_t.data_ptr<index_t>(), pm_t.data_ptr<index_t>(), N, grad.data_ptr<scalar_t>(), F,
                               static_cast<const scalar_t*>(nullptr), static_cast<const index_t*>(nullptr), 1,
                               [&](int64_t n, int64_t f0, int64_t len, const acc_t* acc) {
        scalar_t* orow = op + n * F + f0;
        for (int64_t t = 0; t < len; ++t) orow[t] = static_cast<scalar_t>(acc[t]);
      });
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) {
  m.impl("segment_reduce", &segment_reduce_cpu);
  m.impl("gather", &gather_cpu);
  m.impl("gather_backward", &gather_backward_cpu);
}

}  // namespace graphkit
