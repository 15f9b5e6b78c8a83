// Set operations on two sorted CSR rows, shared by the CPU and CUDA kernels: a merge walk that
// treats each row as a set (repeated ids count once) and emits, in ascending order, the ids in
// both rows (kCommon), in the first only (kFirstOnly) or in the second only (kSecondOnly).
#pragma once
#include <ATen/ATen.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <string>

#include "host_device.h"

namespace graphkit {

enum RowSet : int64_t { kCommon = 0, kFirstOnly = 1, kSecondOnly = 2 };

// Number of ids of the chosen set; with kWrite, also writes them to out (sized by a counting run).
template <bool kWrite, typename index_t>
GRAPHKIT_HOST_DEVICE int64_t merge_rows(const index_t* x, int64_t nx, const index_t* y, int64_t ny, int64_t mode,
                                        index_t* out) {
  int64_t i = 0, j = 0, k = 0;
  while (true) {
    const bool x_left = i < nx, y_left = j < ny;
    // past the end of the list a set can still take ids from, nothing more is emitted
    if (mode == kCommon ? !(x_left && y_left) : mode == kFirstOnly ? !x_left : !y_left) break;
    if (!y_left || (x_left && x[i] < y[j])) {
      const index_t v = x[i];
      if (mode == kFirstOnly) { if (kWrite) out[k] = v; ++k; }
      while (i < nx && x[i] == v) ++i;
    } else if (!x_left || y[j] < x[i]) {
      const index_t v = y[j];
      if (mode == kSecondOnly) { if (kWrite) out[k] = v; ++k; }
      while (j < ny && y[j] == v) ++j;
    } else {
      const index_t v = x[i];
      if (mode == kCommon) { if (kWrite) out[k] = v; ++k; }
      while (i < nx && x[i] == v) ++i;
      while (j < ny && y[j] == v) ++j;
    }
  }
  return k;
}

// The checks both devices' neighbor_sets run on their arguments; returns the set named by `which`
// ("common", "first_only" or "second_only", the names at the op schema).
inline RowSet check_neighbor_sets_args(const at::Tensor& rowptr, const at::Tensor& col, const at::Tensor& first,
                                       const at::Tensor& second, c10::string_view which) {
  TORCH_CHECK(rowptr.scalar_type() == col.scalar_type(), "neighbor_sets: rowptr and col must share a dtype");
  TORCH_CHECK(first.numel() == second.numel(), "neighbor_sets: first and second must have one id per pair");
  if (which == "first_only") return kFirstOnly;
  if (which == "second_only") return kSecondOnly;
  TORCH_CHECK(which == "common", "neighbor_sets: which must be 'common', 'first_only' or 'second_only', got '",
              std::string(which), "'");
  return kCommon;
}

}  // namespace graphkit
