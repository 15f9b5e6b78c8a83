// A batch of graphs out of a store of many: the block-diagonal CSR of the graphs picked, built by
// copying each graph's CSR shifted by its offsets (O(nodes + edges) of the batch, no sort), with
// the ids to gather node and edge features by, the graph of every node and where each graph starts.
#include <torch/library.h>

#include <tuple>
#include <vector>

#include "common.h"

namespace graphkit {
namespace {

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor, at::Tensor> batch_graphs_cpu(
    const at::Tensor& node_ptr_in, const at::Tensor& edge_ptr_in, const at::Tensor& row_count_in,
    const at::Tensor& col_in, const at::Tensor& index_in) {
  for (const at::Tensor* t : {&node_ptr_in, &edge_ptr_in, &row_count_in, &col_in, &index_in})
    TORCH_CHECK(t->scalar_type() == at::kLong && t->dim() == 1, "batch_graphs: every input must be a 1-D int64 tensor");
  const at::Tensor node_ptr = node_ptr_in.contiguous(), edge_ptr = edge_ptr_in.contiguous();
  const at::Tensor row_count = row_count_in.contiguous(), col = col_in.contiguous(), index = index_in.contiguous();
  const int64_t G = node_ptr.numel() - 1, B = index.numel();
  TORCH_CHECK(G >= 0 && edge_ptr.numel() == G + 1, "batch_graphs: node_ptr and edge_ptr must both hold G + 1 offsets");
  const int64_t* np = node_ptr.data_ptr<int64_t>();
  const int64_t* ep = edge_ptr.data_ptr<int64_t>();
  const int64_t* ix = index.data_ptr<int64_t>();
  TORCH_CHECK(np[G] == row_count.numel() && ep[G] == col.numel(),
              "batch_graphs: node_ptr[-1] must equal the rows of row_count and edge_ptr[-1] the entries of col");
  std::vector<int64_t> node_off(B + 1, 0), edge_off(B + 1, 0);  // where each picked graph starts in the batch
  for (int64_t b = 0; b < B; ++b) {
    const int64_t g = ix[b];
    TORCH_CHECK(g >= 0 && g < G, "batch_graphs: graph id ", g, " outside [0, ", G, ")");
    node_off[b + 1] = node_off[b] + (np[g + 1] - np[g]);
    edge_off[b + 1] = edge_off[b] + (ep[g + 1] - ep[g]);
  }
  const int64_t N = node_off[B], E = edge_off[B];
  const auto opts = node_ptr.options();
  at::Tensor graph_ptr = at::empty({B + 1}, opts);
  std::copy(node_off.begin(), node_off.end(), graph_ptr.data_ptr<int64_t>());
  at::Tensor rowptr = at::empty({N + 1}, opts), out_col = at::empty({E}, opts);
  at::Tensor node_index = at::empty({N}, opts), edge_index = at::empty({E}, opts), graph = at::empty({N}, opts);
  const int64_t* rc = row_count.data_ptr<int64_t>();
  const int64_t* cl = col.data_ptr<int64_t>();
  int64_t* rp = rowptr.data_ptr<int64_t>();
  int64_t* oc = out_col.data_ptr<int64_t>();
  int64_t* ni = node_index.data_ptr<int64_t>();
  int64_t* ei = edge_index.data_ptr<int64_t>();
  int64_t* gr = graph.data_ptr<int64_t>();
  rp[0] = 0;
  // small batches (a few thousand entries) are faster on one thread than waking the pool
  const int64_t grain = std::max<int64_t>(1, B * 16384 / std::max<int64_t>(1, N + E));
  at::parallel_for(0, B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t g = ix[b], n0 = np[g], e0 = ep[g], n = np[g + 1] - n0, e = ep[g + 1] - e0;
      const int64_t no = node_off[b], eo = edge_off[b];
      int64_t end = eo;
      for (int64_t i = 0; i < n; ++i) {
        end += rc[n0 + i];
        rp[no + i + 1] = end;
        ni[no + i] = n0 + i;
        gr[no + i] = b;
      }
      TORCH_CHECK(end == edge_off[b + 1], "batch_graphs: the row counts of graph ", g, " add up to ", end - eo,
                  " entries, but edge_ptr gives it ", e);
      for (int64_t k = 0; k < e; ++k) {
        const int64_t j = cl[e0 + k];
        TORCH_CHECK(j >= 0 && j < n, "batch_graphs: graph ", g, " has a column id ", j, " outside [0, ", n, ")");
        oc[eo + k] = j + no;
        ei[eo + k] = e0 + k;
      }
    }
  });
  return {rowptr, out_col, node_index, edge_index, graph, graph_ptr};
}

}  // namespace

TORCH_LIBRARY_IMPL(graphkit, CPU, m) { m.impl("batch_graphs", &batch_graphs_cpu); }

}  // namespace graphkit
