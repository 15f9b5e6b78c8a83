"""Graph-level readouts: sum, mean and max pooling and attention pooling over the nodes of each
graph of a batch, on graphkit's segment kernels (sorted segments, no atomics).

A batch of ``B`` graphs (PyG's ``Batch``) lists its nodes graph by graph, ``batch[i]`` being the
graph of node ``i``; the readout of graph ``b`` reduces the rows ``ptr[b] .. ptr[b + 1]`` of
``x`` ``[N, F]``, so ``out`` is ``[B, F]`` (a graph without nodes reads out zeros, as PyG's pools).
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor, nn
from torch_geometric.nn.inits import reset

from .. import ops
from ..adj import Adj, tensor_cache


def pool_adj(batch: Optional[Tensor], num_nodes: int, size: Optional[int] = None,
             device: Optional[torch.device] = None) -> Adj:
    """The ``[B, N]`` segments of a batch vector as an :class:`Adj` (row ``b`` holds the nodes of
    graph ``b``), kept with ``batch``. ``batch`` ``[N]`` must be sorted (PyG's batches are);
    ``None`` means one graph (on ``device``). ``size`` defaults to the count graphkit's loaders
    record with ``batch`` (:func:`graphkit.adj.mark_graph_count`), else ``batch.max() + 1``."""
    if batch is None:
        rowptr = torch.tensor([0, num_nodes], device=device)
        return Adj.trusted(rowptr, torch.arange(num_nodes, device=device), None, (1, num_nodes))
    if not isinstance(batch, Tensor) or batch.dtype not in (torch.int32, torch.int64) or batch.dim() != 1:
        raise TypeError("batch must be a 1-D int32/int64 tensor: the graph of each node")
    if batch.numel() != num_nodes:
        raise ValueError(f"batch has {batch.numel()} entries but x has {num_nodes} rows")
    cache = tensor_cache(batch)
    if size is None:
        size = cache.get("num_graphs")
    key = ("pool_adj", size)
    if key not in cache and "graph_ptr" in cache and size == cache["num_graphs"]:  # from graphkit's loaders
        cache[key] = Adj.trusted(cache["graph_ptr"], torch.arange(num_nodes, device=batch.device), None,
                                 (size, num_nodes))
    if key not in cache:
        if num_nodes and bool((batch[1:] < batch[:-1]).any()):
            raise ValueError("batch must be sorted (the nodes listed graph by graph, as PyG's Batch does)")
        count = int(batch[-1]) + 1 if num_nodes else 0
        size = count if size is None else int(size)
        if num_nodes and (int(batch[0]) < 0 or count > size):
            raise ValueError(f"batch holds graph ids outside [0, {size})")
        rowptr = torch.zeros(size + 1, dtype=torch.long, device=batch.device)
        torch.cumsum(torch.bincount(batch.long(), minlength=size), 0, out=rowptr[1:])
        cache[key] = Adj.trusted(rowptr, torch.arange(num_nodes, device=batch.device), None, (size, num_nodes))
    return cache[key]


def _pool(x: Tensor, batch: Optional[Tensor], size: Optional[int], reduce: str) -> Tensor:
    if not isinstance(x, Tensor) or x.dim() < 2:
        raise ValueError("x must be a tensor [N, F] of node features")
    return ops.segment_reduce(x, pool_adj(batch, x.size(0), size, x.device), reduce)


def global_add_pool(x: Tensor, batch: Optional[Tensor] = None, size: Optional[int] = None) -> Tensor:
    """``out[b] = sum_{i in graph b} x[i]``: ``[B, F]``."""
    return _pool(x, batch, size, "sum")


def global_mean_pool(x: Tensor, batch: Optional[Tensor] = None, size: Optional[int] = None) -> Tensor:
    """``out[b] = mean_{i in graph b} x[i]``: ``[B, F]``."""
    return _pool(x, batch, size, "mean")


def global_max_pool(x: Tensor, batch: Optional[Tensor] = None, size: Optional[int] = None) -> Tensor:
    """``out[b] = max_{i in graph b} x[i]`` per feature (NaN propagates; the gradient goes to the
    first maximal node): ``[B, F]``."""
    return _pool(x, batch, size, "max")


class AttentionalAggregation(nn.Module):
    """Soft-attention readout (Li et al. 2016, "Gated Graph Sequence Neural Networks", eq. 7):
    ``out[b] = sum_{i in graph b} softmax_i(gate_nn(x_i)) * nn(x_i)``, the softmax over the nodes of
    each graph (``gate_nn`` maps ``[N, F]`` to ``[N, 1]`` or ``[N, C]`` for per-channel gates;
    ``nn`` defaults to the identity)."""

    def __init__(self, gate_nn: nn.Module, nn: Optional[nn.Module] = None):
        super().__init__()
        if not isinstance(gate_nn, torch.nn.Module):
            raise TypeError(f"gate_nn must be a torch.nn.Module, got {type(gate_nn).__name__}")
        self.gate_nn, self.nn = gate_nn, nn

    def reset_parameters(self) -> None:
        reset(self.gate_nn)
        reset(self.nn)

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, size: Optional[int] = None) -> Tensor:
        adj = pool_adj(batch, x.size(0), size, x.device)
        gate = self.gate_nn(x)
        if gate.dim() != 2 or gate.size(0) != x.size(0):
            raise ValueError(f"gate_nn must map x to [N, 1] or [N, C], got {list(gate.shape)}")
        h = x if self.nn is None else self.nn(x)
        return ops.segment_reduce(ops.segment_softmax(adj, gate) * h, adj, "sum")
