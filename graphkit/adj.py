"""The sparse structure every layer runs on: :class:`Adj`.

An ``Adj`` holds a graph as a compressed sparse row (CSR) matrix of shape
``(num_dst, num_src)``: row ``i`` lists the *sources* ``j`` of the edges ``j -> i``,
so that aggregating messages at the targets is a row-wise reduction
(``out[i] = reduce_j A[i, j] * x[j]``). This is PyG's ``edge_index`` convention
(``edge_index[0]`` = source, ``edge_index[1]`` = target, flow source-to-target).

It is built once, in O(E log E), and caches what layers ask for repeatedly:
the transpose (CSC, for backward passes), expanded row indices, degrees, int32
copies of the index arrays and the GCN normalisation.
"""
from __future__ import annotations

import weakref
from typing import Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

__all__ = ["Adj", "to_adj", "check_edge_index", "check_features"]

_INDEX_DTYPES = (torch.int32, torch.int64)


def check_edge_index(edge_index: Tensor, num_nodes: Optional[int] = None, num_dst: Optional[int] = None) -> int:
    """Validate a PyG ``edge_index`` and return the number of (source) nodes.

    For a bipartite graph, ``num_dst`` bounds the targets (row 1) and ``num_nodes`` the sources.

    Raises ``ValueError``/``TypeError`` naming the problem: not a tensor, not of shape
    ``[2, E]``, not an integer dtype, negative or out-of-range ids, or an empty graph
    whose node count cannot be inferred.
    """
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"edge_index must be a torch.Tensor of shape [2, E], got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}")
    if edge_index.dtype not in _INDEX_DTYPES:
        raise TypeError(f"edge_index must hold integer node ids (int64 or int32), got dtype {edge_index.dtype}")
    num_edges = edge_index.size(1)
    if num_edges > 0:
        checked = edge_index if num_dst is None else edge_index[0]
        lo, hi = int(edge_index.min()), int(checked.max())
        if lo < 0:
            raise ValueError(f"edge_index contains negative node id {lo}; node ids must lie in [0, num_nodes)")
    if num_nodes is None:
        if num_edges == 0:
            raise ValueError("empty graph: edge_index has no edges, so the number of nodes cannot be inferred; "
                             "pass num_nodes")
        num_nodes = hi + 1
    num_nodes = int(num_nodes)
    if num_nodes <= 0:
        raise ValueError(f"empty graph: num_nodes must be positive, got {num_nodes}")
    if num_edges > 0 and hi >= num_nodes:
        raise ValueError(f"edge_index contains node id {hi}, out of range for num_nodes={num_nodes} "
                         f"(ids must lie in [0, {num_nodes}))")
    if num_edges > 0 and num_dst is not None and int(edge_index[1].max()) >= num_dst:
        raise ValueError(f"edge_index contains target id {int(edge_index[1].max())}, out of range for "
                         f"num_dst={num_dst}")
    return num_nodes


def check_features(x: Tensor, num_nodes: Optional[int] = None, name: str = "x") -> Tensor:
    """Validate a node feature matrix ``[N, F]``: floating dtype, finite, right row count."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {x.dtype}")
    if x.dim() < 2:
        raise ValueError(f"{name} must have shape [num_nodes, num_features], got {list(x.shape)}")
    if x.size(0) == 0:
        raise ValueError(f"empty graph: {name} has no rows (0 nodes)")
    if num_nodes is not None and x.size(0) != num_nodes:
        raise ValueError(f"{name} has {x.size(0)} rows but the graph has {num_nodes} nodes")
    if not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):  # sum: one cheap pass
        bad = int((~torch.isfinite(x)).any(dim=tuple(range(1, x.dim()))).nonzero()[0])
        kind = "NaN" if bool(torch.isnan(x).any()) else "infinite"
        raise ValueError(f"{name} contains {kind} values (first bad row: node {bad})")
    return x


class Adj:
    """A CSR sparse adjacency of shape ``(num_dst, num_src)`` with cached derived structure.

    Attributes:
        rowptr: ``[num_dst + 1]`` int64 row pointers.
        col: ``[E]`` int64 source node of each stored entry, sorted within rows. A graph built
            from int32 columns keeps them as they are (the native kernels read int32, so a large
            graph from scipy never holds an int64 copy); ``col`` makes the int64 one on first use.
        value: ``[E]`` optional edge weights in CSR order (``None`` = all ones).
        perm: ``[E]`` position in the input edge list of each CSR entry (for permuting
            edge attributes given in ``edge_index`` order), or ``None`` when built from CSR.
    """

    __slots__ = ("rowptr", "_col", "value", "perm", "shape", "_cache", "__weakref__")

    def __init__(self, rowptr: Tensor, col: Tensor, value: Optional[Tensor] = None,
                 shape: Optional[Tuple[int, int]] = None, perm: Optional[Tensor] = None):
        num_dst = rowptr.numel() - 1
        num_src = shape[1] if shape is not None else num_dst
        if shape is not None and shape[0] != num_dst:
            raise ValueError(f"rowptr has {num_dst + 1} entries but shape[0] is {shape[0]}")
        if value is not None and value.shape[0] != col.numel():
            raise ValueError(f"value has {value.shape[0]} entries but the graph has {col.numel()} edges")
        self.rowptr = rowptr.long()
        self._col = col if col.dtype == torch.int32 else col.long()
        self.value = value
        self.perm = perm
        self.shape = (int(num_dst), int(num_src))
        self._cache: dict = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: Optional[int] = None,
                        edge_weight: Optional[Tensor] = None,
                        num_dst: Optional[int] = None) -> "Adj":
        """Build from a PyG ``edge_index`` ``[2, E]`` (row 0 = source, row 1 = target).

        ``num_nodes`` is the number of nodes (inferred as ``max id + 1`` when omitted);
        ``num_dst`` may be given for bipartite graphs. ``edge_weight`` ``[E]`` is stored in
        CSR order. Duplicate edges and self-loops are kept as they are.
        """
        num_nodes = check_edge_index(edge_index, num_nodes, num_dst)
        num_src = num_nodes
        num_dst = num_nodes if num_dst is None else int(num_dst)
        if edge_weight is not None:
            _check_edge_weight(edge_weight, edge_index.size(1))
        src, dst = edge_index[0].long(), edge_index[1].long()
        key = dst * num_src + src
        perm = torch.argsort(key, stable=True)
        counts = torch.bincount(dst, minlength=num_dst)
        rowptr = torch.zeros(num_dst + 1, dtype=torch.long, device=edge_index.device)
        torch.cumsum(counts, 0, out=rowptr[1:])
        value = None if edge_weight is None else edge_weight[perm]
        adj = cls(rowptr, src[perm], value, (num_dst, num_src), perm)
        adj._cache["row"] = dst[perm]
        return adj

    @classmethod
    def from_scipy(cls, matrix: sp.spmatrix) -> "Adj":
        """Build from a scipy sparse matrix ``A`` where ``A[u, v] != 0`` is an edge ``u -> v``.

        Values become edge weights unless they are all ones.
        """
        coo = sp.coo_matrix(matrix)
        if coo.shape[0] != coo.shape[1]:
            raise ValueError(f"adjacency matrix must be square, got shape {coo.shape}")
        edge_index = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
        weight = torch.from_numpy(np.asarray(coo.data, dtype=np.float32))
        weight = None if bool((weight == 1).all()) else weight
        return cls.from_edge_index(edge_index, coo.shape[0], weight)

    @classmethod
    def from_networkx(cls, graph, weight: Optional[str] = None) -> "Adj":
        """Build from a networkx graph; nodes are numbered in ``graph.nodes`` order.

        Undirected graphs get both directions of every edge.
        """
        import networkx as nx
        matrix = nx.to_scipy_sparse_array(graph, weight=weight, format="coo")
        return cls.from_scipy(sp.coo_matrix(matrix))

    # ------------------------------------------------------------------ basic properties
    @property
    def col(self) -> Tensor:
        """``[E]`` int64 source node of each stored entry."""
        if self._col.dtype == torch.int64:
            return self._col
        return self._cached("col64", self._col.long)

    @property
    def num_edges(self) -> int:
        return self._col.numel()

    @property
    def num_nodes(self) -> int:
        """Number of target nodes (rows); equals the source count for square graphs."""
        return self.shape[0]

    @property
    def device(self) -> torch.device:
        return self.rowptr.device

    def __repr__(self) -> str:
        weighted = "weighted" if self.value is not None else "unweighted"
        return f"Adj(shape={self.shape}, num_edges={self.num_edges}, {weighted})"

    def _cached(self, key, build):
        out = self._cache.get(key)
        if out is None:
            out = self._cache[key] = build()
        return out

    @property
    def row(self) -> Tensor:
        """``[E]`` target node of each CSR entry (rowptr expanded)."""
        return self._cached("row", lambda: torch.repeat_interleave(
            torch.arange(self.shape[0], device=self.device), self.in_degree()))

    def in_degree(self) -> Tensor:
        """``[num_dst]`` number of stored entries per row (incoming edges), int64."""
        return self._cached("in_degree", lambda: self.rowptr[1:] - self.rowptr[:-1])

    def out_degree(self) -> Tensor:
        """``[num_src]`` number of stored entries per column (outgoing edges), int64."""
        return self._cached("out_degree", lambda: torch.bincount(self.col, minlength=self.shape[1]))

    def weighted_in_degree(self, dtype: torch.dtype = torch.float32) -> Tensor:
        """``[num_dst]`` row sums of the values (in-degree when unweighted)."""
        if self.value is None:
            return self.in_degree().to(dtype)
        out = torch.zeros(self.shape[0], dtype=self.value.dtype, device=self.device)
        return out.index_add_(0, self.row, self.value)

    def int32(self) -> Tuple[Tensor, Tensor]:
        """``(rowptr, col)`` as int32 (faster in sparse BLAS); only for graphs below 2**31 entries."""
        def build():
            if self.num_edges >= 2 ** 31 or max(self.shape) >= 2 ** 31:
                return self.rowptr, self.col
            return self.rowptr.int(), self._col if self._col.dtype == torch.int32 else self._col.int()
        return self._cached("int32", build)

    # ------------------------------------------------------------------ derived graphs
    def masked(self, keep: Tensor) -> "Adj":
        """The graph with only the entries where ``keep`` ``[E]`` (bool, CSR order) is true; rows
        stay sorted and no re-sort happens."""
        counts = torch.bincount(self.row[keep], minlength=self.shape[0])
        rowptr = torch.zeros(self.shape[0] + 1, dtype=torch.long, device=self.device)
        torch.cumsum(counts, 0, out=rowptr[1:])
        return Adj(rowptr, self.col[keep], None if self.value is None else self.value[keep], self.shape)

    def with_value(self, value: Optional[Tensor]) -> "Adj":
        """The same structure with other edge weights ``[E]`` (CSR order); caches are shared."""
        if value is not None:
            _check_edge_weight(value, self.num_edges)
        out = Adj.__new__(Adj)
        out.rowptr, out._col, out.value, out.perm, out.shape = self.rowptr, self._col, value, self.perm, self.shape
        out._cache = {k: v for k, v in self._cache.items() if k in _STRUCTURAL_KEYS}
        out._cache["structure"] = self._structure_cache()
        return out

    def _structure_cache(self) -> dict:
        """A dict shared by all Adj objects with this structure (holds the transpose)."""
        return self._cached("structure", dict)

    def csc(self) -> Tuple[Tensor, Tensor, Tensor]:
        """``(colptr [num_src+1], row [E], perm [E])``: the transpose's CSR arrays, where
        ``perm[k]`` is the CSR position of the k-th CSC entry. Built once per structure."""
        shared = self._structure_cache()
        if "csc" not in shared and "csc_int32" in shared:  # adopted from a kernel: widen it
            shared["csc"] = tuple(t.long() for t in shared["csc_int32"])
        if "csc" not in shared:
            num_src = self.shape[1]
            perm = torch.argsort(self.col * self.shape[0] + self.row, stable=True)
            colptr = torch.zeros(num_src + 1, dtype=torch.long, device=self.device)
            torch.cumsum(self.out_degree(), 0, out=colptr[1:])
            shared["csc"] = (colptr, self.row[perm], perm)
        return shared["csc"]

    def adopt_csc(self, colptr: Tensor, row: Tensor, perm: Tensor) -> None:
        """Keep a transpose computed elsewhere (a native counting sort) as this structure's
        :meth:`csc_int32` (and, widened on demand, :meth:`csc`): the same arrays a stable sort
        by ``(col, row)`` gives, int32 unless the graph needs int64."""
        shared = self._structure_cache()
        if colptr.dtype == torch.int64:
            shared["csc"] = (colptr, row, perm)
        else:
            shared["csc_int32"] = (colptr, row, perm)

    def csc_int32(self) -> Tuple[Tensor, Tensor, Tensor]:
        """:meth:`csc` with int32 ``(colptr, row, perm)`` (the native kernels' fast path); int64
        for graphs of 2**31 entries or more. Built once per structure."""
        shared = self._structure_cache()
        if "csc_int32" not in shared:
            colptr, row, perm = self.csc()
            small = self.num_edges < 2 ** 31 and max(self.shape) < 2 ** 31
            shared["csc_int32"] = (colptr.int(), row.int(), perm.int()) if small else (colptr, row, perm)
        return shared["csc_int32"]

    def csc_weights(self, mean: bool = False, weighted: bool = True) -> Optional[Tensor]:
        """``[E]`` the entries' weights (``value`` when ``weighted``, else ones) in the order of
        :meth:`csc`, divided by the in-degree of each entry's row when ``mean``: the weights of the
        transposed product that the backward of a sum (mean) aggregation computes. ``None`` for
        an unweighted sum. Cached with this Adj's values."""
        weighted = weighted and self.value is not None
        if not weighted and not mean:
            return None
        version = self.value._version if weighted else None

        def build():
            _, row_t, perm = self.csc()
            weight = self.value[perm] if weighted else torch.ones(self.num_edges, device=self.device)
            if mean:
                weight = weight / self.in_degree().clamp(min=1).to(weight.dtype)[row_t]
            return weight
        return self._cached(("csc_weights", mean, weighted, version), build)

    def t(self) -> "Adj":
        """The transpose as an Adj of shape ``(num_src, num_dst)`` (values permuted)."""
        colptr, row, perm = self.csc()
        shared = self._structure_cache()
        structure_t = shared.get("t")
        if structure_t is None:
            structure_t = Adj(colptr, row, None, (self.shape[1], self.shape[0]))
            structure_t._cache["row"] = self.col[perm]
            shared["t"] = structure_t
        return structure_t if self.value is None else structure_t.with_value(self.value[perm])

    def gcn_norm(self, add_self_loops: bool = True, improved: bool = False) -> "Adj":
        """Symmetric GCN normalisation ``D^-1/2 (A + I) D^-1/2`` (Kipf & Welling, eq. 2).

        Self-loops follow PyG's ``add_remaining_self_loops``: an existing self-loop keeps its
        weight, every other node gets one of weight 1 (2 when ``improved``). Degrees are taken
        over incoming edges (row sums). Cached on this Adj unless its values need gradients.
        """
        key = ("gcn_norm", add_self_loops, improved)
        if key in self._cache:
            return self._cache[key]
        adj = self.with_self_loops(2.0 if improved else 1.0) if add_self_loops else self
        value = adj.value if adj.value is not None else torch.ones(adj.num_edges, device=adj.device)
        deg = torch.zeros(adj.shape[0], dtype=value.dtype, device=adj.device).index_add_(0, adj.row, value)
        dis = deg.pow(-0.5).masked_fill_(deg == 0, 0.0)
        norm = adj.with_value(dis[adj.row] * value * dis[adj.col])
        if self.value is None or not self.value.requires_grad:
            self._cache[key] = norm
        return norm

    def with_self_loops(self, fill_value: float = 1.0) -> "Adj":
        """Remove existing self-loops and add exactly one per node (PyG ``add_remaining_self_loops``).

        A node that had a self-loop keeps its weight; the others get ``fill_value``.
        Cached on unweighted graphs.
        """
        if self.value is None:
            return self._cached(("self_loops", fill_value), lambda: self._add_self_loops(fill_value))
        return self._add_self_loops(fill_value)

    def _add_self_loops(self, fill_value: float) -> "Adj":
        if self.shape[0] != self.shape[1]:
            raise ValueError(f"self-loops need a square graph, got shape {self.shape}")
        n = self.shape[0]
        row, col = self.row, self.col
        value = self.value if self.value is not None else torch.ones(self.num_edges, device=self.device)
        is_loop = row == col
        loop_value = torch.full((n,), fill_value, dtype=value.dtype, device=self.device)
        loop_value[row[is_loop]] = value[is_loop]
        keep = ~is_loop
        nodes = torch.arange(n, device=self.device)
        edge_index = torch.stack([torch.cat([col[keep], nodes]), torch.cat([row[keep], nodes])])
        return Adj.from_edge_index(edge_index, n, torch.cat([value[keep], loop_value]))

    def to_edge_index(self) -> Tuple[Tensor, Optional[Tensor]]:
        """``(edge_index [2, E], value)`` in CSR order."""
        return torch.stack([self.col, self.row]), self.value

    def to_scipy(self) -> sp.csr_matrix:
        """A scipy CSR matrix ``(num_dst, num_src)``."""
        value = self.value if self.value is not None else torch.ones(self.num_edges)
        return sp.csr_matrix((value.detach().cpu().numpy(), self.col.cpu().numpy(), self.rowptr.cpu().numpy()),
                             shape=self.shape)

    def to(self, device) -> "Adj":
        value = None if self.value is None else self.value.to(device)
        return Adj(self.rowptr.to(device), self._col.to(device), value, self.shape,
                   None if self.perm is None else self.perm.to(device))


_STRUCTURAL_KEYS = ("row", "col64", "in_degree", "out_degree", "int32")


def _check_edge_weight(edge_weight: Tensor, num_edges: int) -> None:
    if not isinstance(edge_weight, Tensor) or not edge_weight.is_floating_point():
        raise TypeError("edge_weight must be a floating-point tensor of shape [E]")
    if edge_weight.dim() < 1 or edge_weight.size(0) != num_edges:
        raise ValueError(f"edge_weight has shape {list(edge_weight.shape)} but the graph has {num_edges} edges")


# A conversion cache keyed on the identity of the edge_index tensor: layers called with the
# same edge_index every epoch build the CSR once. An entry dies with its tensor, and an
# in-place change of the tensor (its version counter moves) invalidates it.
_ADJ_CACHE: dict = {}


def _cached_adj(edge_index: Tensor, num_nodes: Optional[int], num_dst: Optional[int]) -> Adj:
    key = id(edge_index)
    entry = _ADJ_CACHE.get(key)
    if entry is not None:
        ref, version, adj = entry
        if (ref() is edge_index and version == edge_index._version
                and (num_nodes is None or adj.shape[1] == num_nodes)
                and (num_dst is None or adj.shape[0] == num_dst)):
            return adj
    adj = Adj.from_edge_index(edge_index, num_nodes, num_dst=num_dst)
    ref = weakref.ref(edge_index, lambda _, k=key: _ADJ_CACHE.pop(k, None))
    _ADJ_CACHE[key] = (ref, edge_index._version, adj)
    return adj


def to_adj(graph, num_nodes: Optional[int] = None, edge_weight: Optional[Tensor] = None,
           num_dst: Optional[int] = None) -> Adj:
    """Turn what a layer was given into an :class:`Adj`.

    Args:
        graph: an ``Adj``, an ``edge_index`` ``[2, E]``, a PyG ``Data``, a scipy sparse matrix
            or a networkx graph.
        num_nodes: node count (sources) for an ``edge_index`` (inferred when omitted).
        edge_weight: ``[E]`` weights in ``edge_index`` order (permuted into CSR order here).
    """
    if isinstance(graph, Adj):
        if edge_weight is not None:
            raise ValueError("edge_weight cannot be combined with an Adj: use adj.with_value(...)")
        return graph
    if isinstance(graph, Tensor):
        adj = _cached_adj(graph, num_nodes, num_dst)
        if edge_weight is not None:
            _check_edge_weight(edge_weight, adj.num_edges)
            adj = adj.with_value(edge_weight[adj.perm])
        return adj
    if sp.issparse(graph):
        return Adj.from_scipy(graph)
    if hasattr(graph, "edge_index") and hasattr(graph, "num_nodes"):
        weight = edge_weight if edge_weight is not None else getattr(graph, "edge_weight", None)
        return to_adj(graph.edge_index, graph.num_nodes, weight)
    try:
        import networkx as nx
        if isinstance(graph, nx.Graph):
            return Adj.from_networkx(graph)
    except ImportError:  # pragma: no cover - networkx is a dependency
        pass
    raise TypeError(f"cannot build a graph from {type(graph).__name__}: expected Adj, edge_index tensor, "
                    "PyG Data, scipy sparse matrix or networkx graph")
