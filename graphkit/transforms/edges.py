"""Subsampling a sparse structure: each entry dropped at random (edge dropout), or at most
``k`` entries kept per row (neighbour sampling of a set), without a re-sort."""
from __future__ import annotations

from typing import Optional

import torch

from ..adj import Adj


def drop_edges(adj: Adj, p: float, training: bool) -> Adj:
    """``adj`` with each stored entry dropped with probability ``p`` while training."""
    if not training or p <= 0:
        return adj
    return adj.masked(torch.rand(adj.num_edges, device=adj.device) >= p)


def sample_rows(sets: Adj, max_per_row: Optional[int], generator: Optional[torch.Generator] = None) -> Adj:
    """At most ``max_per_row`` entries of each row of ``sets``, chosen uniformly (all when fewer);
    ``None`` keeps everything."""
    if max_per_row is not None and max_per_row < 0:
        raise ValueError(f"max_per_row must be >= 0 or None, got {max_per_row}")
    if max_per_row is None or sets.num_edges == 0:
        return sets
    counts = sets.in_degree()
    if int(counts.max()) <= max_per_row:
        return sets
    score = torch.rand(sets.num_edges, generator=generator, device=sets.device, dtype=torch.float64)
    row = sets.row
    order = torch.argsort(row.double() * 2.0 + score, stable=True)  # rows in order, random inside
    rank = torch.arange(sets.num_edges, device=sets.device) - sets.rowptr[row]
    keep = torch.zeros(sets.num_edges, dtype=torch.bool, device=sets.device)
    keep[order[rank < max_per_row]] = True
    kept = keep.nonzero().view(-1)  # CSR order, ids ascending within rows
    new_counts = counts.clamp(max=max_per_row)
    rowptr = torch.zeros(sets.shape[0] + 1, dtype=torch.long, device=sets.device)
    torch.cumsum(new_counts, 0, out=rowptr[1:])
    return Adj.trusted(rowptr, sets.col[kept], None, sets.shape)
