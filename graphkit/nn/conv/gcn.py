"""GCNConv: Kipf & Welling, "Semi-Supervised Classification with Graph Convolutional
Networks", ICLR 2017, eq. (2): ``H' = D^-1/2 (A + I) D^-1/2 H W``."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor, nn

from ..message_passing import MessagePassing
from ._checks import check_edge_values, check_input, positive_int


class GCNConv(MessagePassing):
    """Graph convolution with symmetric normalisation.

    Args:
        in_channels, out_channels: feature sizes ``F_in -> F_out``.
        improved: self-loops of weight 2 (``A + 2I``).
        add_self_loops: add (remaining) self-loops before normalising.
        normalize: add self-loops and apply ``D^-1/2 . D^-1/2``; otherwise aggregate with the raw
            weights of the graph as given (as PyG does).
        bias: learn an additive bias.

    Shapes: ``x`` ``[N, F_in]`` (a sparse CSR matrix when :attr:`projects_first`), graph an
    ``edge_index`` ``[2, E]`` or :class:`graphkit.Adj`, ``edge_weight`` ``[E]`` (``edge_index``
    order) -> ``[N, F_out]``. The normalised graph is cached with the graph, so repeated calls on
    the same ``edge_index`` normalise once. On a sampled block ``(N_dst, N_src)``, ``x`` is the pair
    ``(x_src [N_src, F_in], x_dst [N_dst, F_in])`` (the targets are the first ``N_dst`` sources,
    ``x_dst`` only gives their count) -> ``[N_dst, F_out]``, normalised as PyG normalises a layer's
    trimmed subgraph (:meth:`graphkit.Adj.gcn_norm`).
    """

    supports_edge_weight = True
    supports_sparse_input = True
    supports_bipartite = True
    projection = "commutes"  # a linear map and a weighted sum: (A X) W == A (X W)

    def __init__(self, in_channels: int, out_channels: int, improved: bool = False,
                 add_self_loops: bool = True, normalize: bool = True, bias: bool = True):
        in_channels = positive_int(in_channels, "in_channels", "GCNConv")
        out_channels = positive_int(out_channels, "out_channels", "GCNConv")
        super().__init__(aggr="sum")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.improved, self.add_self_loops, self.normalize = improved, add_self_loops, normalize
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.empty(out_channels)) if bias else None
        self.reset_parameters()

    @property
    def blocks_exact(self) -> bool:
        """A normalising GCN reads its sources' degrees, which a block does not hold."""
        return not self.normalize

    def reset_parameters(self) -> None:
        nn.init.xavier_uniform_(self.lin.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def forward(self, x: Union[Tensor, Tuple[Tensor, Tensor]], graph, edge_weight: Optional[Tensor] = None) -> Tensor:
        """``x`` ``[N, in_channels]`` (the dtype of the weights) -> ``[N, out_channels]``.

        Edge weights (``edge_weight`` or the graph's own) are taken as given; in
        :class:`graphkit.debug` mode NaN or infinite ones, and negative ones when normalising,
        are a ``ValueError``."""
        x, num_dst = (x[0], x[1].size(0)) if isinstance(x, tuple) else (x, None)
        check_input(x, "GCNConv", self.lin.weight, self.in_channels)
        adj = self.adj(graph, x.size(0), edge_weight, num_dst=num_dst)
        check_edge_values(adj.value, "GCNConv", nonnegative=self.normalize)
        if self.normalize:
            adj = adj.gcn_norm(self.add_self_loops, self.improved, dtype=x.dtype)
        if self.projects_first:  # the sparse product on the narrower side
            out = self.propagate(adj, self.lin(x))
        else:
            out = self.lin(self.propagate(adj, x))
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        return f"{self.in_channels}, {self.out_channels}"
