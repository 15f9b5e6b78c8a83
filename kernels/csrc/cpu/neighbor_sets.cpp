// Per-pair neighbour sets, parallel over chunks of pairs: each pair's set through a marker array
// over the column ids (row_sets.h's merge walk for graphs with too many columns for one), one
// pass into per-chunk buffers, an exclusive scan into the pair pointers, a copy. Common
// neighbours for link prediction (NCN, Adamic-Adar, resource allocation) and the one-sided sets
// NCNC completes.
#include <torch/library.h>

#include <atomic>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "../index_check.h"
#include "../row_sets.h"
#include "common.h"

namespace graphkit {
namespace {

// The set of one pair through a per-thread marker array over the column ids (mark[v]: 1 = in the
// other row, 2 = already emitted), in O(nx + ny) steps without the merge walk's unpredictable
// branches: every scanned id is written to out and the count advances only for the set's ids (out
// needs room for the scanned row). Ids come out ascending because the scanned row is sorted;
// returns their number and leaves mark all zero.
template <typename index_t>
inline int64_t marked_set(const index_t* x, int64_t nx, const index_t* y, int64_t ny, int64_t mode, uint8_t* mark,
                          index_t* out) {
  if (mode == kSecondOnly) {
    std::swap(x, y);
    std::swap(nx, ny);
  }
  int64_t k = 0;
  if (mode == kCommon) {  // mark x, emit the marked ids of y
    for (int64_t i = 0; i < nx; ++i) mark[x[i]] = 1;
    for (int64_t j = 0; j < ny; ++j) {
      const index_t v = y[j];
      const uint8_t m = mark[v];
      out[k] = v;
      k += m == 1;
      mark[v] = m == 1 ? 2 : m;
    }
  } else {  // mark y, emit the unmarked ids of x
    for (int64_t j = 0; j < ny; ++j) mark[y[j]] = 1;
    for (int64_t i = 0; i < nx; ++i) {
      const index_t v = x[i];
      const uint8_t m = mark[v];
      out[k] = v;
      k += m == 0;
      mark[v] = m == 0 ? 2 : m;
    }
    for (int64_t j = 0; j < ny; ++j) mark[y[j]] = 0;
  }
  for (int64_t i = 0; i < nx; ++i) mark[x[i]] = 0;
  return k;
}

// Pairs per chunk: each chunk writes its ids to its own buffer in one pass, then the buffers are
// copied behind the scanned counts (the result does not depend on the thread count).
constexpr int64_t kPairsPerChunk = 256;
// Marker arrays (one byte per column id and thread) up to this many columns; the merge walk beyond.
constexpr int64_t kMaxMarkedColumns = int64_t(1) << 26;

std::tuple<at::Tensor, at::Tensor> neighbor_sets_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                     const at::Tensor& first_in, const at::Tensor& second_in,
                                                     c10::string_view which) {
  const RowSet mode = check_neighbor_sets_args(rowptr_in, col_in, first_in, second_in, which);
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const at::Tensor first = first_in.to(at::kLong).contiguous(), second = second_in.to(at::kLong).contiguous();
  const int64_t P = first.numel(), R = rowptr.numel() - 1;
  at::Tensor ptr = at::zeros({P + 1}, first.options());
  at::Tensor nodes;
  GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "neighbor_sets_cpu", [&] {
    const index_t* rp = rowptr.data_ptr<index_t>();
    const index_t* cl = col.data_ptr<index_t>();
    const int64_t* a = first.data_ptr<int64_t>();
    const int64_t* b = second.data_ptr<int64_t>();
    int64_t* pt = ptr.data_ptr<int64_t>();
    const int64_t num_cols = col.numel() ? static_cast<int64_t>(col.max().item<int64_t>()) + 1 : 0;
    const bool marked = num_cols <= kMaxMarkedColumns;
    const int64_t chunks = (P + kPairsPerChunk - 1) / kPairsPerChunk;
    std::vector<std::vector<index_t>> found(chunks);
    std::atomic<bool> bad{false};
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      std::vector<uint8_t> mark(marked ? num_cols : 0, 0);
      for (int64_t c = c0; c < c1; ++c) {
        std::vector<index_t>& out = found[c];
        for (int64_t p = c * kPairsPerChunk; p < std::min(P, (c + 1) * kPairsPerChunk); ++p) {
          if (outside(a[p], R) || outside(b[p], R)) {
            bad.store(true, std::memory_order_relaxed);
            continue;
          }
          const index_t *x = cl + rp[a[p]], *y = cl + rp[b[p]];
          const int64_t nx = rp[a[p] + 1] - rp[a[p]], ny = rp[b[p] + 1] - rp[b[p]];
          const size_t before = out.size();
          if (marked) {
            out.resize(before + (mode == kFirstOnly ? nx : ny));
            out.resize(before + marked_set(x, nx, y, ny, mode, mark.data(), out.data() + before));
          } else {
            out.resize(before + merge_rows<false>(x, nx, y, ny, mode, static_cast<index_t*>(nullptr)));
            merge_rows<true>(x, nx, y, ny, mode, out.data() + before);
          }
          pt[p + 1] = static_cast<int64_t>(out.size() - before);
        }
      }
    });
    if (bad) {
      check_ids("neighbor_sets", "first", a, P, R);
      check_ids("neighbor_sets", "second", b, P, R);
    }
    for (int64_t p = 0; p < P; ++p) pt[p + 1] += pt[p];
    nodes = at::empty({pt[P]}, col.options());  // the graph's index dtype (int32 halves the traffic)
    index_t* np = nodes.data_ptr<index_t>();
    at::parallel_for(0, chunks, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c)
        if (!found[c].empty()) std::memcpy(np + pt[c * kPairsPerChunk], found[c].data(), found[c].size() * sizeof(index_t));
    });
  });
  return {ptr, nodes};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("neighbor_sets", &neighbor_sets_cpu); }

}  // namespace graphkit
