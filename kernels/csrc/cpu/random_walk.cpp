// Uniform and node2vec (p, q) random walks, parallel over walks; the walk itself is
// walk_step.h's, shared with the CUDA kernel.
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "../index_check.h"
#include "../walk_step.h"
#include "common.h"

namespace graphkit {
namespace {

at::Tensor random_walk_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& start_in,
                           int64_t walk_length, double p, double q, int64_t seed) {
  TORCH_CHECK(walk_length >= 0, "random_walk: walk_length must be >= 0");
  TORCH_CHECK(p > 0 && q > 0, "random_walk: p and q must be positive");
  TORCH_CHECK(rowptr_in.scalar_type() == col_in.scalar_type(), "random_walk: rowptr and col must share a dtype");
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor start = start_in.to(at::kLong).contiguous();
  const int64_t S = start.numel(), L = walk_length + 1, R = rowptr.numel() - 1;
  at::Tensor walks = at::empty({S, L}, start.options());
  const bool biased = p != 1.0 || q != 1.0;
  const double inv_p = 1.0 / p, inv_q = 1.0 / q, bound = std::max({inv_p, 1.0, inv_q});
  GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "random_walk_cpu", [&] {
    const index_t* rp = rowptr.data_ptr<index_t>();
    const index_t* cl = col.data_ptr<index_t>();
    const int64_t* st = start.data_ptr<int64_t>();
    int64_t* out = walks.data_ptr<int64_t>();
    std::atomic<bool> bad{false};
    at::parallel_for(0, S, 256, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; ++w) {
        if (outside(st[w], R)) {
          bad.store(true, std::memory_order_relaxed);
          continue;
        }
        walk_one(rp, cl, st[w], out + w * L, L, biased, inv_p, inv_q, bound, static_cast<uint64_t>(seed), w);
      }
    });
    if (bad) check_ids("random_walk", "start", st, S, R);
  });
  return walks;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("random_walk", &random_walk_cpu); }

}  // namespace graphkit
