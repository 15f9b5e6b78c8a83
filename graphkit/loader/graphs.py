"""Mini-batches of many small graphs (graph classification and regression).

:class:`GraphStore` holds a dataset's graphs concatenated once, each graph's edges in CSR order
(sorted by target, then source, so that every graph is a block of rows of one CSR). A batch of
graphs is then built by slicing, in O(nodes + edges) of the batch and a handful of vectorised torch
calls: its block-diagonal :class:`~graphkit.adj.Adj` is the concatenation of the chosen graphs'
CSR blocks, columns shifted by each graph's offset, with no sort; ``x``, ``edge_attr`` and ``y``
are gathered the same way. PyG's ``DataLoader`` instead builds a ``Data`` object per graph and
collates them key by key, every batch.

:class:`GraphLoader` iterates over such batches (shuffled by torch's global generator, which the
run's seed sets) and yields :class:`~graphkit.loader.Batch` objects whose ``batch`` vector gives
each node's graph. A PyG ``Batch`` (from PyG's own ``DataLoader``) becomes the same :class:`~graphkit.loader.Batch` with
:func:`from_pyg`.
"""
from __future__ import annotations

from typing import Iterator, List, Optional, Sequence, Union

import torch
from torch import Tensor

from .. import ops
from ..adj import Adj, check_edge_index, mark_graph_count
from .batch import Batch


def _graphs(dataset) -> List:
    if isinstance(dataset, GraphStore):
        raise TypeError("already a GraphStore")
    try:
        count = len(dataset)
    except TypeError:
        raise TypeError(f"a graph dataset must be a sequence of PyG Data objects (a PyG dataset or a list), "
                        f"got {type(dataset).__name__}") from None
    if count == 0:
        raise ValueError("the graph dataset is empty")
    return [dataset[i] for i in range(count)]


def _width(t: Optional[Tensor]) -> Optional[tuple]:
    return None if t is None else tuple(t.shape[1:])


class GraphStore:
    """A dataset's graphs, concatenated once, each graph's edges in CSR (target-major) order.

    Args:
        dataset: a PyG dataset (``TUDataset``, ``PygGraphPropPredDataset``, an ``InMemoryDataset``
            with its ``transform`` applied per graph) or any sequence of PyG ``Data`` with
            ``edge_index`` and, where present, ``x`` ``[n, F]``, ``edge_attr`` ``[e, D]`` and ``y``
            (one target per graph: a scalar, ``[1]`` or ``[1, T]``).

    Every graph must have the same keys and feature widths; a ``ValueError`` names the first graph
    that differs. Attributes: ``x`` ``[N, *F]``, ``col`` ``[E]`` (the source of each entry, local
    to its graph), ``edge_attr`` ``[E, *D]`` (CSR order), ``in_degree`` ``[N]``, ``y`` ``[G, ...]``,
    ``node_ptr``/``edge_ptr`` ``[G + 1]``.
    """

    def __init__(self, dataset):
        graphs = _graphs(dataset)
        first = graphs[0]
        has = {k: getattr(first, k, None) is not None for k in ("x", "edge_attr", "y")}
        widths = {k: _width(getattr(first, k, None)) for k in ("x", "edge_attr")}
        dtypes = {k: getattr(first, k).dtype for k in ("x", "edge_attr", "y") if has[k]}
        xs, srcs, dsts, attrs, ys, nodes, edges = [], [], [], [], [], [], []
        for i, g in enumerate(graphs):
            for key in ("x", "edge_attr", "y"):
                value = getattr(g, key, None)
                if (value is not None) != has[key]:
                    raise ValueError(f"graph {i} {'has' if value is not None else 'has no'} {key} but graph 0 "
                                     f"{'has' if has[key] else 'has none'}: every graph of a dataset needs the "
                                     "same keys")
                if value is not None and value.dtype != dtypes[key]:
                    raise ValueError(f"graph {i} has {key} of dtype {value.dtype} but graph 0 {dtypes[key]}")
            for key in ("x", "edge_attr"):
                if has[key] and _width(getattr(g, key)) != widths[key]:
                    raise ValueError(f"graph {i} has {key} of width {list(_width(getattr(g, key)))} but graph 0 "
                                     f"{list(widths[key])}: the graphs of a dataset must share their feature widths")
            n = g.num_nodes
            if n is None:
                raise ValueError(f"graph {i} has neither x nor num_nodes")
            e = g.edge_index.size(1)
            if n > 0:
                check_edge_index(g.edge_index, n)
            elif e > 0:
                raise ValueError(f"graph {i} has {e} edges but no nodes")
            if has["x"] and g.x.size(0) != n:
                raise ValueError(f"graph {i}: x has {g.x.size(0)} rows but the graph has {n} nodes")
            if has["edge_attr"] and g.edge_attr.size(0) != e:
                raise ValueError(f"graph {i}: edge_attr has {g.edge_attr.size(0)} rows but edge_index {e} edges")
            if has["y"]:
                y = g.y
                if not (y.numel() == 1 or (y.dim() == 2 and y.size(0) == 1)):
                    raise ValueError(f"graph {i}: y must hold the graph's target (a scalar, [1] or [1, T]), got "
                                     f"shape {list(y.shape)}" + (" (node labels?)" if y.size(0) == n else ""))
                ys.append(y.reshape(1, -1))
            nodes.append(n)
            edges.append(e)
            srcs.append(g.edge_index[0])
            dsts.append(g.edge_index[1])
            if has["x"]:
                xs.append(g.x)
            if has["edge_attr"]:
                attrs.append(g.edge_attr)
        self.num_graphs = len(graphs)
        self.node_ptr = torch.tensor([0] + nodes).cumsum(0)  # [G + 1] where each graph's nodes start
        self.edge_ptr = torch.tensor([0] + edges).cumsum(0)
        edge_graph = torch.repeat_interleave(torch.arange(self.num_graphs), torch.tensor(edges))
        offset = self.node_ptr[:-1][edge_graph]
        src, dst = torch.cat(srcs).long() + offset, torch.cat(dsts).long() + offset
        total = int(self.node_ptr[-1])
        perm = torch.argsort(dst * max(total, 1) + src, stable=True)  # once: every graph's CSR order
        self.col = src[perm] - offset  # offsets are per graph, and the sort keeps graphs in order
        self.in_degree = torch.bincount(dst, minlength=total)
        self.x = torch.cat(xs) if has["x"] else None
        self.edge_attr = torch.cat(attrs)[perm] if has["edge_attr"] else None
        if has["y"] and len({t.size(1) for t in ys}) > 1:
            widths = [t.size(1) for t in ys]
            odd = next(k for k, w in enumerate(widths) if w != widths[0])
            raise ValueError(f"graph {odd} has {widths[odd]} targets but graph 0 has {widths[0]}")
        y = torch.cat(ys) if has["y"] else None
        self.y = y.view(-1) if y is not None and y.size(1) == 1 and first.y.dim() <= 1 else y
        self.num_node_features = 0 if self.x is None else (self.x.size(1) if self.x.dim() > 1 else 1)
        if self.num_node_features == 0:  # PyG's TUDataset gives graphs without features an [n, 0] x
            self.x = None

    def __len__(self) -> int:
        return self.num_graphs

    def batch(self, index: Tensor) -> Batch:
        """The graphs ``index`` ``[B]`` (in that order) as one :class:`Batch`: block-diagonal ``adj``,
        ``x`` ``[N_b, F]``, ``edge_attr`` in the ``adj``'s CSR order (``adj.perm`` is ``None``),
        ``y`` ``[B, ...]``, ``batch`` ``[N_b]`` and ``num_graphs`` (:func:`graphkit.ops.batch_graphs`)."""
        index = torch.as_tensor(index, dtype=torch.long)
        rowptr, col, node_index, edge_index, graph, graph_ptr = ops.batch_graphs(
            self.node_ptr, self.edge_ptr, self.in_degree, self.col, index)
        num_nodes = graph.numel()
        mark_graph_count(graph, index.numel(), graph_ptr)
        return Batch(Adj.trusted(rowptr, col, None, (num_nodes, num_nodes)),
                     x=None if self.x is None else self.x.index_select(0, node_index),
                     y=None if self.y is None else self.y.index_select(0, index), batch=graph,
                     num_graphs=index.numel(),
                     edge_attr=None if self.edge_attr is None else self.edge_attr.index_select(0, edge_index))


class GraphLoader:
    """Batches of ``batch_size`` graphs of a :class:`GraphStore` (or a dataset, stored once).

    Args:
        store: a :class:`GraphStore`, or a dataset to store.
        index: the graphs this loader covers (a split), default all.
        batch_size: graphs per batch.
        shuffle: a new order every pass, drawn from torch's global generator (which the run's seed
            sets and a checkpoint restores, so a resumed run sees the batches an uninterrupted one
            would).
        drop_last: drop the last incomplete batch.
    """

    def __init__(self, store: Union[GraphStore, Sequence], index: Optional[Tensor] = None, batch_size: int = 32,
                 shuffle: bool = False, drop_last: bool = False):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        self.store = store if isinstance(store, GraphStore) else GraphStore(store)
        if index is None:
            index = torch.arange(len(self.store))
        index = torch.as_tensor(index)
        if index.dtype == torch.bool:
            raise TypeError("index must hold graph ids (int), not a bool mask")
        index = index.long().view(-1)
        if index.numel() == 0:
            raise ValueError("the loader covers no graph (empty index)")
        if int(index.min()) < 0 or int(index.max()) >= len(self.store):
            raise ValueError(f"graph ids must lie in [0, {len(self.store)}), got "
                             f"{int(index.min())} .. {int(index.max())}")
        self.index, self.batch_size, self.shuffle, self.drop_last = index, batch_size, shuffle, drop_last

    def __len__(self) -> int:
        full, rest = divmod(self.index.numel(), self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[Batch]:
        order = self.index[torch.randperm(self.index.numel())] if self.shuffle else self.index
        for start in range(0, order.numel(), self.batch_size):
            chunk = order[start:start + self.batch_size]
            if self.drop_last and chunk.numel() < self.batch_size:
                return
            yield self.store.batch(chunk)


def from_pyg(data) -> Batch:
    """A PyG ``Batch`` (or one ``Data``) as a :class:`Batch`: its ``edge_index`` becomes an
    :class:`~graphkit.adj.Adj` (``edge_attr`` stays in ``edge_index`` order; the layers permute it
    with ``adj.perm``)."""
    num_graphs = int(getattr(data, "num_graphs", 1) or 1)
    graph = getattr(data, "batch", None)
    if graph is None:
        graph = torch.zeros(data.num_nodes, dtype=torch.long, device=data.edge_index.device)
    mark_graph_count(graph, num_graphs)
    return Batch(Adj.from_edge_index(data.edge_index, data.num_nodes), x=getattr(data, "x", None),
                 y=getattr(data, "y", None), batch=graph, num_graphs=num_graphs,
                 edge_attr=getattr(data, "edge_attr", None))
