"""Random test graphs and a naive per-edge aggregation to check ops against."""
from __future__ import annotations

import torch


def random_graph(num_nodes: int, num_edges: int, seed: int, self_loops: bool = True, duplicates: bool = True):
    g = torch.Generator().manual_seed(seed)
    if num_edges == 0:
        return torch.empty(2, 0, dtype=torch.long)
    # Leave the last quarter of the nodes isolated so empty rows are always present.
    active = max(1, (3 * num_nodes) // 4)
    ei = torch.randint(0, active, (2, num_edges), generator=g)
    if self_loops:
        ei[:, : max(1, num_edges // 10)] = ei[0, : max(1, num_edges // 10)]
    if duplicates and num_edges >= 4:
        ei[:, -2:] = ei[:, :2]
    return ei


def naive_spmm(edge_index, x, reduce, weight, num_dst):
    out = torch.zeros((num_dst,) + tuple(x.shape[1:]), dtype=x.dtype)
    buckets = [[] for _ in range(num_dst)]
    for e in range(edge_index.size(1)):
        j, i = int(edge_index[0, e]), int(edge_index[1, e])
        w = 1.0 if weight is None else weight[e]
        if weight is not None and weight.dim() == 2:
            w = w.view(-1, *([1] * (x.dim() - 2)))
        buckets[i].append(w * x[j])
    for i, msgs in enumerate(buckets):
        if not msgs:
            continue
        stack = torch.stack(msgs)
        out[i] = {"sum": stack.sum(0), "mean": stack.mean(0), "max": stack.amax(0), "min": stack.amin(0)}[reduce]
    return out
