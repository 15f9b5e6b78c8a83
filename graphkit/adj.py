"""The sparse structure every layer runs on: :class:`Adj`.

An ``Adj`` holds a graph as a compressed sparse row (CSR) matrix of shape
``(num_dst, num_src)``: row ``i`` lists the *sources* ``j`` of the edges ``j -> i``,
so that aggregating messages at the targets is a row-wise reduction
(``out[i] = reduce_j A[i, j] * x[j]``). This is PyG's ``edge_index`` convention
(``edge_index[0]`` = source, ``edge_index[1]`` = target, flow source-to-target).

Validation happens once, where data enters: an ``Adj``'s index arrays are checked when it is
built (:class:`Adj`, :meth:`Adj.from_edge_index`), so the ops that run on it never check them
again and never synchronise with the device to do so. Graphs that graphkit derives itself (masked,
transposed, with self-loops, kernel outputs) are valid by construction and take the unchecked
path, :meth:`Adj.trusted`. The checks that would cost a pass and a host synchronisation on every
call (finite features in a forward, the range of index tensors passed to an op that are not part
of an ``Adj``) run in :class:`debug` mode only.

An ``Adj`` is built once, in O(E log E), and caches what layers ask for repeatedly, behind
:meth:`Adj.structure_cached` (what depends on the structure only, shared with every ``Adj`` of the
same structure: the transpose (CSC), expanded row indices, degrees, int32 copies of the index
arrays) and :meth:`Adj.value_cached` (what depends on the edge weights too: the GCN
normalisation, the weights in CSC order; one entry per kind, replaced when the weights change).
What graphkit derives from plain tensors (the ``Adj`` of an ``edge_index``, the CSR copy of a
sparse feature matrix) is kept by :func:`tensor_cache`.
"""
from __future__ import annotations

import numbers
from typing import Any, Callable, Hashable, Optional, Tuple

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor
from torch._subclasses.fake_tensor import FakeTensor
from torch._subclasses.functional_tensor import FunctionalTensor
from torch.utils._python_dispatch import _get_current_dispatch_mode
from torch.utils.weak import WeakIdKeyDictionary

from .utils.checksum import checksum

__all__ = ["Adj", "to_adj", "check_edge_index", "check_features", "check_finite", "debug", "tensor_cache", "MAX_NODES"]

_INDEX_DTYPES = (torch.int32, torch.int64)
#: Node-count limits (no real graph comes near them; ogbn-papers100M has 1.1e8 nodes): a node count
#: above ``MAX_NODES`` (2**40), or above ``_FREE_NODES + _NODES_PER_EDGE * num_edges``
#: (2**31 + 1000 per edge), is refused before anything of that size is allocated: it is almost
#: certainly a wrong argument (``to_adj(ei, 10**12)`` would ask for 8 TB of row pointers).
MAX_NODES = 2 ** 40
_FREE_NODES = 2 ** 31
_NODES_PER_EDGE = 1000
_DEBUG = {"enabled": False}


class debug:
    """graphkit's debug mode: the checks that cost a pass over the data and a host synchronisation
    on every call, which graphkit otherwise skips.

    ``graphkit.debug(True)`` switches it on, ``graphkit.debug(False)`` off; ``with graphkit.debug():``
    turns it on for a block (``with graphkit.debug(False):`` off) and restores the previous state.
    ``graphkit.debug.enabled()`` tells whether it is on.

    Always checked, once: an ``Adj``'s index arrays when it is built, an ``edge_index`` when it is
    converted, a trainer's features once per fit. Checked in debug mode only: finite features in
    every model forward (and finite sheaf restriction maps), the range of the index tensors given
    to :func:`graphkit.ops.gather`, :func:`~graphkit.ops.pair_product`,
    :func:`~graphkit.ops.neighbor_sets` and :func:`~graphkit.ops.random_walk`, and the index arrays
    of every ``Adj`` graphkit derives itself (:meth:`Adj.trusted`).
    """

    def __init__(self, enabled: bool = True):
        self._previous = _DEBUG["enabled"]
        _DEBUG["enabled"] = bool(enabled)

    def __enter__(self) -> "debug":
        return self

    def __exit__(self, *exc_info) -> None:
        _DEBUG["enabled"] = self._previous

    @staticmethod
    def enabled() -> bool:
        """Whether debug mode is on."""
        return _DEBUG["enabled"]


def _node_count(value, name: str, num_edges: int) -> int:
    """``value`` as a node count: a Python or numpy integer (not a bool, not a float), at most
    :data:`MAX_NODES` and at most ``2**31 + 1000 * num_edges`` (see :data:`MAX_NODES`)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Integral, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    value = int(value)
    limit = min(MAX_NODES, _FREE_NODES + _NODES_PER_EDGE * num_edges)
    if value > limit:
        raise ValueError(f"{name}={value} is too large for a graph of {num_edges} edges (graphkit refuses more than "
                         f"min(2**40, 2**31 + 1000 * num_edges) = {limit} nodes, which would allocate "
                         f"{8 * value / 2 ** 30:.3g} GiB of row pointers); pass the real node count")
    return value


def check_edge_index(edge_index: Tensor, num_nodes: Optional[int] = None, num_dst: Optional[int] = None) -> int:
    """Validate a PyG ``edge_index`` and return the number of (source) nodes.

    For a bipartite graph, ``num_dst`` bounds the targets (row 1) and ``num_nodes`` the sources.
    Reads the ids' extremes back to the host once (a synchronisation on a GPU): call it where a
    graph enters, not per step.

    Raises ``ValueError``/``TypeError`` naming the problem: not a tensor, not of shape
    ``[2, E]``, not an integer dtype, on the meta device, negative or out-of-range ids, an empty
    graph whose node count cannot be inferred, a ``num_nodes``/``num_dst`` that is not an int (a
    float or a bool) or is implausibly large (see :data:`MAX_NODES`).
    """
    if not isinstance(edge_index, Tensor):
        raise TypeError(f"edge_index must be a torch.Tensor of shape [2, E], got {type(edge_index).__name__}")
    if edge_index.dim() != 2 or edge_index.size(0) != 2:
        raise ValueError(f"edge_index must have shape [2, E], got {list(edge_index.shape)}")
    if edge_index.dtype not in _INDEX_DTYPES:
        raise TypeError(f"edge_index must hold integer node ids (int64 or int32), got dtype {edge_index.dtype}")
    if edge_index.device.type == "meta":
        raise ValueError("edge_index is on the meta device (it holds no data); move it to a real device first")
    num_edges = edge_index.size(1)
    if num_nodes is not None:
        num_nodes = _node_count(num_nodes, "num_nodes", num_edges)
    if num_dst is not None:
        num_dst = _node_count(num_dst, "num_dst", num_edges)
    if num_edges > 0:  # [min id, max source id, max target id]: one read-back
        lo, hi_src, hi_dst = torch.stack([edge_index.min(), edge_index[0].max(), edge_index[1].max()]).tolist()
        hi = max(hi_src, hi_dst) if num_dst is None else hi_src
        if lo < 0:
            raise ValueError(f"edge_index contains negative node id {lo}; node ids must lie in [0, num_nodes)")
    if num_nodes is None:
        if num_edges == 0:
            raise ValueError("empty graph: edge_index has no edges, so the number of nodes cannot be inferred; "
                             "pass num_nodes")
        num_nodes = hi + 1
    if num_nodes <= 0:
        raise ValueError(f"empty graph: num_nodes must be positive, got {num_nodes}")
    if num_edges > 0 and hi >= num_nodes:
        raise ValueError(f"edge_index contains node id {hi}, out of range for num_nodes={num_nodes} "
                         f"(ids must lie in [0, {num_nodes}))")
    if num_dst is not None and num_dst < 0:
        raise ValueError(f"num_dst must be >= 0, got {num_dst}")
    if num_edges > 0 and num_dst is not None and hi_dst >= num_dst:
        raise ValueError(f"edge_index contains target id {hi_dst}, out of range for num_dst={num_dst}")
    return num_nodes


def check_features(x: Tensor, num_nodes: Optional[int] = None, name: str = "x", finite: bool = True) -> Tensor:
    """Validate a node feature matrix ``[N, F]``: floating dtype, right row count and, when
    ``finite``, no NaN or infinite value.

    The finiteness check reads a reduction back to the host (a synchronisation on a GPU): trainers
    run it once per fit, model forwards only in :class:`debug` mode (``finite=debug.enabled()``).
    """
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
    if finite:
        check_finite(x, name)
    return x


def check_finite(x: Tensor, name: str = "x", owner: str = "") -> None:
    """A ``ValueError`` naming the first row of ``x`` ``[N, *F]`` with a NaN or infinite value (a
    host synchronisation: one cheap pass when all is well)."""
    if x.numel() and not bool(torch.isfinite(x.sum())) and not bool(torch.isfinite(x).all()):
        bad = int((~torch.isfinite(x)).any(dim=tuple(range(1, x.dim()))).nonzero()[0])
        kind = "NaN" if bool(torch.isnan(x).any()) else "infinite"
        raise ValueError(f"{owner}{': ' if owner else ''}{name} contains {kind} values (first bad row: node {bad})")


def _version(t: Tensor) -> Optional[int]:
    """The version counter of ``t`` (moves with every in-place change); ``None`` for an inference
    tensor, which has none (so nothing derived from it can be kept)."""
    return None if t.is_inference() else t._version


_TENSOR_CACHES = WeakIdKeyDictionary()
FULL_CHECK_ELEMENTS = 1 << 16  # integer tensors up to this size are checksummed whole at every call
_SAMPLED_ELEMENTS = 1 << 12  # above it: this many evenly spaced elements, plus the first and last 1024


def _content_state(tensor: Tensor) -> Optional[int]:
    """What :func:`tensor_cache` compares besides the version counter: the checksum of an integer
    tensor (whole up to :data:`FULL_CHECK_ELEMENTS` elements, else of an evenly spaced sample and
    both ends, so the check stays in microseconds next to the work on a large graph); of any
    tensor, whole, in :class:`debug` mode; ``None`` for floating-point tensors outside it."""
    if debug.enabled():
        return checksum(tensor)
    if tensor.is_floating_point():
        return None
    if tensor.numel() <= FULL_CHECK_ELEMENTS:
        return checksum(tensor)
    flat = tensor.reshape(-1)
    stride = flat.numel() // _SAMPLED_ELEMENTS
    return checksum(torch.cat([flat[:1024], flat[::stride], flat[-1024:]]))


def _has_data(tensor: Tensor) -> bool:
    """Whether ``tensor``'s bytes can be read here: not meta, not a fake or functional tensor (as
    ``torch.compile`` traces with), and no dispatch mode active (``opcheck``'s cross-checks)."""
    return (tensor.device.type != "meta" and _get_current_dispatch_mode() is None
            and not isinstance(tensor, (FakeTensor, FunctionalTensor)))


def tensor_cache(tensor: Tensor) -> dict:
    """The dict of what graphkit derives from a plain ``tensor``, kept with it.

    graphkit's one identity-keyed cache, for inputs that are tensors rather than :class:`Adj`
    objects: :func:`to_adj` keeps the ``Adj`` of an ``edge_index`` here (so a layer called every
    epoch with the same ``edge_index`` builds the CSR once), the models' input dropout the CSR copy
    of a mostly-zero feature matrix, the native backend the grouping of an index tensor. The dict
    lives as long as the tensor (it is keyed on the tensor's identity, weakly) and starts empty
    again when the tensor's content changes: when its version counter moves (an in-place torch
    op) or its checksum does (:func:`graphkit.utils.checksum.checksum`; writes through
    ``tensor.numpy()`` or DLPack bypass the counter). The checksum covers integer tensors (edge
    lists, indices) whole up to :data:`FULL_CHECK_ELEMENTS` elements and by a sample above that
    (a pass over a 2M-edge list at every call costs a few percent of a layer's step), and every
    tensor whole in :class:`debug` mode. So a change made outside torch to a few entries of a large
    edge list, or to a feature matrix, is seen in debug mode only: elsewhere, change tensors with
    torch ops, pass a new tensor, or pass an :class:`Adj` (never re-checked). Inference and
    meta tensors, and tensors seen while tracing (``torch.compile``, ``opcheck``: fake tensors or a
    dispatch mode), get a fresh dict every time. What derives from a graph's structure or weights
    belongs on the ``Adj`` (:meth:`Adj.structure_cached`, :meth:`Adj.value_cached`).
    """
    version = _version(tensor)
    if version is None or not _has_data(tensor):
        return {}
    state = (version, _content_state(tensor))
    entry = _TENSOR_CACHES.get(tensor)
    if entry is None or entry[0] != state:
        entry = _TENSOR_CACHES[tensor] = (state, {})
    return entry[1]



def mark_graph_count(batch: Tensor, num_graphs: int, graph_ptr: Optional[Tensor] = None) -> None:
    """Record with a batch vector ``batch`` ``[N]`` (the graph of each node) how many graphs its
    batch holds, so that readouts give ``num_graphs`` rows even when the last graphs have no nodes
    (which the vector alone cannot tell), and, from a loader that knows it, ``graph_ptr``
    ``[num_graphs + 1]`` (graph ``b``'s nodes are ``graph_ptr[b]`` .. ``graph_ptr[b + 1] - 1``), which
    readouts then take as they are instead of counting the vector. Kept in :func:`tensor_cache`, so
    both are forgotten when ``batch`` changes."""
    cache = tensor_cache(batch)
    cache["num_graphs"] = int(num_graphs)
    if graph_ptr is not None:
        cache["graph_ptr"] = graph_ptr



class Adj:
    """A CSR sparse adjacency of shape ``(num_dst, num_src)`` with cached derived structure.

    ``Adj(rowptr, col, value=None, shape=None, perm=None)`` validates its arguments (one host
    synchronisation): ``rowptr`` starts at 0, never decreases and ends at ``len(col)``, every
    ``col`` id lies in ``[0, num_src)``, and ``perm`` (if any) in ``[0, E)``; a ``ValueError`` names
    the first problem. ``shape`` defaults to a square graph.

    Attributes:
        rowptr: ``[num_dst + 1]`` int64 row pointers.
        col: ``[E]`` int64 source node of each stored entry, sorted within rows. A graph built
            from int32 columns keeps them as they are (the native kernels read int32, so a large
            graph from scipy never holds an int64 copy); ``col`` makes the int64 one on first use.
        value: ``[E]`` (or ``[E, H]``) optional edge weights in CSR order (``None`` = all ones).
        perm: ``[E]`` position in the input edge list of each CSR entry (for permuting
            edge attributes given in ``edge_index`` order), or ``None`` when built from CSR arrays
            or derived by graphkit (self-loops, masked, transposed).
    """

    __slots__ = ("rowptr", "_col", "value", "perm", "shape", "_cache", "_shared", "__weakref__")

    def __init__(self, rowptr: Tensor, col: Tensor, value: Optional[Tensor] = None,
                 shape: Optional[Tuple[int, int]] = None, perm: Optional[Tensor] = None):
        self._assign(rowptr, col, value, shape, perm)
        self._validate()

    @classmethod
    def trusted(cls, rowptr: Tensor, col: Tensor, value: Optional[Tensor] = None,
                shape: Optional[Tuple[int, int]] = None, perm: Optional[Tensor] = None) -> "Adj":
        """An ``Adj`` from CSR arrays that graphkit computed itself (a derived graph, a kernel's
        output), valid by construction: only the cheap checks of types and lengths run, the index
        ranges are checked in :class:`debug` mode only. Arguments as for :class:`Adj`."""
        adj = cls.__new__(cls)
        adj._assign(rowptr, col, value, shape, perm)
        if debug.enabled():
            adj._validate()
        return adj

    def _assign(self, rowptr: Tensor, col: Tensor, value: Optional[Tensor], shape: Optional[Tuple[int, int]],
                perm: Optional[Tensor]) -> None:
        """Set the fields after the checks that need no device read-back (types, sizes)."""
        for t, name in ((rowptr, "rowptr"), (col, "col")) + (() if perm is None else ((perm, "perm"),)):
            if not isinstance(t, Tensor) or t.dtype not in _INDEX_DTYPES or t.dim() != 1:
                got = f"shape {list(t.shape)}, dtype {t.dtype}" if isinstance(t, Tensor) else type(t).__name__
                raise TypeError(f"{name} must be a 1-D int64 or int32 tensor, got {got}")
        if rowptr.numel() == 0:
            raise ValueError("rowptr must have num_dst + 1 >= 1 entries, got an empty tensor")
        num_dst = rowptr.numel() - 1
        num_src = num_dst if shape is None else int(shape[1])
        if shape is not None and int(shape[0]) != num_dst:
            raise ValueError(f"rowptr has {num_dst + 1} entries but shape[0] is {shape[0]}")
        if num_src < 0:
            raise ValueError(f"shape[1] (the number of source nodes) must be >= 0, got {num_src}")
        for t, name in ((col, "col"), (value, "value"), (perm, "perm")):
            if t is not None and t.device != rowptr.device:
                raise ValueError(f"{name} is on {t.device} but rowptr on {rowptr.device}")
        if value is not None:
            _check_edge_weight(value, col.numel(), "value")
        if perm is not None and perm.numel() != col.numel():
            raise ValueError(f"perm has {perm.numel()} entries but the graph has {col.numel()} edges")
        self.rowptr = rowptr.long()
        self._col = col if col.dtype == torch.int32 else col.long()
        self.value = value
        self.perm = perm
        self.shape = (num_dst, num_src)
        self._cache: dict = {}   # what depends on this Adj's values (value_cached)
        self._shared: dict = {}  # what depends on the structure only, shared with with_value copies

    def _validate(self) -> None:
        """Check the index arrays, reading all the facts back in one synchronisation."""
        rowptr, col, num_edges, num_src = self.rowptr, self._col, self.num_edges, self.shape[1]
        facts = [rowptr[0], (rowptr[1:] < rowptr[:-1]).sum(), rowptr[-1]]
        if num_edges:
            facts += [col.min(), col.max()]
        if num_edges and self.perm is not None:
            facts += [self.perm.min(), self.perm.max()]
        facts = torch.stack([f.long() for f in facts]).tolist()
        first, drops, last = facts[:3]
        if first != 0:
            raise ValueError(f"rowptr must start at 0, got {first}")
        if drops:
            raise ValueError(f"rowptr must be non-decreasing (row i holds rowptr[i + 1] - rowptr[i] entries); "
                             f"it decreases {drops} time(s)")
        if last != num_edges:
            raise ValueError(f"rowptr must end at len(col) = {num_edges}, got {last}")
        if num_edges:
            lo, hi = facts[3:5]
            if lo < 0:
                raise ValueError(f"col contains negative node id {lo}; column ids must lie in [0, {num_src})")
            if hi >= num_src:
                raise ValueError(f"col contains node id {hi}, out of range for num_src={num_src} "
                                 f"(column ids must lie in [0, {num_src}))")
        if num_edges and self.perm is not None:
            lo, hi = facts[5:7]
            if lo < 0 or hi >= num_edges:
                raise ValueError(f"perm contains position {lo if lo < 0 else hi}, out of range for "
                                 f"{num_edges} edges")

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_edge_index(cls, edge_index: Tensor, num_nodes: Optional[int] = None,
                        edge_weight: Optional[Tensor] = None,
                        num_dst: Optional[int] = None) -> "Adj":
        """Build from a PyG ``edge_index`` ``[2, E]`` (row 0 = source, row 1 = target).

        ``num_nodes`` is the number of nodes (inferred as ``max id + 1`` when omitted);
        ``num_dst`` may be given for bipartite graphs. ``edge_weight`` ``[E]`` is stored in
        CSR order. Duplicate edges and self-loops are kept as they are. The ids are validated
        here (:func:`check_edge_index`), once.
        """
        num_nodes = check_edge_index(edge_index, num_nodes, num_dst)
        num_dst = num_nodes if num_dst is None else int(num_dst)
        if edge_weight is not None:
            _check_edge_weight(edge_weight, edge_index.size(1), device=edge_index.device, flat=True)
        return cls._from_edges(edge_index[0], edge_index[1], (num_dst, num_nodes), edge_weight, maybe_sorted=True)

    @classmethod
    def _from_edges(cls, src: Tensor, dst: Tensor, shape: Tuple[int, int], weight: Optional[Tensor],
                    maybe_sorted: bool = False) -> "Adj":
        """The CSR of valid edges ``src[k] -> dst[k]`` (a stable sort by target, then source).

        With ``maybe_sorted`` (one host synchronisation), edges already in that order (a
        coalesced edge list, or a batch of such graphs, whose offsets keep the order) skip the
        sort: one O(E) pass instead of O(E log E)."""
        num_dst, num_src = shape
        src, dst = src.long(), dst.long()
        key = dst * num_src + src
        if maybe_sorted and (key.numel() < 2 or bool((key[1:] >= key[:-1]).all())):
            perm = torch.arange(key.numel(), device=src.device)
            col, row, value = src, dst, weight
        else:
            perm = torch.argsort(key, stable=True)
            col, row, value = src[perm], dst[perm], None if weight is None else weight[perm]
        counts = torch.bincount(dst, minlength=num_dst)
        rowptr = torch.zeros(num_dst + 1, dtype=torch.long, device=src.device)
        torch.cumsum(counts, 0, out=rowptr[1:])
        adj = cls.trusted(rowptr, col, value, shape, perm)
        adj._shared["row"] = row
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

    # ------------------------------------------------------------------ caches
    def structure_cached(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """``build()``, computed once per structure: kept for this ``Adj`` and every ``Adj`` sharing
        its ``rowptr``/``col``/``shape`` (its :meth:`with_value` copies). For what depends on the
        structure only (transpose, degrees, index copies, a sheaf's graph)."""
        if key not in self._shared:
            self._shared[key] = build()
        return self._shared[key]

    def value_cached(self, key: Hashable, build: Callable[[], Any]) -> Any:
        """``build()``, kept for this ``Adj`` while its edge weights stay the same: one entry per
        ``key``, replaced when ``value`` is changed in place (its version counter moves) or
        reassigned. For what is derived from the weights (normalised weights, weights in CSC
        order); built once on an unweighted ``Adj``."""
        value = self.value
        version = None if value is None else _version(value)
        if value is not None and version is None:  # an inference tensor: changes cannot be seen
            return build()
        entry = self._cache.get(key)
        if entry is None or entry[0] is not value or entry[1] != version:
            entry = self._cache[key] = (value, version, build())
        return entry[2]

    def cache_keys(self) -> frozenset:
        """The keys of what is cached so far, this ``Adj``'s and its structure's (for tests and
        debugging)."""
        return frozenset(self._cache) | frozenset(self._shared)

    # ------------------------------------------------------------------ basic properties
    @property
    def col(self) -> Tensor:
        """``[E]`` int64 source node of each stored entry."""
        if self._col.dtype == torch.int64:
            return self._col
        return self.structure_cached("col64", self._col.long)

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

    @property
    def row(self) -> Tensor:
        """``[E]`` target node of each CSR entry (rowptr expanded)."""
        return self.structure_cached("row", lambda: torch.repeat_interleave(
            torch.arange(self.shape[0], device=self.device), self.in_degree()))

    def in_degree(self) -> Tensor:
        """``[num_dst]`` number of stored entries per row (incoming edges), int64."""
        return self.structure_cached("in_degree", lambda: self.rowptr[1:] - self.rowptr[:-1])

    def out_degree(self) -> Tensor:
        """``[num_src]`` number of stored entries per column (outgoing edges), int64."""
        return self.structure_cached("out_degree", lambda: torch.bincount(self.col, minlength=self.shape[1]))

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
        return self.structure_cached("int32", build)

    # ------------------------------------------------------------------ derived graphs
    def masked(self, keep: Tensor) -> "Adj":
        """The graph with only the entries where ``keep`` ``[E]`` (bool, CSR order) is true; rows
        stay sorted and no re-sort happens."""
        counts = torch.bincount(self.row[keep], minlength=self.shape[0])
        rowptr = torch.zeros(self.shape[0] + 1, dtype=torch.long, device=self.device)
        torch.cumsum(counts, 0, out=rowptr[1:])
        return Adj.trusted(rowptr, self.col[keep], None if self.value is None else self.value[keep], self.shape)

    def with_value(self, value: Optional[Tensor]) -> "Adj":
        """The same structure with other edge weights ``[E]`` (CSR order); structure caches are shared."""
        if value is not None:
            _check_edge_weight(value, self.num_edges, "value", device=self.device)
        out = Adj.__new__(Adj)
        out.rowptr, out._col, out.value, out.perm, out.shape = self.rowptr, self._col, value, self.perm, self.shape
        out._cache, out._shared = {}, self._shared
        return out

    def csc(self) -> Tuple[Tensor, Tensor, Tensor]:
        """``(colptr [num_src+1], row [E], perm [E])``: the transpose's CSR arrays, where
        ``perm[k]`` is the CSR position of the k-th CSC entry. Built once per structure."""
        shared = self._shared
        if "csc" not in shared and "csc_int32" in shared:  # built by a kernel: widen it
            shared["csc"] = tuple(t.long() for t in shared["csc_int32"])
        if "csc" not in shared:
            num_src = self.shape[1]
            perm = torch.argsort(self.col * self.shape[0] + self.row, stable=True)
            colptr = torch.zeros(num_src + 1, dtype=torch.long, device=self.device)
            torch.cumsum(self.out_degree(), 0, out=colptr[1:])
            shared["csc"] = (colptr, self.row[perm], perm)
        return shared["csc"]

    def csc_int32(self, build: Optional[Callable[[], Tuple[Tensor, Tensor, Tensor]]] = None
                  ) -> Tuple[Tensor, Tensor, Tensor]:
        """:meth:`csc` with int32 ``(colptr, row, perm)`` (the native kernels' fast path); int64
        for graphs of 2**31 entries or more. Built once per structure: by ``build()`` when given
        and no transpose is cached yet (the native backend's counting sort, O(E + N)), which must
        return the arrays a stable sort by ``(col, row)`` gives, int32 unless the graph needs int64
        (then :meth:`csc` takes them as they are); else by narrowing :meth:`csc`."""
        shared = self._shared
        if build is not None and "csc_int32" not in shared and "csc" not in shared:
            colptr, row, perm = build()
            shared["csc" if colptr.dtype == torch.int64 else "csc_int32"] = (colptr, row, perm)
        if "csc_int32" not in shared:
            colptr, row, perm = self.csc()
            small = self.num_edges < 2 ** 31 and max(self.shape) < 2 ** 31
            shared["csc_int32"] = (colptr.int(), row.int(), perm.int()) if small else (colptr, row, perm)
        return shared["csc_int32"]

    def csc_weights(self, mean: bool = False, weighted: bool = True,
                    dtype: Optional[torch.dtype] = None) -> Optional[Tensor]:
        """``[E]`` the entries' weights (``value`` when ``weighted``, else ones) in the order of
        :meth:`csc`, divided by the in-degree of each entry's row when ``mean``: the weights of the
        transposed product that the backward of a sum (mean) aggregation computes, in ``dtype``
        (default: the values' dtype, else float32; the division happens in ``dtype``, so a float64
        backward gets an exact 1/3). ``None`` for an unweighted sum. Cached with this Adj's values:
        one entry per ``mean`` and dtype, rebuilt when the weights change."""
        weighted = weighted and self.value is not None
        if not weighted and not mean:
            return None
        dtype = dtype or (self.value.dtype if weighted else torch.float32)

        def build():
            _, row_t, perm = self.csc()
            weight = self.value[perm].to(dtype) if weighted else torch.ones(self.num_edges, dtype=dtype,
                                                                             device=self.device)
            if mean:
                weight = weight / self.in_degree().clamp(min=1).to(dtype)[row_t]
            return weight
        if weighted:
            return self.value_cached(("csc_weights", mean, dtype), build)
        return self.structure_cached(("csc_weights", mean, dtype), build)

    def t(self) -> "Adj":
        """The transpose as an Adj of shape ``(num_src, num_dst)`` (values permuted)."""
        colptr, row, perm = self.csc()

        def build():
            structure_t = Adj.trusted(colptr, row, None, (self.shape[1], self.shape[0]))
            structure_t._shared["row"] = self.col[perm]
            return structure_t
        structure_t = self.structure_cached("t", build)
        return structure_t if self.value is None else structure_t.with_value(self.value[perm])

    def gcn_norm(self, add_self_loops: bool = True, improved: bool = False,
                 dtype: Optional[torch.dtype] = None) -> "Adj":
        """Symmetric GCN normalisation ``D^-1/2 (A + I) D^-1/2`` (Kipf & Welling, eq. 2).

        Self-loops follow PyG's ``add_remaining_self_loops``: an existing self-loop keeps its
        weight, every other node gets one of weight 1 (2 when ``improved``). Degrees are taken
        over incoming edges (row sums). The values are computed in ``dtype`` (default: the
        values' dtype, else float32): pass the features' dtype so that a float64 model gets
        float64 coefficients. Cached with this Adj's values (rebuilt when they change) unless
        they need gradients.

        A sampled block ``(N_dst, N_src)`` (its targets are its first ``N_dst`` sources) is
        normalised as the square graph over its ``N_src`` nodes that holds its edges, as PyG's
        ``GCNConv`` normalises a layer's trimmed subgraph: a target's degree counts its sampled
        edges (and its self-loop), a source that is no target has only its self-loop (degree 1,
        2 when ``improved``; without self-loops its messages get weight 0).
        """
        dtype = dtype or (self.value.dtype if self.value is not None else torch.float32)
        fill = 2.0 if improved else 1.0

        def build() -> "Adj":
            adj = self.with_self_loops(fill) if add_self_loops else self
            value = (adj.value.to(dtype) if adj.value is not None
                     else torch.ones(adj.num_edges, dtype=dtype, device=adj.device))
            deg = torch.zeros(adj.shape[0], dtype=dtype, device=adj.device).index_add_(0, adj.row, value)
            dis = deg.pow(-0.5).masked_fill_(deg == 0, 0.0)
            extra = adj.shape[1] - adj.shape[0]  # a block's sources that are no targets
            dis_src = dis if extra <= 0 else torch.cat([dis, dis.new_full((extra,), fill ** -0.5 if add_self_loops
                                                                          else 0.0)])
            return adj.with_value(dis[adj.row] * value * dis_src[adj.col])
        if self.value is not None and self.value.requires_grad:
            return build()
        return self.value_cached(("gcn_norm", add_self_loops, improved, dtype), build)

    def with_self_loops(self, fill_value: float = 1.0) -> "Adj":
        """Remove existing self-loops and add exactly one per node (PyG ``add_remaining_self_loops``).

        A node that had a self-loop keeps its weight; the others get ``fill_value``. Cached (per
        structure when unweighted, with the values otherwise) unless the values need gradients.
        On a sampled block ``(N_dst, N_src)``, whose targets are its first ``N_dst`` sources, each
        target ``i`` gets the entry ``(i, i)``, as PyG's bipartite ``GATConv`` adds them.
        """
        if self.value is None:
            return self.structure_cached(("self_loops", fill_value), lambda: self._add_self_loops(fill_value))
        if self.value.requires_grad:
            return self._add_self_loops(fill_value)
        return self.value_cached(("self_loops", fill_value), lambda: self._add_self_loops(fill_value))

    def _add_self_loops(self, fill_value: float) -> "Adj":
        if self.shape[0] > self.shape[1]:
            raise ValueError(f"self-loops need a square graph or a block (no more targets than sources, the targets "
                             f"being the first sources), got shape {self.shape}")
        n = self.shape[0]
        row, col = self.row, self.col
        value = self.value if self.value is not None else torch.ones(self.num_edges, device=self.device)
        is_loop = row == col
        loop_value = torch.full((n,), fill_value, dtype=value.dtype, device=self.device)
        loop_value[row[is_loop]] = value[is_loop]
        keep = ~is_loop
        nodes = torch.arange(n, device=self.device)
        adj = Adj._from_edges(torch.cat([col[keep], nodes]), torch.cat([row[keep], nodes]), self.shape,
                              torch.cat([value[keep], loop_value]))
        adj.perm = None  # its entries are not those of the edge list this graph came from
        return adj

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
        return Adj.trusted(self.rowptr.to(device), self._col.to(device), value, self.shape,
                           None if self.perm is None else self.perm.to(device))


def _check_edge_weight(edge_weight: Tensor, num_edges: int, name: str = "edge_weight",
                       device: Optional[torch.device] = None, flat: bool = False) -> None:
    """Type, shape (``[E]``; ``[E, H]`` too unless ``flat``) and device of edge weights; no sync.
    Their values (NaN, negative) are taken as given (GCNConv checks them in :class:`debug` mode)."""
    if not isinstance(edge_weight, Tensor):
        raise TypeError(f"{name} must be a floating-point tensor of shape [E], got {type(edge_weight).__name__}")
    if not edge_weight.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor of shape [E], got dtype {edge_weight.dtype}")
    if edge_weight.dim() < 1 or edge_weight.size(0) != num_edges:
        raise ValueError(f"{name} has shape {list(edge_weight.shape)} but the graph has {num_edges} edges")
    if flat and edge_weight.dim() != 1:
        raise ValueError(f"{name} must have shape [E] = [{num_edges}] (one weight per edge), "
                         f"got {list(edge_weight.shape)}")
    if device is not None and edge_weight.device != device:
        raise ValueError(f"{name} is on {edge_weight.device} but the graph (edge_index) is on {device}")


def to_adj(graph, num_nodes: Optional[int] = None, edge_weight: Optional[Tensor] = None,
           num_dst: Optional[int] = None) -> Adj:
    """Turn what a layer was given into an :class:`Adj`.

    Args:
        graph: an ``Adj``, an ``edge_index`` ``[2, E]``, a PyG ``Data``, a scipy sparse matrix
            or a networkx graph. The ``Adj`` of an ``edge_index`` is kept in its
            :func:`tensor_cache`: the same tensor gives the same ``Adj`` (validated and built once)
            until it is changed in place.
        num_nodes: node count (sources) for an ``edge_index`` (inferred when omitted): an int
            (a numpy integer too; not a float or a bool), at most :data:`MAX_NODES`.
        edge_weight: ``[E]`` floating-point weights in ``edge_index`` order (permuted into CSR
            order here), on the device of ``edge_index``. Their values are taken as given (no
            host synchronisation); :class:`GCNConv <graphkit.nn.GCNConv>` rejects NaN and
            negative weights in :class:`debug` mode.
        num_dst: target count of a bipartite ``edge_index`` (an int, as ``num_nodes``).
    """
    if isinstance(graph, Adj):
        if edge_weight is not None:
            raise ValueError("edge_weight cannot be combined with an Adj: use adj.with_value(...)")
        return graph
    if isinstance(graph, Tensor):
        # one entry per (num_nodes, num_dst) as given, num_dst None meaning square; an Adj built
        # with inferred counts is also kept under the counts it resolved to
        num_edges = graph.size(1) if graph.dim() == 2 else 0
        if num_nodes is not None:
            num_nodes = _node_count(num_nodes, "num_nodes", num_edges)
        if num_dst is not None:
            num_dst = _node_count(num_dst, "num_dst", num_edges)
        key = (num_nodes, num_nodes if num_dst is None else num_dst) if num_nodes is not None else (None, num_dst)
        cache = tensor_cache(graph)
        adjs = cache.setdefault("adj_by_counts", {})
        adj = adjs.get(key)
        if adj is None:
            adj = adjs[key] = Adj.from_edge_index(graph, num_nodes, num_dst=num_dst)
            adjs.setdefault((adj.shape[1], adj.shape[0]), adj)
        cache["adj"] = adj  # the last one asked for
        if edge_weight is not None:
            _check_edge_weight(edge_weight, adj.num_edges, device=adj.device, flat=True)
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
