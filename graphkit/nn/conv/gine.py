"""GINEConv: GIN with edge features, as Hu, Liu, Gomes, Zitnik, Liang, Pande & Leskovec define it
("Strategies for Pre-training Graph Neural Networks", ICLR 2020) and OGB's molecule examples use it:
``h_i' = MLP((1 + eps) . h_i + sum_{j in N(i)} ReLU(h_j + e_ji))``."""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from ._checks import check_input, positive_int
from .gin import GINConv, _in_features


class GINEConv(GINConv):
    """Graph isomorphism layer with edge features (PyG's ``GINEConv`` signature).

    Args:
        mlp: the network applied after aggregation, ``[N, F] -> [N, F_out]``.
        eps: initial ``eps``.
        train_eps: learn ``eps``.
        edge_dim: width of the raw ``edge_attr``; when given, a linear map takes it to ``F`` (the
            width of ``x``), else ``edge_attr`` must already be ``[E, F]`` (e.g. from OGB's
            ``BondEncoder``).

    ``forward(x [N, F], graph, edge_attr [E, F or edge_dim])``: ``edge_attr`` in the order of the
    ``edge_index`` the graph was built from (an ``Adj`` permutes it into its CSR order).
    """

    def __init__(self, mlp: nn.Module, eps: float = 0.0, train_eps: bool = False, edge_dim: Optional[int] = None):
        super().__init__(mlp, eps, train_eps)
        in_channels = _in_features(mlp)
        self.lin = None
        if edge_dim is not None:
            edge_dim = positive_int(edge_dim, "edge_dim", "GINEConv")
            if in_channels is None:
                raise ValueError("GINEConv: edge_dim needs the input width, read from the mlp's first "
                                 "nn.Linear; this mlp does not start with one")
            self.lin = nn.Linear(edge_dim, in_channels)
        self.in_channels = in_channels

    def reset_parameters(self) -> None:
        super().reset_parameters()
        if getattr(self, "lin", None) is not None:
            self.lin.reset_parameters()

    def forward(self, x: Tensor, graph, edge_attr: Tensor) -> Tensor:
        """``x`` ``[N, F]``, ``edge_attr`` ``[E, F]`` (or ``[E, edge_dim]``) -> ``[N, F_out]``."""
        weight = next(self.nn.parameters(), None)
        check_input(x, "GINEConv", weight if weight is not None and weight.is_floating_point() else None,
                    self.in_channels)
        if not isinstance(edge_attr, Tensor) or not edge_attr.is_floating_point() or edge_attr.dim() != 2:
            got = (f"{edge_attr.dtype} {list(edge_attr.shape)}" if isinstance(edge_attr, Tensor)
                   else type(edge_attr).__name__)
            raise TypeError(f"GINEConv: edge_attr must be a floating-point tensor [E, features], got {got} "
                            "(encode integer bond features first, e.g. with OGB's BondEncoder)")
        if self.lin is not None:
            if edge_attr.size(1) != self.lin.in_features:
                raise ValueError(f"GINEConv: edge_attr has {edge_attr.size(1)} features but edge_dim is "
                                 f"{self.lin.in_features}")
            edge_attr = self.lin(edge_attr)
        elif edge_attr.size(1) != x.size(1):
            raise ValueError(f"GINEConv: edge_attr has {edge_attr.size(1)} features but x has {x.size(1)}; "
                             "give edge_dim to map them to x's width")
        adj = self.adj(graph, x.size(0))
        return self.nn(self.propagate(adj, x, edge_attr=edge_attr) + (1 + self.eps) * x)

    def message(self, x_j: Tensor, edge_attr: Tensor) -> Tensor:
        return (x_j + edge_attr).relu()
