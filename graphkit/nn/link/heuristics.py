"""Neighbourhood heuristics for link prediction (Liben-Nowell & Kleinberg, 2007), computed from
the common-neighbour sets of :func:`graphkit.ops.neighbor_sets` (no dense ``N x N``):

- common neighbours ``|N(u) & N(v)|``,
- Adamic-Adar ``sum_{w in N(u) & N(v)} 1 / log |N(w)|`` (Adamic & Adar, 2003),
- resource allocation ``sum_{w in N(u) & N(v)} 1 / |N(w)|`` (Zhou, Lu & Zhang, 2009).

``adj``'s rows are the neighbour lists (an undirected graph stores both directions); ``pairs`` is
``[2, P]`` (``edge_index`` style). A node's neighbour count treats its row as a set.
"""
from __future__ import annotations

from typing import Callable, Dict

import torch
from torch import Tensor

from ... import ops
from ...adj import Adj


def _check_pairs(adj: Adj, pairs: Tensor) -> Tensor:
    if not isinstance(pairs, Tensor) or pairs.dim() != 2 or pairs.shape[0] != 2:
        raise ValueError(f"pairs must be a [2, P] tensor of node ids, got "
                         f"{list(pairs.shape) if isinstance(pairs, Tensor) else type(pairs).__name__}")
    if pairs.numel() and (int(pairs.min()) < 0 or int(pairs.max()) >= adj.shape[0]):  # once per call, not per step
        raise ValueError(f"pairs contain node ids outside [0, {adj.shape[0]})")
    return pairs


def _neighbour_counts(adj: Adj) -> Tensor:
    """``[N]`` distinct neighbours per node (rows as sets)."""
    everyone = torch.arange(adj.shape[0], device=adj.device)
    return ops.neighbor_sets(adj, everyone, everyone).in_degree()


def common_neighbors(adj: Adj, pairs: Tensor) -> Tensor:
    """``[P]`` number of common neighbours of each pair (float)."""
    _check_pairs(adj, pairs)
    return ops.neighbor_sets(adj, pairs[0], pairs[1]).in_degree().to(torch.float64)


def _weighted(adj: Adj, pairs: Tensor, node_weight: Tensor) -> Tensor:
    sets = ops.neighbor_sets(adj, pairs[0], pairs[1])
    return ops.spmm(sets, node_weight.unsqueeze(1)).squeeze(1)


def adamic_adar(adj: Adj, pairs: Tensor) -> Tensor:
    """``[P]`` Adamic-Adar index. A common neighbour has at least two neighbours unless the pair
    is a node with itself or self-loops are stored; such degree-1 terms count 0, not infinity."""
    _check_pairs(adj, pairs)
    degree = _neighbour_counts(adj).to(torch.float64)
    weight = torch.where(degree > 1, 1.0 / degree.clamp(min=2).log(), torch.zeros_like(degree))
    return _weighted(adj, pairs, weight)


def resource_allocation(adj: Adj, pairs: Tensor) -> Tensor:
    """``[P]`` resource-allocation index."""
    _check_pairs(adj, pairs)
    degree = _neighbour_counts(adj).to(torch.float64)
    return _weighted(adj, pairs, torch.where(degree > 0, 1.0 / degree.clamp(min=1), torch.zeros_like(degree)))


HEURISTICS: Dict[str, Callable[[Adj, Tensor], Tensor]] = {
    "cn": common_neighbors, "aa": adamic_adar, "ra": resource_allocation}
