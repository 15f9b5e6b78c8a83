"""Mini-batches with sampled neighbourhoods (GraphSAGE's minibatch training, Hamilton et al. 2017,
Algorithm 2; DGL's message-flow graphs): each batch holds one block per layer, input layer first,
drawn by :func:`graphkit.ops.sample_neighbors`: seed nodes (:class:`NeighborLoader`), or node
pairs and their negatives (:class:`LinkNeighborLoader`)."""
from __future__ import annotations

from typing import Iterator, Optional, Sequence, Union

import torch
from torch import Tensor

from .. import ops
from ..adj import Adj, to_adj
from ..utils.checksum import PHI, mix64
from .batch import Batch


def _node_ids(nodes: Union[Tensor, Sequence[int], None], num_nodes: int) -> Tensor:
    """``input_nodes`` (ids, or a bool mask ``[N]``; ``None``: every node) as distinct int64 ids."""
    if nodes is None:
        return torch.arange(num_nodes)
    nodes = torch.as_tensor(nodes)
    if nodes.dtype == torch.bool:
        if nodes.dim() != 1 or nodes.numel() != num_nodes:
            raise ValueError(f"a bool input_nodes mask must have shape [{num_nodes}], got {list(nodes.shape)}")
        return nodes.nonzero().view(-1)
    if nodes.is_floating_point() or nodes.is_complex() or nodes.dim() != 1:
        raise TypeError(f"input_nodes must be node ids (1-D ints) or a bool mask, got {nodes.dtype} "
                        f"{list(nodes.shape)}")
    nodes = nodes.long()
    if nodes.numel() and (int(nodes.min()) < 0 or int(nodes.max()) >= num_nodes):
        raise ValueError(f"input_nodes must lie in [0, {num_nodes}), got {int(nodes.min())} .. {int(nodes.max())}")
    if nodes.unique().numel() != nodes.numel():
        raise ValueError("input_nodes holds a node twice")
    return nodes


def check_fanouts(fanouts) -> list:
    """``fanouts`` as a list of ints, each positive or ``-1``, or a clear error."""
    if isinstance(fanouts, (int, str)) or not hasattr(fanouts, "__len__") or not len(fanouts):
        raise ValueError(f"fanouts must be a non-empty list of ints (neighbours per hop), got {fanouts!r}")
    if any(isinstance(f, bool) or not isinstance(f, int) or f == 0 or f < -1 for f in fanouts):
        raise ValueError(f"every fanout must be a positive int or -1 (all neighbours), got {list(fanouts)}")
    return [int(f) for f in fanouts]


class _SampledLoader:
    """What the sampled loaders share: the graph, the fanouts, one draw from torch's global
    generator per pass (the pass's order and sampling seed, so a run seeded by the engine, and one
    resumed from its checkpoint, sees the same batches whatever ``num_workers``), a seed per batch
    (workers need no coordination), the worker processes, and in a distributed run
    (``torch.distributed`` initialised) this rank's shard of each pass: every rank draws the same
    order, pads it by wrapping around to a multiple of the world size (as PyTorch's
    ``DistributedSampler``) and takes every ``world_size``-th item from its rank on, so every rank
    has as many batches and none waits for another at the gradients' all-reduce."""

    def _setup(self, adj: Adj, fanouts: Sequence[int], batch_size: int, x: Optional[Tensor], replace: bool,
               weighted: bool, num_workers: int, seed: int) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        fanouts = check_fanouts(fanouts)
        if adj.shape[0] != adj.shape[1]:
            raise ValueError(f"neighbour sampling needs a square graph, got {adj.shape}")
        if x is not None and (not isinstance(x, Tensor) or x.size(0) != adj.shape[0]):
            got = list(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"x must be a tensor with one row per node ({adj.shape[0]}), got {got}")
        if weighted and adj.value is None:
            raise ValueError("weighted sampling needs edge weights (data.edge_weight, or an Adj with values)")
        self.adj, self.x = adj, x
        self.fanouts, self.batch_size = fanouts, batch_size
        self.replace, self.weighted = bool(replace), bool(weighted)
        self.num_workers, self.seed, self._pass_seed = num_workers, int(seed), 0
        self.progress = False
        dist = torch.distributed
        self.rank, self.world_size = ((dist.get_rank(), dist.get_world_size())
                                      if dist.is_available() and dist.is_initialized() else (0, 1))

    def _shard(self, order: Tensor) -> Tensor:
        """This rank's share of a pass's ``order`` (all of it outside a distributed run)."""
        if self.world_size == 1:
            return order
        padded = -(-order.numel() // self.world_size) * self.world_size
        return order[torch.arange(padded) % order.numel()][self.rank::self.world_size]

    def _share(self, count: int) -> int:
        """How many of a pass's ``count`` items this rank takes (the padded share)."""
        return -(-count // self.world_size)

    def _blocks(self, seeds: Tensor, b: int):
        """``(blocks, n_id, x of n_id)`` of batch ``b``'s seed nodes."""
        index = b * self.world_size + self.rank + 1  # the batch's number among all ranks' batches of the pass
        blocks = ops.sample_neighbors(self.adj, seeds, self.fanouts, self.replace, self.weighted,
                                      int(mix64(torch.tensor(index) * PHI + self._pass_seed)))
        n_id = blocks[0][1]
        return [block for block, _, _ in blocks], n_id, None if self.x is None else self.x.index_select(0, n_id)

    def _new_pass(self) -> None:
        """Draw what the pass needs from torch's global generator (after the pass's seed)."""

    def __iter__(self) -> Iterator[Batch]:
        draw = int(torch.randint(0, 2 ** 62, ()))  # the pass's number, from the global generator
        self._pass_seed = (self.seed * 0x9E3779B1 + draw) % 2 ** 62
        self._new_pass()
        if self.num_workers == 0:
            batches = (self[b] for b in range(len(self)))
        else:
            from torch.utils.data import DataLoader
            batches = iter(DataLoader(_Batches(self), batch_size=None, num_workers=self.num_workers,
                                      collate_fn=_identity, prefetch_factor=4))
        return self._with_progress(batches) if self.progress else batches

    def _with_progress(self, batches: Iterator[Batch]) -> Iterator[Batch]:
        """The pass's batches under a progress bar of batches/s and sampled edges/s (the rate at which
        the training loop consumes them, sampling included)."""
        import time

        from tqdm.auto import tqdm
        start, edges = time.perf_counter(), 0
        with tqdm(total=len(self), desc=type(self).__name__, unit="batch", leave=False) as bar:
            for batch in batches:
                edges += sum(block.num_edges for block in batch.adj)
                bar.set_postfix(edges_per_s=f"{edges / max(time.perf_counter() - start, 1e-9):,.0f}", refresh=False)
                bar.update()
                yield batch


class NeighborLoader(_SampledLoader):
    """Batches of ``batch_size`` seed nodes, each with ``len(fanouts)`` hops of sampled
    in-neighbours: a :class:`Batch` whose ``adj`` is the list of blocks (input layer first; block
    ``l`` is an :class:`~graphkit.Adj` ``(num_dst_l, num_src_l)`` whose first ``num_dst_l``
    sources are its targets), ``x`` the features of the input layer's sources ``[num_src_0, F]``,
    ``n_id`` their global ids, ``y`` the seeds' targets ``[B]``. A model built from graphkit's
    layers (:class:`~graphkit.nn.models.BasicGNN`) takes the block list where it takes a graph and
    returns ``[B, C]``, one row per seed.

    Args:
        data: a PyG ``Data`` (``edge_index``, ``x``, optionally ``y`` and ``edge_weight``), or an
            :class:`~graphkit.Adj` with ``x``/``y`` given separately.
        fanouts: neighbours drawn per node at each hop, from the seeds outwards (``-1``: all), as
            PyG's ``num_neighbors``.
        batch_size: seeds per batch.
        shuffle: a new order of the seeds every pass.
        input_nodes: the seeds (ids or a bool mask; default every node).
        x, y: features and targets when ``data`` is an ``Adj`` (override ``data``'s otherwise).
        replace, weighted: as :func:`graphkit.ops.sample_neighbors` (``weighted`` draws in proportion
            to the graph's edge weights).
        drop_last: drop a last batch smaller than ``batch_size``.
        num_workers: worker processes that sample and gather batches ahead of the training step
            (``torch.utils.data.DataLoader``'s); ``0`` samples in this process.
        seed: the base seed of the draws.
        progress: a progress bar over each pass's batches, with batches/s and sampled edges/s.

    Every pass draws one number from torch's global generator (the shuffle and the pass's sampling
    seed): a run seeded by the engine, and resumed from its checkpoint, sees the batches an
    uninterrupted run would, whatever ``num_workers``; batch ``b`` of a pass is sampled with its
    own seed, so workers need no coordination.
    """

    def __init__(self, data, fanouts: Sequence[int], batch_size: int, shuffle: bool = False,
                 input_nodes: Union[Tensor, Sequence[int], None] = None, x: Optional[Tensor] = None,
                 y: Optional[Tensor] = None, replace: bool = False, weighted: bool = False, drop_last: bool = False,
                 num_workers: int = 0, seed: int = 0, progress: bool = False):
        if isinstance(data, Adj):
            adj = data
        else:
            weight = getattr(data, "edge_weight", None) if weighted else None
            adj = to_adj(data.edge_index, data.num_nodes, edge_weight=weight)
            x = getattr(data, "x", None) if x is None else x
            y = getattr(data, "y", None) if y is None else y
        self._setup(adj, fanouts, batch_size, x, replace, weighted, num_workers, seed)
        if y is not None and (not isinstance(y, Tensor) or y.size(0) != adj.shape[0]):
            got = list(y.shape) if isinstance(y, Tensor) else type(y).__name__
            raise ValueError(f"y must be a tensor with one row per node ({adj.shape[0]}), got {got}")
        self.y, self.shuffle, self.drop_last, self.progress = y, shuffle, drop_last, progress
        self.input_nodes = _node_ids(input_nodes, adj.shape[0])
        if self.input_nodes.numel() == 0:
            raise ValueError("the loader has no seed nodes (input_nodes is empty)")
        self._order = self.input_nodes

    def __len__(self) -> int:
        full, rest = divmod(self._share(self.input_nodes.numel()), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def _new_pass(self) -> None:
        order = self.input_nodes[torch.randperm(self.input_nodes.numel())] if self.shuffle else self.input_nodes
        self._order = self._shard(order)

    def __getitem__(self, b: int) -> Batch:  # batch b of the current pass (what the workers call)
        seeds = self._order[b * self.batch_size:(b + 1) * self.batch_size]
        blocks, n_id, x = self._blocks(seeds, b)
        return Batch(blocks, x=x, y=None if self.y is None else self.y.index_select(0, seeds), n_id=n_id)


class LinkNeighborLoader(_SampledLoader):
    """Batches of ``batch_size`` training edges with as many negatives, each batch with the sampled
    neighbourhoods of its pairs' endpoints (PyG's ``LinkNeighborLoader``): a :class:`Batch` whose
    ``adj`` is the block list of the distinct endpoints (in ascending id order; they are the last
    block's targets), ``x`` and ``n_id`` those of the input layer's sources, and ``pos`` ``[2, B]``,
    ``neg`` ``[2, B]`` the pairs as positions among the endpoints, so that an encoder's output
    ``h`` (one row per endpoint) scores them as it would score global ids on the full graph.

    Args:
        adj: the training graph (both directions of every training edge).
        edges: ``[2, E]`` the training edges (one direction each).
        fanouts, batch_size, x, replace, weighted, num_workers, seed, progress: as :class:`NeighborLoader`.
        shuffle: a new order of the edges every pass.

    Every pass draws one negative per training edge (PyG's ``negative_sampling`` over ``adj``'s
    edges), as the full-graph :class:`~graphkit.loader.EdgeBatchLoader` does.
    """

    def __init__(self, adj: Adj, edges: Tensor, fanouts: Sequence[int], batch_size: int, x: Optional[Tensor] = None,
                 shuffle: bool = True, replace: bool = False, weighted: bool = False, num_workers: int = 0,
                 seed: int = 0, progress: bool = False):
        self._setup(adj, fanouts, batch_size, x, replace, weighted, num_workers, seed)
        self.progress = progress
        if not isinstance(edges, Tensor) or edges.dim() != 2 or edges.shape[0] != 2 or edges.shape[1] == 0:
            raise ValueError(f"edges must be a non-empty [2, E] tensor of node ids, got "
                             f"{list(edges.shape) if isinstance(edges, Tensor) else type(edges).__name__}")
        if int(edges.min()) < 0 or int(edges.max()) >= adj.shape[0]:
            raise ValueError(f"edges must hold node ids in [0, {adj.shape[0]}), got {int(edges.min())} .. "
                             f"{int(edges.max())}")
        self.edges, self.shuffle = edges.long(), shuffle
        self._order, self._negatives = torch.arange(edges.shape[1]), None

    def __len__(self) -> int:
        return -(-self._share(self.edges.shape[1]) // self.batch_size)

    def _new_pass(self) -> None:
        from torch_geometric.utils import negative_sampling
        row, col = self.adj.col, self.adj.row  # the graph's edges, source -> target
        self._negatives = negative_sampling(torch.stack([row, col]), self.adj.shape[0],
                                            num_neg_samples=self.edges.shape[1])
        count = self.edges.shape[1]
        self._order = self._shard(torch.randperm(count) if self.shuffle else torch.arange(count))

    def __getitem__(self, b: int) -> Batch:
        chunk = self._order[b * self.batch_size:(b + 1) * self.batch_size]
        pos = self.edges[:, chunk]
        neg = self._negatives[:, chunk[chunk < self._negatives.shape[1]]]
        seeds, local = torch.unique(torch.cat([pos, neg], dim=1), return_inverse=True)  # local: [2, P + Q]
        blocks, n_id, x = self._blocks(seeds, b)
        return Batch(blocks, x=x, pos=local[:, :pos.shape[1]], neg=local[:, pos.shape[1]:], n_id=n_id)


class _Batches(torch.utils.data.Dataset):
    """The loader's batches of the current pass as a dataset (what each worker indexes)."""

    def __init__(self, loader: NeighborLoader):
        self.loader = loader

    def __len__(self) -> int:
        return len(self.loader)

    def __getitem__(self, b: int) -> Batch:
        return self.loader[b]


def _identity(batch):
    return batch
