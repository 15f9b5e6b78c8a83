// Helpers shared by the CPU kernels: nnz-balanced row partitioning and dtype dispatch.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

namespace graphkit {

// Run fn(row_begin, row_end) over [0, num_rows) in parallel, splitting the rows so that every
// chunk holds about the same number of entries (power-law rows stay balanced).
template <typename index_t, typename F>
void parallel_rows_by_nnz(const index_t* rowptr, int64_t num_rows, F fn) {
  if (num_rows == 0) return;
  const int64_t nnz = static_cast<int64_t>(rowptr[num_rows]);
  const int64_t chunks = std::max<int64_t>(
      1, std::min<int64_t>(num_rows, at::get_num_threads() * 8));
  std::vector<int64_t> bounds(chunks + 1);
  bounds[0] = 0;
  bounds[chunks] = num_rows;
  for (int64_t c = 1; c < chunks; ++c) {
    const int64_t target = nnz * c / chunks + (num_rows * c / chunks);  // entries + rows: weigh both
    // first row r with rowptr[r] + r >= target (monotone in r)
    int64_t lo = bounds[c - 1], hi = num_rows;
    while (lo < hi) {
      const int64_t mid = (lo + hi) / 2;
      if (static_cast<int64_t>(rowptr[mid]) + mid < target) lo = mid + 1; else hi = mid;
    }
    bounds[c] = lo;
  }
  at::parallel_for(0, chunks, 1, [&](int64_t begin, int64_t end) {
    for (int64_t c = begin; c < end; ++c) {
      if (bounds[c] < bounds[c + 1]) fn(bounds[c], bounds[c + 1]);
    }
  });
}

// Ask the memory system for a feature row that will be read soon (64-byte cache lines).
template <typename scalar_t>
inline void prefetch_row(const scalar_t* row, int64_t num_features) {
  const char* bytes = reinterpret_cast<const char*>(row);
  for (int64_t off = 0; off < num_features * static_cast<int64_t>(sizeof(scalar_t)); off += 64)
    __builtin_prefetch(bytes + off);
}

#define GRAPHKIT_DISPATCH_INDEX(TYPE, NAME, ...)                          \
  [&] {                                                                    \
    if ((TYPE) == at::kInt) { using index_t = int32_t; return __VA_ARGS__(); } \
    TORCH_CHECK((TYPE) == at::kLong, NAME, ": indices must be int32 or int64"); \
    using index_t = int64_t;                                               \
    return __VA_ARGS__();                                                  \
  }()

}  // namespace graphkit
