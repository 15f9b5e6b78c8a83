// The entries of each CSR row put in ascending column order (ties by value), carrying a value per
// entry along: rows in parallel, each sorted on its own, so the result is the same on any thread
// count. For graphs assembled row by row whose columns came out of order (relabelled samples).
#include <torch/library.h>

#include <algorithm>
#include <tuple>
#include <utility>
#include <vector>

#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor> sort_rows_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                 const at::Tensor& value_in) {
  TORCH_CHECK(rowptr_in.scalar_type() == at::kLong && col_in.scalar_type() == at::kLong &&
                  value_in.scalar_type() == at::kLong, "sort_rows: rowptr, col and value must be int64");
  TORCH_CHECK(col_in.numel() == value_in.numel(), "sort_rows: col and value must hold one entry each");
  const at::Tensor rowptr = rowptr_in.contiguous();
  at::Tensor col = col_in.clone(at::MemoryFormat::Contiguous), value = value_in.clone(at::MemoryFormat::Contiguous);
  const int64_t R = rowptr.numel() - 1;
  const int64_t* rp = rowptr.data_ptr<int64_t>();
  TORCH_CHECK(R < 0 || rp[R] == col.numel(), "sort_rows: rowptr[-1] must equal the number of entries");
  int64_t* c = col.data_ptr<int64_t>();
  int64_t* v = value.data_ptr<int64_t>();
  at::parallel_for(0, std::max<int64_t>(R, 0), 1024, [&](int64_t r0, int64_t r1) {
    std::vector<std::pair<int64_t, int64_t>> row;
    for (int64_t r = r0; r < r1; ++r) {
      const int64_t b = rp[r], e = rp[r + 1];
      if (e - b < 2) continue;
      row.clear();
      for (int64_t k = b; k < e; ++k) row.emplace_back(c[k], v[k]);
      std::sort(row.begin(), row.end());
      for (int64_t k = b; k < e; ++k) {
        c[k] = row[k - b].first;
        v[k] = row[k - b].second;
      }
    }
  });
  return {col, value};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("sort_rows", &sort_rows_cpu); }

}  // namespace graphkit
