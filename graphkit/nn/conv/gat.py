"""GATConv: Velickovic et al., "Graph Attention Networks", ICLR 2018, eqs. (1)-(6):
``e_ij = LeakyReLU(a_dst . W h_i + a_src . W h_j)``, ``alpha_ij = softmax_j(e_ij)`` over the
incoming edges of ``i`` (self-loop included), ``h_i' = ||_k sum_j alpha^k_ij W^k h_j`` (concat) or
the mean over heads (output layer)."""
from __future__ import annotations

from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ... import ops
from ...adj import Adj
from ..message_passing import MessagePassing
from ._checks import check_input, positive_int


class GATConv(MessagePassing):
    """Multi-head graph attention.

    Args:
        in_channels: ``F_in``.
        out_channels: ``C``, features per head.
        heads: ``H``.
        concat: concatenate heads (``[N, H*C]``) or average them (``[N, C]``).
        negative_slope: LeakyReLU slope of the scores.
        dropout: dropout on the attention coefficients (training only).
        add_self_loops: replace self-loops by exactly one per node.
        bias, residual: additive bias; a linear skip connection from the input.

    The aggregation is the layer's :meth:`message_and_aggregate`, which :meth:`propagate` calls:
    without attention dropout one fused ``ops.gat_aggregate`` call; with it (in training) the
    scores are an ``sddmm`` (``a_dst[i] + a_src[j]``), normalised by ``segment_softmax``, dropped
    out and consumed by a per-head weighted ``spmm``. Either way no ``[E, H, C]`` message tensor is
    built. ``x`` may be a sparse CSR matrix (it is only ever multiplied by weights).

    On a sampled block ``(N_dst, N_src)``, ``x`` is the pair ``(x_src, x_dst)``: the targets' scores
    read ``W x_dst``, their self-loops the first ``N_dst`` sources (as PyG's bipartite ``GATConv``)
    -> ``[N_dst, H*C]``.
    """

    supports_sparse_input = True
    supports_bipartite = True
    projection = "required"  # the attention scores are computed from W x

    def __init__(self, in_channels: int, out_channels: int, heads: int = 1, concat: bool = True,
                 negative_slope: float = 0.2, dropout: float = 0.0, add_self_loops: bool = True,
                 bias: bool = True, residual: bool = False):
        in_channels = positive_int(in_channels, "in_channels", "GATConv")
        out_channels = positive_int(out_channels, "out_channels", "GATConv")
        heads = positive_int(heads, "heads", "GATConv")
        super().__init__(aggr="sum")
        self.in_channels, self.out_channels, self.heads = in_channels, out_channels, heads
        self.concat, self.negative_slope, self.dropout = concat, negative_slope, dropout
        self.add_self_loops = add_self_loops
        total = heads * out_channels if concat else out_channels
        self.lin = nn.Linear(in_channels, heads * out_channels, bias=False)
        self.att_src = nn.Parameter(torch.empty(1, heads, out_channels))
        self.att_dst = nn.Parameter(torch.empty(1, heads, out_channels))
        self.res = nn.Linear(in_channels, total, bias=False) if residual else None
        self.bias = nn.Parameter(torch.empty(total)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        nn.init.xavier_uniform_(self.att_src)
        nn.init.xavier_uniform_(self.att_dst)
        if self.res is not None:
            nn.init.xavier_uniform_(self.res.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], graph, return_attention: bool = False):
        """``x`` ``[N, F_in]`` -> ``[N, H*C]`` (or ``[N, C]``); with ``return_attention`` also
        ``(adj, alpha)`` where ``alpha`` ``[E', H]`` is in the CSR order of ``adj``."""
        x, x_dst = x if isinstance(x, tuple) else (x, None)
        check_input(x, "GATConv", self.lin.weight, self.in_channels)
        if x_dst is not None:
            check_input(x_dst, "GATConv", self.lin.weight, self.in_channels, name="x_dst")
        adj = self.adj(graph, x.size(0), num_dst=None if x_dst is None else x_dst.size(0))
        if self.add_self_loops:
            adj = adj.with_self_loops()
        h = self.lin(x).view(-1, self.heads, self.out_channels)           # [N, H, C]
        h_dst = h if x_dst is None else self.lin(x_dst).view(-1, self.heads, self.out_channels)
        score_src = (h * self.att_src).sum(-1)                             # [N, H]
        score_dst = (h_dst * self.att_dst).sum(-1)                         # [M, H]
        out, alpha = self.propagate(adj, h, score_src=score_src, score_dst=score_dst)  # [M, H, C], [E, H]
        out = out.reshape(out.size(0), -1) if self.concat else out.mean(dim=1)
        if self.res is not None:
            out = out + self.res(x if x_dst is None else x_dst)
        if self.bias is not None:
            out = out + self.bias
        return (out, (adj, alpha)) if return_attention else out

    def message_and_aggregate(self, adj: Adj, x: Tensor, score_src: Tensor, score_dst: Tensor
                              ) -> Tuple[Tensor, Tensor]:
        """Eqs. (1)-(4): ``x`` ``[N, H, C]``, ``score_src`` ``[N, H]`` (``a_src . W h_j``),
        ``score_dst`` ``[M, H]`` (``a_dst . W h_i``) -> ``(out [M, H, C], alpha [E, H])``, ``alpha``
        in the CSR order of ``adj``."""
        if self.training and self.dropout > 0:  # attention dropout sits between softmax and sum
            scores = ops.sddmm(adj, score_dst, score_src, op="add")        # [E, H]
            alpha = ops.segment_softmax(adj, F.leaky_relu(scores, self.negative_slope))
            alpha = F.dropout(alpha, p=self.dropout, training=True)
            return ops.spmm(adj, x, "sum", alpha), alpha                   # [M, H, C]
        # one fused op: no [E, H, C] tensor, alpha [E, H] kept for the backward
        return ops.gat_aggregate(adj, x, score_src, score_dst, self.negative_slope)

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, heads={self.heads}, concat={self.concat}"
