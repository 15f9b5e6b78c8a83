"""The virtual node: one extra node per graph, joined to all of its nodes (Gilmer et al., "Neural
Message Passing for Quantum Chemistry", ICML 2017, sec. 5.2; Li et al., "Learning Graph Neural
Networks with Deep Sets", 2017), as OGB's GIN-virtual implements it (Hu et al., "Open Graph
Benchmark", NeurIPS 2020, ``examples/graphproppred/mol/conv.py``).

Before layer ``l`` every node receives its graph's virtual-node state, ``h_i <- h_i + v_{g(i)}``;
after it (except the last layer) the state is updated from that layer's input,
``v_g <- Dropout(MLP(sum_{i in g} h_i + v_g))`` (plus ``v_g`` with ``residual``), the MLP being
``Linear(C, 2C)-BN-ReLU-Linear(2C, C)-BN-ReLU``.
"""
from __future__ import annotations

from typing import Optional

from torch import Tensor, nn

from .. import ops
from .pool import global_add_pool


class VirtualNode(nn.Module):
    """One update of the virtual-node state ``v`` ``[B, C]`` from a layer's input ``h`` ``[N, C]``.

    Args:
        channels: the width ``C`` of the node and virtual-node states.
        dropout: dropout on the new state.
        residual: add the new state to the old instead of replacing it.
    """

    def __init__(self, channels: int, dropout: float = 0.5, residual: bool = False):
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(channels, 2 * channels), nn.BatchNorm1d(2 * channels), nn.ReLU(),
                                 nn.Linear(2 * channels, channels), nn.BatchNorm1d(channels), nn.ReLU())
        self.dropout, self.residual = float(dropout), residual

    def reset_parameters(self) -> None:
        for module in self.mlp:
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, h: Tensor, batch: Optional[Tensor], state: Tensor) -> Tensor:
        """The next state ``[B, C]``: ``h`` is the layer's input (the nodes after they received
        ``state``), ``batch`` ``[N]`` the graph of each node."""
        pooled = global_add_pool(h, batch, state.size(0)) + state
        new = ops.dropout(self.mlp(pooled), self.dropout, self.training)
        return state + new if self.residual else new
