// One hop of neighbour sampling: for each node, up to `fanout` entries of its CSR row, or the
// whole row when fanout < 0. Each node draws from its own counter-based stream (seed, node id), so
// the sample depends on neither the thread count nor the order or company of the nodes. Two passes
// over the nodes (counts, then the draws into their offsets).
//
// Uniform: without replacement by Robert Floyd's algorithm (fanout draws, however long the row),
// or with replacement. Weighted (weight given, one non-negative value per entry): each entry is
// drawn with probability proportional to its weight, with replacement or by successive draws
// without it (the entries drawn leave the row, as torch.multinomial and DGL do); entries of weight
// 0 are never drawn. The weights are first quantised per row to integers (w / max_row * 2^24,
// rounded, at least 1 when w > 0), so that the draws are exact integer arithmetic, the same in the
// pure-torch reference: draw r uniformly in [0, remaining total) and take the first entry whose
// inclusive prefix sum exceeds r (a Fenwick tree over the row: O(deg + fanout log deg)).
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <tuple>
#include <vector>

#include "../index_check.h"
#include "../walk_step.h"
#include "common.h"

namespace graphkit {
namespace {

constexpr double kWeightScale = 16777216.0;  // 2^24

// Row quantised weights q[0:n] into a Fenwick tree t[1:n]; prefix sums and the first index whose
// inclusive prefix exceeds r.
struct Fenwick {
  std::vector<int64_t> t;
  int64_t n = 0, top = 1;
  void build(const int64_t* q, int64_t size) {
    n = size;
    t.assign(n + 1, 0);
    for (int64_t i = 1; i <= n; ++i) {
      t[i] += q[i - 1];
      const int64_t p = i + (i & -i);
      if (p <= n) t[p] += t[i];
    }
    top = 1;
    while (top * 2 <= n) top *= 2;
  }
  void add(int64_t i, int64_t delta) {
    for (++i; i <= n; i += i & -i) t[i] += delta;
  }
  int64_t first_above(int64_t r) const {  // smallest i with q[0] + ... + q[i] > r (r < total)
    int64_t pos = 0;
    for (int64_t step = top; step > 0; step /= 2) {
      if (pos + step <= n && t[pos + step] <= r) {
        pos += step;
        r -= t[pos];
      }
    }
    return pos;
  }
};

// A row's quantised weights into q; returns how many are positive.
int64_t quantise(const float* w, int64_t n, int64_t* q) {
  double top = 0.0;
  for (int64_t i = 0; i < n; ++i) top = std::max(top, static_cast<double>(w[i]));
  int64_t positive = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double v = static_cast<double>(w[i]);
    q[i] = v > 0.0 ? std::max<int64_t>(1, static_cast<int64_t>(std::floor(v / top * kWeightScale + 0.5))) : 0;
    positive += q[i] > 0;
  }
  return positive;
}

std::tuple<at::Tensor, at::Tensor> sample_neighbors_cpu(const at::Tensor& rowptr_in, const at::Tensor& nodes_in,
                                                        const std::optional<at::Tensor>& weight_in, int64_t fanout,
                                                        bool replace, int64_t seed) {
  TORCH_CHECK(rowptr_in.scalar_type() == at::kLong && nodes_in.scalar_type() == at::kLong,
              "sample_neighbors: rowptr and nodes must be int64");
  const at::Tensor rowptr = rowptr_in.contiguous(), nodes = nodes_in.contiguous();
  const bool weighted = weight_in.has_value();
  at::Tensor weight;
  if (weighted) {
    TORCH_CHECK(weight_in->scalar_type() == at::kFloat && weight_in->dim() == 1,
                "sample_neighbors: weight must be a 1-D float32 tensor");
    weight = weight_in->contiguous();
  }
  const int64_t D = nodes.numel(), R = rowptr.numel() - 1;
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  const int64_t* nd = nodes.data_ptr<int64_t>();
  const float* wt = weighted ? weight.data_ptr<float>() : nullptr;
  TORCH_CHECK(!weighted || weight.numel() >= rp[R], "sample_neighbors: weight holds ", weighted ? weight.numel() : 0,
              " values for ", rp[R], " entries");
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
      const int64_t b = rp[nd[d]];
      int64_t avail = rp[nd[d] + 1] - b;  // entries that can be drawn
      if (weighted) {
        int64_t positive = 0;
        for (int64_t i = 0; i < avail; ++i) positive += wt[b + i] > 0.0f;
        avail = positive;
      }
      pt[d + 1] = fanout < 0 ? avail : (replace ? (avail > 0 ? fanout : 0) : std::min(avail, fanout));
    }
  });
  TORCH_CHECK(!bad.load(), "sample_neighbors: a node id lies outside [0, ", R, ")");
  for (int64_t d = 0; d < D; ++d) pt[d + 1] += pt[d];
  at::Tensor picks = at::empty({pt[D]}, nodes.options());
  int64_t* out = picks.data_ptr<int64_t>();
  at::parallel_for(0, D, 256, [&](int64_t d0, int64_t d1) {
    std::vector<int64_t> q;
    Fenwick tree;
    for (int64_t d = d0; d < d1; ++d) {
      const int64_t b = rp[nd[d]], deg = rp[nd[d] + 1] - b, n = pt[d + 1] - pt[d];
      int64_t* o = out + pt[d];
      Stream rng{static_cast<uint64_t>(seed) * 0xD1B54A32D192ED03ULL ^ static_cast<uint64_t>(nd[d]) * 0x9E3779B97F4A7C15ULL};
      if (weighted) {
        if (n == 0) continue;
        q.resize(deg);
        const int64_t positive = quantise(wt + b, deg, q.data());
        if (fanout < 0 || (!replace && n == positive)) {  // every entry of positive weight
          for (int64_t i = 0, k = 0; i < deg; ++i)
            if (q[i] > 0) o[k++] = b + i;
          continue;
        }
        tree.build(q.data(), deg);
        int64_t total = 0;
        for (int64_t i = 0; i < deg; ++i) total += q[i];
        for (int64_t i = 0; i < n; ++i) {
          const int64_t r = std::min(static_cast<int64_t>(std::floor(rng.uniform() * static_cast<double>(total))),
                                     total - 1);
          const int64_t k = tree.first_above(r);
          o[i] = b + k;
          if (!replace) {
            tree.add(k, -q[k]);
            total -= q[k];
            q[k] = 0;
          }
        }
        std::sort(o, o + n);
        continue;
      }
      if (fanout < 0 || (!replace && n == deg)) {  // the whole row
        for (int64_t i = 0; i < n; ++i) o[i] = b + i;
        continue;
      }
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
