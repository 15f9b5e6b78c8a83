// R-MAT edges (Chakrabarti, Zhan & Faloutsos, SDM 2004): each edge descends `scale` levels of the
// recursive quadrant choice (a, b, c, 1 - a - b - c: top-left, top-right, bottom-left,
// bottom-right), one bit of its source and target ids per level; an edge whose ids fall outside
// [0, num_nodes) descends again. Edge e draws from its own counter-based stream (seed, e), so the
// edges depend on neither the thread count nor the order of the work; one 64-bit draw serves two
// levels (its high and low 32 bits, uniforms of 2^-32 resolution).
#include <torch/library.h>

#include "../walk_step.h"
#include "common.h"

namespace graphkit {
namespace {

at::Tensor rmat_edges_cpu(int64_t num_nodes, int64_t num_edges, double a, double b, double c, int64_t seed) {
  TORCH_CHECK(num_nodes >= 1 && num_edges >= 0, "rmat_edges: need num_nodes >= 1 and num_edges >= 0");
  int64_t scale = 0;
  while ((int64_t{1} << scale) < num_nodes) ++scale;
  const double ab = a + b, abc = a + b + c;
  at::Tensor out = at::empty({2, num_edges}, at::kLong);
  int64_t* src = out.data_ptr<int64_t>();
  int64_t* dst = src + num_edges;
  at::parallel_for(0, num_edges, 4096, [&](int64_t e0, int64_t e1) {
    for (int64_t e = e0; e < e1; ++e) {
      Stream rng{static_cast<uint64_t>(seed) * 0xD1B54A32D192ED03ULL ^ static_cast<uint64_t>(e) * 0x9E3779B97F4A7C15ULL};
      int64_t s, d;
      do {
        s = 0;
        d = 0;
        uint64_t bits = 0;
        for (int64_t level = 0; level < scale; ++level) {
          if (level % 2 == 0) bits = rng.next();
          const double u = static_cast<double>(level % 2 == 0 ? bits >> 32 : bits & 0xFFFFFFFFULL) * 0x1p-32;
          const int64_t q = static_cast<int64_t>(u >= a) + (u >= ab) + (u >= abc);  // no branch to mispredict
          s = 2 * s + (q >> 1);
          d = 2 * d + (q & 1);
        }
      } while (s >= num_nodes || d >= num_nodes);
      src[e] = s;
      dst[e] = d;
    }
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CompositeExplicitAutograd, m) { m.impl("rmat_edges", &rmat_edges_cpu); }

}  // namespace graphkit
