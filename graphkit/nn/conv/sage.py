"""SAGEConv: Hamilton, Ying & Leskovec, "Inductive Representation Learning on Large Graphs",
NeurIPS 2017, Algorithm 1 with the mean aggregator:
``h_i' = W_l . mean_{j in N(i)} h_j + W_r . h_i`` (optionally L2-normalised)."""
from __future__ import annotations

from typing import Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..message_passing import MessagePassing
from ._checks import check_input, positive_int


class SAGEConv(MessagePassing):
    """GraphSAGE layer.

    Args:
        in_channels, out_channels: feature sizes.
        aggr: neighbour aggregation, ``'mean'`` (paper default), ``'sum'``, ``'max'`` or ``'min'``.
        normalize: L2-normalise the output rows (paper, Algorithm 1 line 7).
        root_weight: add the transformed root features ``W_r h_i``.
        bias: bias of the neighbour transform ``W_l``.

    Shapes: ``x`` ``[N, F_in]`` or a pair ``([N_src, F_in], [N_dst, F_in])`` for bipartite
    graphs (sparse CSR matrices when :attr:`projects_first`) -> ``[N_dst, F_out]``.
    """

    supports_sparse_input = True
    supports_bipartite = True
    projection = "commutes"  # W_l is linear: it commutes with a sum or mean aggregation

    def __init__(self, in_channels: int, out_channels: int, aggr: str = "mean",
                 normalize: bool = False, root_weight: bool = True, bias: bool = True):
        in_channels = positive_int(in_channels, "in_channels", "SAGEConv")
        out_channels = positive_int(out_channels, "out_channels", "SAGEConv")
        super().__init__(aggr=aggr)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.normalize, self.root_weight = normalize, root_weight
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False) if root_weight else None

    @property
    def root_term(self) -> bool:
        """Whether the output adds ``W_r h_i`` or a bias (the addend of the aggregate-first addmm)."""
        return self.lin_r is not None or self.lin_l.bias is not None

    def reset_parameters(self) -> None:
        self.lin_l.reset_parameters()
        if self.lin_r is not None:
            self.lin_r.reset_parameters()

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], graph) -> Tensor:
        x_src, x_dst = x if isinstance(x, tuple) else (x, x)
        check_input(x_src, "SAGEConv", self.lin_l.weight, self.in_channels)
        if x_dst is not x_src:
            check_input(x_dst, "SAGEConv", self.lin_l.weight, self.in_channels, name="x_dst")
        adj = self.adj(graph, x_src.size(0), num_dst=x_dst.size(0))
        # The root term and the bias are the addend of one addmm when aggregating first.
        root = None
        if self.lin_r is not None:
            root = F.linear(x_dst, self.lin_r.weight, self.lin_l.bias)
        elif self.lin_l.bias is not None:
            root = self.lin_l.bias.expand(x_dst.size(0), -1)
        if self.projects_first:
            out = self.propagate(adj, x_src @ self.lin_l.weight.t())
            out = out if root is None else out + root
        else:
            agg = self.propagate(adj, x_src)
            out = agg @ self.lin_l.weight.t() if root is None else torch.addmm(root, agg, self.lin_l.weight.t())
        return F.normalize(out, p=2.0, dim=-1) if self.normalize else out

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}, aggr={self.aggr!r}"
