// The CSR of an edge list: edges src[e] -> dst[e] grouped by target, in a stable parallel counting
// sort (each thread counts its contiguous share of the edges, the shares are laid out in order
// within every target's row, then each thread writes its share), O(E + N * threads); the rows are
// left in input order (graphkit::sort_rows then orders each row by source). Returns (rowptr
// [N + 1], col [E] = the sources, perm [E] = the input position of each entry), int64.
#include <torch/library.h>

#include <atomic>
#include <tuple>
#include <vector>

#include "../index_check.h"
#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> edge_csr_cpu(const at::Tensor& src_in, const at::Tensor& dst_in,
                                                            int64_t num_nodes) {
  TORCH_CHECK(src_in.scalar_type() == at::kLong && dst_in.scalar_type() == at::kLong && src_in.dim() == 1 &&
                  dst_in.sizes() == src_in.sizes(),
              "edge_csr: src and dst must be 1-D int64 tensors of one length");
  const at::Tensor src = src_in.contiguous(), dst = dst_in.contiguous();
  const int64_t E = src.numel(), N = num_nodes;
  const int64_t* s = src.data_ptr<int64_t>();
  const int64_t* d = dst.data_ptr<int64_t>();
  const int64_t shares = std::max<int64_t>(1, std::min<int64_t>({at::get_num_threads(), 8, E / 65536 + 1}));
  std::vector<std::vector<int64_t>> count(shares);
  std::atomic<bool> bad{false};
  auto bounds = [&](int64_t k) { return E * k / shares; };
  at::parallel_for(0, shares, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      count[k].assign(N, 0);
      int64_t* c = count[k].data();
      for (int64_t e = bounds(k); e < bounds(k + 1); ++e) {
        if (outside(d[e], N) || outside(s[e], N)) {
          bad.store(true, std::memory_order_relaxed);
          continue;
        }
        ++c[d[e]];
      }
    }
  });
  TORCH_CHECK(!bad.load(), "edge_csr: an edge id lies outside [0, ", N, ")");
  at::Tensor rowptr = at::empty({N + 1}, src.options());
  int64_t* rp = rowptr.data_ptr<int64_t>();
  at::parallel_for(0, N, 65536, [&](int64_t v0, int64_t v1) {
    for (int64_t v = v0; v < v1; ++v) {
      int64_t total = 0;
      for (int64_t k = 0; k < shares; ++k) total += count[k][v];
      rp[v + 1] = total;
    }
  });
  rp[0] = 0;
  for (int64_t v = 0; v < N; ++v) rp[v + 1] += rp[v];
  at::parallel_for(0, N, 65536, [&](int64_t v0, int64_t v1) {  // each share's first slot in each row
    for (int64_t v = v0; v < v1; ++v) {
      int64_t at_ = rp[v];
      for (int64_t k = 0; k < shares; ++k) {
        const int64_t c = count[k][v];
        count[k][v] = at_;
        at_ += c;
      }
    }
  });
  at::Tensor col = at::empty({E}, src.options()), perm = at::empty({E}, src.options());
  int64_t* cl = col.data_ptr<int64_t>();
  int64_t* pm = perm.data_ptr<int64_t>();
  at::parallel_for(0, shares, 1, [&](int64_t k0, int64_t k1) {
    for (int64_t k = k0; k < k1; ++k) {
      int64_t* next = count[k].data();
      for (int64_t e = bounds(k); e < bounds(k + 1); ++e) {
        const int64_t pos = next[d[e]]++;
        cl[pos] = s[e];
        pm[pos] = e;
      }
    }
  });
  return {rowptr, col, perm};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("edge_csr", &edge_csr_cpu); }

}  // namespace graphkit
