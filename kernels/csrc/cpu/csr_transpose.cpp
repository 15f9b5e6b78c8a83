// The transpose (CSC) of a CSR matrix by a stable counting sort on the column ids, O(E + N):
// row chunks count their entries per column, the counts become per-chunk write offsets, and each
// chunk scatters its entries in CSR order, so every column lists its rows ascending, exactly the
// order a stable sort of (col, row) keys gives.
#include <torch/library.h>

#include <tuple>
#include <vector>

#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor> csr_transpose_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                                 int64_t num_cols) {
  TORCH_CHECK(rowptr_in.scalar_type() == col_in.scalar_type(), "csr_transpose: rowptr and col must share a dtype");
  TORCH_CHECK(num_cols >= 0, "csr_transpose: num_cols must be >= 0");
  const at::Tensor rowptr = rowptr_in.contiguous(), col = col_in.contiguous();
  const int64_t R = rowptr.numel() - 1, E = col.numel();
  at::Tensor colptr = at::zeros({num_cols + 1}, col.options());
  at::Tensor row_t = at::empty({E}, col.options()), perm = at::empty({E}, col.options());
  if (E == 0) return {colptr, row_t, perm};
  GRAPHKIT_DISPATCH_INDEX(col.scalar_type(), "csr_transpose_cpu", [&] {
    const index_t* rp = rowptr.data_ptr<index_t>();
    const index_t* cl = col.data_ptr<index_t>();
    // chunks of rows with about E / C entries each; one histogram of num_cols counts per chunk
    int64_t C = std::min<int64_t>({at::get_num_threads(), 8, R});
    if (C * num_cols > 4 * E) C = 1;
    std::vector<int64_t> bounds(C + 1, R);
    bounds[0] = 0;
    for (int64_t c = 1; c < C; ++c)
      bounds[c] = std::upper_bound(rp, rp + R + 1, static_cast<index_t>(E * c / C)) - rp - 1;
    std::vector<int64_t> counts(C * num_cols, 0);
    at::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        int64_t* h = counts.data() + c * num_cols;
        for (int64_t k = rp[bounds[c]]; k < rp[bounds[c + 1]]; ++k) {
          const int64_t j = cl[k];
          TORCH_CHECK(j >= 0 && j < num_cols, "csr_transpose: column id ", j, " outside [0, ", num_cols, ")");
          ++h[j];
        }
      }
    });
    index_t* cp = colptr.data_ptr<index_t>();
    int64_t total = 0;
    for (int64_t j = 0; j < num_cols; ++j) {  // column j's chunk c starts after the earlier chunks' entries
      cp[j] = static_cast<index_t>(total);
      for (int64_t c = 0; c < C; ++c) {
        const int64_t n = counts[c * num_cols + j];
        counts[c * num_cols + j] = total;
        total += n;
      }
    }
    cp[num_cols] = static_cast<index_t>(total);
    index_t* rt = row_t.data_ptr<index_t>();
    index_t* pm = perm.data_ptr<index_t>();
    at::parallel_for(0, C, 1, [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        int64_t* next = counts.data() + c * num_cols;
        for (int64_t i = bounds[c]; i < bounds[c + 1]; ++i) {
          for (int64_t k = rp[i]; k < rp[i + 1]; ++k) {
            const int64_t pos = next[cl[k]]++;
            rt[pos] = static_cast<index_t>(i);
            pm[pos] = static_cast<index_t>(k);
          }
        }
      }
    });
  });
  return {colptr, row_t, perm};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("csr_transpose", &csr_transpose_cpu); }

}  // namespace graphkit
