"""The message-passing base class: propagate -> message -> aggregate -> update.

A layer subclasses :class:`MessagePassing` and writes the maths of one edge
(:meth:`MessagePassing.message`) and of one node (:meth:`MessagePassing.update`).
:meth:`MessagePassing.propagate` picks the execution path:

* fused: when ``message`` is not overridden, the message is the (optionally weighted)
  neighbour feature ``w_ij * x_j`` and aggregation is a single sparse-times-dense product,
  ``ops.spmm`` — no ``[E, F]`` message tensor is ever built;
* gather-reduce: otherwise the arguments ``message`` asks for (``x_j``, ``x_i``,
  ``edge_weight``, any ``*_j``/``*_i`` suffixed tensor) are gathered per edge with
  ``ops.gather`` and reduced with ``ops.segment_reduce``.
"""
from __future__ import annotations

import inspect
from typing import Optional

from torch import Tensor, nn

from .. import ops
from ..adj import Adj, to_adj


class MessagePassing(nn.Module):
    """Base class of graphkit's graph layers.

    Args:
        aggr: ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``.
    """

    def __init__(self, aggr: str = "sum"):
        super().__init__()
        if aggr not in ops.REDUCTIONS:
            raise ValueError(f"unknown aggregation {aggr!r}; expected one of {ops.REDUCTIONS}")
        self.aggr = aggr
        self._message_args = [p for p in inspect.signature(self.message).parameters
                              if p not in ("self", "kwargs")]

    @property
    def fused(self) -> bool:
        """True when the message is a weighted copy of ``x_j`` (one ``spmm`` does it all)."""
        return type(self).message is MessagePassing.message

    @staticmethod
    def adj(graph, num_nodes: Optional[int] = None, edge_weight: Optional[Tensor] = None,
            num_dst: Optional[int] = None) -> Adj:
        """Turn an ``edge_index`` / ``Adj`` / ``Data`` argument into an :class:`Adj` (cached)."""
        return to_adj(graph, num_nodes=num_nodes, edge_weight=edge_weight, num_dst=num_dst)

    def propagate(self, adj: Adj, x: Tensor, edge_weight: Optional[Tensor] = None, **kwargs) -> Tensor:
        """Run message -> aggregate -> update over ``adj``.

        Args:
            adj: graph ``(M, N)``.
            x: ``[N, *F]`` node features (sources; targets too for square graphs).
            edge_weight: ``[E]`` or ``[E, H]`` per-edge weights in CSR order (default ``adj.value``).
            **kwargs: further tensors for ``message``/``update``; node tensors named ``foo``
                are passed to ``message`` as ``foo_j`` / ``foo_i`` when it asks for those.
        Returns:
            ``[M, *F']`` the output of :meth:`update`.
        """
        if self.fused:
            out = ops.spmm(adj, x, self.aggr, edge_weight)
        else:
            messages = self.message(**self._collect(adj, x, edge_weight, kwargs))
            out = ops.segment_reduce(messages, adj, self.aggr)
        return self.update(out, **kwargs)

    def _collect(self, adj: Adj, x: Tensor, edge_weight: Optional[Tensor], kwargs: dict) -> dict:
        nodes = dict(kwargs, x=x)
        args = {}
        for name in self._message_args:
            if name == "edge_weight":
                args[name] = edge_weight if edge_weight is not None else adj.value
            elif name.endswith("_j") and name[:-2] in nodes:
                args[name] = ops.gather(nodes[name[:-2]], adj.col)
            elif name.endswith("_i") and name[:-2] in nodes:
                args[name] = ops.gather(nodes[name[:-2]], adj.row)
            elif name in kwargs:
                args[name] = kwargs[name]
            else:
                raise TypeError(f"{type(self).__name__}.message needs {name!r}, which propagate was not given")
        return args

    def message(self, x_j: Tensor, edge_weight: Optional[Tensor] = None) -> Tensor:
        """Per-edge message ``[E, *F]``; the default is ``w_ij * x_j`` (enables the fused path)."""
        if edge_weight is None:
            return x_j
        return x_j * edge_weight.view(edge_weight.shape + (1,) * (x_j.dim() - edge_weight.dim()))

    def update(self, aggregated: Tensor, **kwargs) -> Tensor:
        """Per-node update of the aggregated messages; identity by default."""
        return aggregated

    def extra_repr(self) -> str:
        return f"aggr={self.aggr!r}"


__all__ = ["MessagePassing"]
