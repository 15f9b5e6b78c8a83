// One hop of neighbour sampling: for each node, up to `fanout` entries of its CSR row drawn
// uniformly, without replacement (Robert Floyd's algorithm: fanout draws, however long the row)
// or with replacement; fanout < 0 takes the whole row. Each node draws from its own counter-based
// stream (seed, node id), so the sample depends on neither the thread count nor the order or
// company of the nodes. Two passes over the nodes (counts, then the draws into their offsets).
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <tuple>

#include "../index_check.h"
#include "../walk_step.h"
#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor> sample_neighbors_cpu(const at::Tensor& rowptr_in, const at::Tensor& nodes_in,
                                                        int64_t fanout, bool replace, int64_t seed) {
  TORCH_CHECK(rowptr_in.scalar_type() == at::kLong && nodes_in.scalar_type() == at::kLong,
              "sample_neighbors: rowptr and nodes must be int64");
  const at::Tensor rowptr = rowptr_in.contiguous(), nodes = nodes_in.contiguous();
  const int64_t D = nodes.numel(), R = rowptr.numel() - 1;
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const int64_t* nd = nodes.data_ptr<int64_t>();
  at::Tensor ptr = at::empty({D + 1}, nodes.options());
  int64_t* pt = ptr.data_ptr<int64_t>();
  pt[0] = 0;
  std::atomic<bool> bad{false};
  at::parallel_for(0, D, 1024, [&](int64_t d0, int64_t d1) {
    for (int64_t d = d0; d < d1; ++d) {
      if (outside(nd[d], R)) {
        bad.store(true, std::memory_order_relaxed);
        pt[d + 1] = 0;
        continue;
      }
      const int64_t deg = rp[nd[d] + 1] - rp[nd[d]];
      pt[d + 1] = fanout < 0 ? deg : (replace ? (deg > 0 ? fanout : 0) : std::min(deg, fanout));
    }
  });
  TORCH_CHECK(!bad.load(), "sample_neighbors: a node id lies outside [0, ", R, ")");
  for (int64_t d = 0; d < D; ++d) pt[d + 1] += pt[d];
  at::Tensor picks = at::empty({pt[D]}, nodes.options());
  int64_t* out = picks.data_ptr<int64_t>();
  at::parallel_for(0, D, 256, [&](int64_t d0, int64_t d1) {
    for (int64_t d = d0; d < d1; ++d) {
      const int64_t b = rp[nd[d]], deg = rp[nd[d] + 1] - b, n = pt[d + 1] - pt[d];
      int64_t* o = out + pt[d];
      if (fanout < 0 || (!replace && n == deg)) {  // the whole row
        for (int64_t i = 0; i < n; ++i) o[i] = b + i;
        continue;
      }
      Stream rng{static_cast<uint64_t>(seed) * 0xD1B54A32D192ED03ULL ^ static_cast<uint64_t>(nd[d]) * 0x9E3779B97F4A7C15ULL};
      for (int64_t i = 0; i < n; ++i) {
        if (replace) {
          o[i] = b + rng.below(deg);
          continue;
        }
        const int64_t j = deg - n + i, t = b + rng.below(j + 1);  // Floyd: t, or j when t is taken
        o[i] = std::find(o, o + i, t) == o + i ? t : b + j;
      }
      std::sort(o, o + n);
    }
  });
  return {ptr, picks};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("sample_neighbors", &sample_neighbors_cpu); }

}  // namespace graphkit
