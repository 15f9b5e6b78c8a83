// Per-pair neighbour sets (row_sets.h's merge walk), parallel over pairs: a counting pass, an
// exclusive scan into the pair pointers, a writing pass. Common neighbours for link prediction
// (NCN, Adamic-Adar, resource allocation) and the one-sided sets NCNC completes.
#include <torch/library.h>

#include <tuple>

#include "../row_sets.h"
#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor> neighbor_sets_cpu(const at::Tensor& rowptr_in, const at::Tensor& col_in,
                                                     const at::Tensor& first_in, const at::Tensor& second_in,
                                                     int64_t mode) {
  check_neighbor_sets_args(rowptr_in, col_in, first_in, second_in, mode);
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
    for (int64_t p = 0; p < P; ++p)
      TORCH_CHECK(a[p] >= 0 && a[p] < R && b[p] >= 0 && b[p] < R, "neighbor_sets: pair ", p, " has a node id outside [0, ",
                  R, ")");
    auto run = [&](auto write, int64_t* out_nodes) {
      at::parallel_for(0, P, 512, [&](int64_t p0, int64_t p1) {
        for (int64_t p = p0; p < p1; ++p) {
          const index_t *x = cl + rp[a[p]], *y = cl + rp[b[p]];
          const int64_t nx = rp[a[p] + 1] - rp[a[p]], ny = rp[b[p] + 1] - rp[b[p]];
          if constexpr (decltype(write)::value)
            merge_rows<true>(x, nx, y, ny, mode, out_nodes + pt[p]);
          else
            pt[p + 1] = merge_rows<false>(x, nx, y, ny, mode, static_cast<int64_t*>(nullptr));
        }
      });
    };
    run(std::false_type{}, nullptr);
    for (int64_t p = 0; p < P; ++p) pt[p + 1] += pt[p];
    nodes = at::empty({pt[P]}, first.options());
    run(std::true_type{}, nodes.data_ptr<int64_t>());
  });
  return {ptr, nodes};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("neighbor_sets", &neighbor_sets_cpu); }

}  // namespace graphkit
