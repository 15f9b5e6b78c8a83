// One random walk, shared by the CPU and CUDA kernels so that a seed gives the same walks on
// either device: a counter-based SplitMix64 stream per (seed, walk) and node2vec's second-order
// bias by rejection (as KnightKing): draw a neighbour x of v uniformly and accept it with
// probability (1/p if x == t, 1 if x is a neighbour of t, 1/q otherwise) / max(1/p, 1, 1/q),
// where t is the previous node. Membership is a binary search in t's sorted row (memory O(E)).
#pragma once
#include <cstdint>

#include "host_device.h"

namespace graphkit {

// SplitMix64: a small counter-based generator (one independent stream per walk or per task).
struct Stream {
  uint64_t state;
  GRAPHKIT_HOST_DEVICE uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  GRAPHKIT_HOST_DEVICE double uniform() { return (next() >> 11) * (1.0 / 9007199254740992.0); }  // [0, 1)
  GRAPHKIT_HOST_DEVICE int64_t below(int64_t n) { return static_cast<int64_t>(uniform() * n); }
};

template <typename index_t>
GRAPHKIT_HOST_DEVICE bool has_edge(const index_t* rp, const index_t* cl, int64_t t, int64_t x) {
  int64_t lo = rp[t], hi = rp[t + 1];
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (cl[mid] < x) lo = mid + 1; else hi = mid;
  }
  return lo < rp[t + 1] && cl[lo] == x;
}

// Walk w of L nodes from `first` into walk[0:L]; a node without out-neighbours repeats itself.
template <typename index_t>
GRAPHKIT_HOST_DEVICE void walk_one(const index_t* rp, const index_t* cl, int64_t first, int64_t* walk, int64_t L,
                                   bool biased, double inv_p, double inv_q, double bound, uint64_t seed,
                                   int64_t w) {
  Stream rng{seed * 0xD1B54A32D192ED03ULL ^ static_cast<uint64_t>(w) * 0x9E3779B97F4A7C15ULL};
  walk[0] = first;
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

}  // namespace graphkit
