// The schemas of graphkit's custom operators: one definition each, implemented per device in
// cpu/ and cuda/. Autograd and fake (meta) kernels are registered from Python
// (graphkit/ops/native.py), so the ops also work under torch.compile.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <mutex>
#include <set>

namespace {

// How many distinct threads of torch's intra-op pool run a parallel loop of n items built into
// this library: a check that the kernels were compiled with the pool's threading (OpenMP).
int64_t threads_used(int64_t n) {
  std::mutex lock;
  std::set<int> seen;
  at::parallel_for(0, n, 1, [&](int64_t, int64_t) {
    std::lock_guard<std::mutex> guard(lock);
    seen.insert(at::get_thread_num());
  });
  return static_cast<int64_t>(seen.size());
}

}  // namespace

TORCH_LIBRARY(graphkit, m) {
  m.def("threads_used(int n) -> int", &threads_used);
  // A position-sensitive 64-bit checksum of a tensor's bytes (cpu/checksum.cpp), for the caches
  // kept with a tensor to notice changes its version counter misses. CPU only.
  m.def("checksum(Tensor t) -> int");
  // Forward ops take their forward inputs only: the transpose (CSC) a backward needs comes from
  // the autograd context (graphkit/ops/native.py), and the backward ops below take it as input.
  // Reductions are named by strings (reduce.h), as are neighbour sets (row_sets.h).
  //
  // out[i] = reduce_{e in row i} w[e] * x[col[e]]; x [N, F], w [E] or [E, H] (F % H == 0).
  // reduce: "sum", "mean", "max" or "min". arg [M, F] (int64, E for empty) only for max/min.
  m.def("spmm(Tensor rowptr, Tensor col, Tensor? weight, Tensor x, str reduce) -> (Tensor, Tensor)");
  // out[j] = sum over the entries k of CSC column j of w[perm[k]] * x[row_t[k]] (w[k] when perm
  // is empty): the transposed product (the backward of the sum/mean spmm with respect to x),
  // deterministic, no atomics.
  m.def("spmm_transpose(Tensor colptr, Tensor row_t, Tensor perm, Tensor? weight, Tensor x) -> Tensor");
  // The same transposed product through the CSR itself ([num_cols, F], x [M, F]): fixed chunks
  // of rows scatter into accumulators of their own, added in chunk order (no atomics, the same
  // result for any thread count). For matrices with few columns and many entries per column
  // whose transpose is not at hand (common-neighbour sets, a graph rebuilt every step). CPU only.
  m.def("spmm_transpose_scatter(Tensor rowptr, Tensor col, Tensor? weight, Tensor x, int num_cols) -> Tensor");
  // Backward of max/min spmm w.r.t. x, through the transpose (CSC): no atomics.
  m.def("spmm_arg_backward(Tensor colptr, Tensor row_t, Tensor perm, Tensor? weight, "
        "Tensor arg, Tensor grad_out, int num_src) -> Tensor");
  // out[e, h] = <a[row[e], h, :], b[col[e], h, :]>; a [M, H*C], b [N, H*C].
  m.def("sddmm(Tensor rowptr, Tensor col, Tensor a, Tensor b, int heads) -> Tensor");
  // Softmax of scores [E, H] over each CSR row, and its backward.
  m.def("segment_softmax(Tensor rowptr, Tensor scores) -> Tensor");
  m.def("segment_softmax_backward(Tensor rowptr, Tensor out, Tensor grad) -> Tensor");
  // Fused GAT aggregation (Velickovic et al., eqs. 1-4) per row i and head h:
  // alpha = softmax_j(leaky_relu(a_dst[i,h] + a_src[j,h])), out[i,h,:] = sum_j alpha * x[j,h,:].
  // x [N, H*C], a_src [N, H], a_dst [M, H] -> (out [M, H*C], alpha [E, H]); nothing [E, F] is made.
  m.def("gat_aggregate(Tensor rowptr, Tensor col, Tensor x, Tensor a_src, Tensor a_dst, "
        "float negative_slope) -> (Tensor, Tensor)");
  // Its backward: (grad_x, grad_a_src, grad_a_dst) in a pass over rows and one over the CSC
  // columns (colptr, row_t, perm: the transpose, in rowptr's dtype); grad_alpha [E, H] (or empty)
  // is a gradient reaching alpha directly.
  m.def("gat_aggregate_backward(Tensor rowptr, Tensor col, Tensor x, Tensor a_src, Tensor a_dst, "
        "Tensor alpha, Tensor grad_out, Tensor grad_alpha, float negative_slope, Tensor colptr, "
        "Tensor row_t, Tensor perm) -> (Tensor, Tensor, Tensor)");
  // out[i] = reduce over the entries k of row i of src[k] ([E, F] messages in CSR order), with
  // the arg entry for max/min (E for an empty row).
  m.def("segment_reduce(Tensor rowptr, Tensor src, str reduce) -> (Tensor, Tensor)");
  // out[k] = x[index[k]]; an index outside [0, N) is an error.
  m.def("gather(Tensor x, Tensor index) -> Tensor");
  // The backward of gather: out[n] = sum over the entries k of ptr-group n of grad[perm[k]],
  // where (ptr, perm) groups the positions of index by value (a CSR of the index).
  m.def("gather_backward(Tensor ptr, Tensor perm, Tensor grad) -> Tensor");
  // Walks of walk_length steps along the CSR rows (row = current node, col = next node) from
  // every start node (an id outside the rows is an error); node2vec's p/q bias by rejection
  // sampling (no alias tables). A node without neighbours repeats itself. Walk w draws from its
  // own counter-based stream (seed, w), so the result does not depend on the thread count.
  // Returns [S, walk_length + 1] int64.
  m.def("random_walk(Tensor rowptr, Tensor col, Tensor start, int walk_length, float p, float q, "
        "int seed) -> Tensor");
  // Skip-gram with negative sampling over walks [W, L] (node ids < num_nodes), word2vec.c's
  // algorithm (window shrinking, unigram^0.75 negatives, subsampling, linear learning-rate decay),
  // Hogwild over threads. Returns the input vectors [num_nodes, dim] float32. CPU only.
  m.def("sgns_train(Tensor walks, int num_nodes, int dim, int window, int negative, int epochs, "
        "float alpha, float min_alpha, float sample, int seed) -> Tensor");
  // For each pair p, the set of ids in CSR rows first[p] and second[p] (which = "common"), in row
  // first[p] only ("first_only") or in row second[p] only ("second_only"), repeated ids counted
  // once: ptr [P+1] int64 and nodes [K] in col's dtype, pair p's ids ascending in
  // nodes[ptr[p]:ptr[p+1]]. Rows must be sorted; a row id outside the rows is an error.
  m.def("neighbor_sets(Tensor rowptr, Tensor col, Tensor first, Tensor second, str which) -> (Tensor, Tensor)");
  // The transpose of a CSR matrix with num_cols columns: (colptr [num_cols + 1], row [E], perm [E])
  // in col's dtype, perm[k] the CSR position of CSC entry k; rows ascending within each column
  // (a stable counting sort, O(E + num_cols)). CPU only.
  m.def("csr_transpose(Tensor rowptr, Tensor col, int num_cols) -> (Tensor, Tensor, Tensor)");
  // A batch of graphs picked out of a store (graph g: nodes node_ptr[g]..node_ptr[g+1], CSR rows of
  // row_count[node] entries at edge_ptr[g].., col its local source ids), the graphs index[b] in
  // that order: (rowptr [N+1], col [E]) of the block-diagonal CSR, node_index [N] and edge_index [E]
  // (the store's ids of the batch's nodes and entries), graph [N] (b of every node) and graph_ptr
  // [B+1] (graph b's nodes: graph_ptr[b]..graph_ptr[b+1]); int64, O(N + E), no sort. CPU only.
  // One hop of neighbour sampling: for each node of `nodes` (int64 ids of CSR rows), up to fanout
  // entries of its row (all when fanout < 0), uniformly, without replacement (Floyd) or with, from
  // the node's own stream (seed, node): (ptr [D+1] int64, picks [S] int64 CSR positions, each
  // node's ascending in picks[ptr[d]:ptr[d+1]]). A node id outside the rows is an error. CPU only.
  m.def("sample_neighbors(Tensor rowptr, Tensor nodes, Tensor? weight, int fanout, bool replace, int seed) -> (Tensor, Tensor)");
  // The distinct ids of dst (which must be distinct) then src, in order of first appearance (n_id),
  // and each src entry's position in n_id (local): a sampled block's relabelling. int64, CPU only.
  m.def("first_seen(Tensor dst, Tensor src) -> (Tensor, Tensor)");
  // Each CSR row's entries in ascending (col, value) order, the value (an int64 per entry, such as
  // an edge id) carried along: (col, value), new tensors. CPU only.
  m.def("sort_rows(Tensor rowptr, Tensor col, Tensor value) -> (Tensor, Tensor)");
  // [2, num_edges] int64 R-MAT edges (source ids, target ids) over num_nodes nodes, quadrant
  // probabilities a, b, c, 1 - a - b - c; edge e from its own stream (seed, e). CPU.
  m.def("rmat_edges(int num_nodes, int num_edges, float a, float b, float c, int seed) -> Tensor");
  // The CSR of the edges src[e] -> dst[e] over num_nodes nodes by a stable parallel counting sort:
  // (rowptr [N+1], col [E] the sources, perm [E] each entry's edge), rows in input order. int64, CPU.
  m.def("edge_csr(Tensor src, Tensor dst, int num_nodes) -> (Tensor, Tensor, Tensor)");
  m.def("batch_graphs(Tensor node_ptr, Tensor edge_ptr, Tensor row_count, Tensor col, Tensor index) -> "
        "(Tensor, Tensor, Tensor, Tensor, Tensor, Tensor)");
  // Block-sparse product: out[i] = sum over the entries k of row i of blocks[k] @ x[col[k]]
  // (blocks [E, d, d], x [N, d, C] -> [M, d, C]); its transpose through the CSC arrays (blocks
  // transposed, perm maps CSC to CSR entries), and the blocks' gradient grad[row] @ x[col]^T.
  m.def("block_spmm(Tensor rowptr, Tensor col, Tensor blocks, Tensor x) -> Tensor");
  m.def("block_spmm_transpose(Tensor colptr, Tensor row_t, Tensor perm, Tensor blocks, Tensor grad) -> Tensor");
  m.def("block_spmm_blocks_grad(Tensor rowptr, Tensor col, Tensor grad, Tensor x) -> Tensor");
  // out[p] = x[first[p]] * x[second[p]] ([P, F]; an id outside [0, N) is an error); the backward
  // groups the 2P pair ends by node (ptr [N + 1], ends [2P]: end k < P is first[k], else
  // second[k - P]; other[k]: the other end's node) and sums grad[pair] * x[other] per node,
  // without atomics.
  m.def("pair_product(Tensor x, Tensor first, Tensor second) -> Tensor");
  m.def("pair_product_backward(Tensor ptr, Tensor ends, Tensor other, Tensor x, Tensor grad) -> Tensor");
  // Dropout with probability p (elements kept with the counter-based draw of dropout_mask.h, scaled
  // by 1 / (1 - p)), applied after a ReLU when relu is set; and its backward, which redraws the
  // mask from (seed, index) or, after a ReLU, reads it off out (out > 0 where the gradient passes).
  m.def("dropout(Tensor x, float p, int seed, bool relu) -> Tensor");
  m.def("dropout_backward(Tensor grad, Tensor out, float p, int seed, bool relu) -> Tensor");
}
