// Uniform and node2vec (p, q) random walks, parallel over walks. node2vec's second-order bias
// (Grover & Leskovec, KDD 2016, sec. 3.2.2) is sampled by rejection (as KnightKing does): draw a
// neighbour x of v uniformly and accept it with probability  (1/p if x == t, 1 if x is a
// neighbour of t, 1/q otherwise) / max(1/p, 1, 1/q), where t is the previous node. Membership
// is a binary search in t's sorted row, so memory stays O(E).
#include <torch/library.h>

#include <algorithm>
#include <cstdint>

#include "common.h"

namespace graphkit {
namespace {

template <typename index_t>
bool has_edge(const index_t* rp, const index_t* cl, int64_t t, int64_t x) {
  return std::binary_search(cl + rp[t], cl + rp[t + 1], static_cast<index_t>(x));
}

at::Tensor random_walk_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in, const at::Tensor& start_in,
                           int64_t walk_length, double p, double q, int64_t seed) {
  TORCH_CHECK(walk_length >= 0, "random_walk: walk_length must be >= 0");
  TORCH_CHECK(p > 0 && q > 0, "random_walk: p and q must be positive");
  TORCH_CHECK(rowptr_in.scalar_type() == col_in.scalar_type(), "random_walk: rowptr and col must share a dtype");
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor start = start_in.to(at::kLong).contiguous();
  const int64_t S = start.numel(), L = walk_length + 1;
  at::Tensor walks = at::empty({S, L}, start.options());
  const bool biased = p != 1.0 || q != 1.0;
  const double inv_p = 1.0 / p, inv_q = 1.0 / q, bound = std::max({inv_p, 1.0, inv_q});
  GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "random_walk_cpu", [&] {
    const index_t* rp = rowptr.data_ptr<index_t>();
    const index_t* cl = col.data_ptr<index_t>();
    const int64_t* st = start.data_ptr<int64_t>();
    int64_t* out = walks.data_ptr<int64_t>();
    at::parallel_for(0, S, 256, [&](int64_t w0, int64_t w1) {
      for (int64_t w = w0; w < w1; ++w) {
        Stream rng{static_cast<uint64_t>(seed) * 0xD1B54A32D192ED03ULL ^ static_cast<uint64_t>(w) * 0x9E3779B97F4A7C15ULL};
        int64_t* walk = out + w * L;
        walk[0] = st[w];
        for (int64_t s = 1; s < L; ++s) {
          const int64_t v = walk[s - 1], b = rp[v], deg = rp[v + 1] - b;
          if (deg == 0) { walk[s] = v; continue; }
          int64_t x = cl[b + rng.below(deg)];
          if (biased && s >= 2) {
            const int64_t t = walk[s - 2];
            while (true) {
              const double weight = x == t ? inv_p : (has_edge(rp, cl, t, x) ? 1.0 : inv_q);
              if (rng.uniform() * bound < weight) break;
              x = cl[b + rng.below(deg)];
            }
          }
          walk[s] = x;
        }
      }
    });
  });
  return walks;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("random_walk", &random_walk_cpu); }

}  // namespace graphkit
