// The schemas of graphkit's custom operators: one definition each, implemented per device in
// cpu/ and cuda/. Autograd and fake (meta) kernels are registered from Python
// (graphkit/ops/native.py), so the ops also work under torch.compile.
#include <torch/library.h>

TORCH_LIBRARY(graphkit, m) {
  // out[i] = reduce_{e in row i} w[e] * x[col[e]]; x [N, F], w [E] or [E, H] (F % H == 0).
  // reduce: 0 sum, 1 mean, 2 max, 3 min. arg [M, F] (int64, E for empty) only for max/min.
  // colptr/row_t/perm: the transpose (CSC), used only by the backward.
  m.def("spmm(Tensor rowptr, Tensor col, Tensor? weight, Tensor x, int reduce, "
        "Tensor colptr, Tensor row_t, Tensor perm) -> (Tensor, Tensor)");
  // Backward of max/min spmm w.r.t. x, through the transpose (CSC): no atomics.
  m.def("spmm_arg_backward(Tensor colptr, Tensor row_t, Tensor perm, Tensor? weight, "
        "Tensor arg, Tensor grad_out, int num_src) -> Tensor");
  // out[e, h] = <a[row[e], h, :], b[col[e], h, :]>; a [M, H*C], b [N, H*C].
  m.def("sddmm(Tensor rowptr, Tensor col, Tensor a, Tensor b, int heads, "
        "Tensor colptr, Tensor row_t, Tensor perm) -> Tensor");
  // Softmax of scores [E, H] over each CSR row, and its backward.
  m.def("segment_softmax(Tensor rowptr, Tensor scores) -> Tensor");
  m.def("segment_softmax_backward(Tensor rowptr, Tensor out, Tensor grad) -> Tensor");
  // Fused GAT aggregation (Velickovic et al., eqs. 1-4) per row i and head h:
  // alpha = softmax_j(leaky_relu(a_dst[i,h] + a_src[j,h])), out[i,h,:] = sum_j alpha * x[j,h,:].
  // x [N, H*C], a_src [N, H], a_dst [M, H] -> (out [M, H*C], alpha [E, H]); nothing [E, F] is made.
  m.def("gat_aggregate(Tensor rowptr, Tensor col, Tensor x, Tensor a_src, Tensor a_dst, "
        "float negative_slope, Tensor colptr, Tensor row_t, Tensor perm) -> (Tensor, Tensor)");
  // Walks of walk_length steps along the CSR rows (row = current node, col = next node) from
  // every start node; node2vec's p/q bias by rejection sampling (no alias tables). A node without
  // neighbours repeats itself. Walk w draws from its own counter-based stream (seed, w), so the
  // result does not depend on the thread count. Returns [S, walk_length + 1] int64.
  m.def("random_walk(Tensor rowptr, Tensor col, Tensor start, int walk_length, float p, float q, "
        "int seed) -> Tensor");
}
