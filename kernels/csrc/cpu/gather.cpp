// gather: rows of x by index, and its backward as grouped sums over a CSR of the index (the
// positions of each node id), so no atomics.
#include <torch/library.h>

#include <atomic>
#include <cstring>

#include "../index_check.h"
#include "common.h"

namespace graphkit {
namespace {

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
      std::atomic<bool> bad{false};
      at::parallel_for(0, K, 1024, [&](int64_t k0, int64_t k1) {
        for (int64_t k = k0; k < k1; ++k) {
          const int64_t n = ip[k];
          if (outside(n, N)) {
            bad.store(true, std::memory_order_relaxed);
            continue;
          }
          if (k + kPrefetchDistance < k1) prefetch_bytes(xp + static_cast<int64_t>(ip[k + kPrefetchDistance]) * F, F * sizeof(scalar_t));
          std::memcpy(op + k * F, xp + n * F, F * sizeof(scalar_t));
        }
      });
      if (bad) check_ids("gather", "index", ip, K, N);
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
  m.impl("gather", &gather_cpu);
  m.impl("gather_backward", &gather_backward_cpu);
}

}  // namespace graphkit
