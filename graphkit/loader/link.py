"""Loaders of node pairs for link prediction: mini-batches of training edges with negatives drawn
by PyG's ``negative_sampling`` (the batch's own edges optionally removed from the graph its
forward pass sees, NCN's protocol), and the evaluation pairs of a split."""
from __future__ import annotations

from typing import Iterator, Optional

import torch
from torch import Tensor

from ..adj import Adj
from .batch import Batch


class TrainGraph:
    """The training graph (both directions of every train edge ``[2, E]``) and, for target-edge
    removal, the same graph without some of its edges, built by a mask over its CSR entries (no sort)."""

    def __init__(self, train: Tensor, num_nodes: int):
        self.both = torch.cat([train, train.flip(0)], dim=1)  # [2, 2E]: edge e and its reverse at e + E
        self.adj = Adj.from_edge_index(self.both, num_nodes)
        self.position = torch.empty_like(self.adj.perm)
        self.position[self.adj.perm] = torch.arange(self.both.shape[1])  # input edge -> CSR entry
        self.num_train = train.shape[1]

    def without(self, edges: Tensor) -> Adj:
        """The graph without train edges ``edges`` ``[B]`` (indices into ``train``), both directions."""
        keep = torch.ones(self.adj.num_edges, dtype=torch.bool)
        keep[self.position[edges]] = False
        keep[self.position[edges + self.num_train]] = False
        return self.adj.masked(keep)


class EdgeBatchLoader:
    """Each pass: one negative per training edge (PyG's ``negative_sampling`` over the graph),
    a random permutation of the training edges, then batches of ``batch_size`` edges with as
    many negatives.

    Args:
        train: ``[2, E]`` training edges, one direction each.
        num_nodes: nodes of the graph.
        batch_size: edges per batch.
        x: ``[N, F]`` node features, or ``None``.
        remove_targets: remove a batch's edges from the graph its forward pass sees.
    """

    def __init__(self, train: Tensor, num_nodes: int, batch_size: int, x: Optional[Tensor] = None,
                 remove_targets: bool = False):
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        self.train, self.num_nodes, self.batch_size, self.x = train, num_nodes, batch_size, x
        self.remove_targets = remove_targets
        self.graph = TrainGraph(train, num_nodes)

    def __iter__(self) -> Iterator[Batch]:
        from torch_geometric.utils import negative_sampling
        negatives = negative_sampling(self.graph.both, self.num_nodes, num_neg_samples=self.train.shape[1])
        perm = torch.randperm(self.train.shape[1])
        for start in range(0, perm.numel(), self.batch_size):
            edges = perm[start:start + self.batch_size]
            adj = self.graph.without(edges) if self.remove_targets else self.graph.adj
            yield Batch(adj, x=self.x, pos=self.train[:, edges], neg=negatives[:, edges[edges < negatives.shape[1]]])

    def __len__(self) -> int:
        return -(-self.train.shape[1] // self.batch_size)


def pair_loader(adj: Adj, pos: Tensor, neg: Tensor, x: Optional[Tensor] = None):
    """The evaluation pairs of one split part as a loader of one batch."""
    from .full import FullGraphLoader
    return FullGraphLoader(Batch(adj, x=x, pos=pos, neg=neg))
