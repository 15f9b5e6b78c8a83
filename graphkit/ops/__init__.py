"""graphkit's primitive graph operators: the only place that knows which kernels run.

Every layer calls these functions. Each validates its arguments (clear errors instead of
crashes deep in a kernel) and hands over to the active backend; backends share the
signatures below, so a native kernel is added with :func:`register_backend`, never by
editing callers. ``GRAPHKIT_KERNELS`` chooses: ``auto`` (the default: graphkit's native C++/CUDA
kernels, built once on first use, else the reference with one warning), ``native`` (an error if
the kernels cannot be built) or ``reference`` (the vectorised pure-torch ops). Tensors on a
device the native build has no kernels for (CUDA without a toolkit at build time) run the
reference ops.

Conventions (see :class:`graphkit.Adj`): ``adj`` has shape ``(M, N)`` = ``(num_dst, num_src)``,
its entries are edges ``j -> i`` stored at row ``i``, column ``j``, and per-edge tensors are in
CSR order (``[E, ...]``).
"""
from __future__ import annotations

import math
import os
import warnings
from types import ModuleType
from typing import Dict, List, Optional, Sequence, Tuple

import torch
from torch import Tensor

from ..adj import Adj, debug
from ..utils.checksum import splitmix64
from . import reference

__all__ = ["spmm", "sddmm", "segment_softmax", "segment_reduce", "gather", "random_walk", "gat_aggregate",
           "neighbor_sets", "pair_product", "block_spmm", "dropout", "sgns_train", "checksum", "batch_graphs",
           "sample_neighbors", "rmat_edges", "sort_edges",
           "register_backend",
           "use_backend", "backend", "REDUCTIONS", "NEIGHBOR_SETS"]

REDUCTIONS = ("sum", "mean", "max", "min")
NEIGHBOR_SETS = reference.NEIGHBOR_SETS
_SDDMM_OPS = ("dot", "add", "mul")

_BACKENDS: Dict[str, ModuleType] = {"reference": reference}
_active = {"name": None}
KERNEL_CHOICES = ("auto", "native", "reference")


def register_backend(name: str, module: ModuleType) -> None:
    """Make ``module`` (defining the functions of :mod:`graphkit.ops.reference`) selectable."""
    missing = [f for f in ("spmm", "sddmm", "segment_softmax", "segment_reduce", "gather", "random_walk",
                           "gat_aggregate", "neighbor_sets", "pair_product", "block_spmm", "dropout", "sgns_train",
                           "checksum")
               if not hasattr(module, f)]
    if missing:
        raise TypeError(f"backend {name!r} lacks {', '.join(missing)}")
    _BACKENDS[name] = module


def _load_native() -> ModuleType:
    if "native" not in _BACKENDS:
        from . import native  # builds the kernels on first use
        register_backend("native", native)
    return _BACKENDS["native"]


def use_backend(name: str) -> None:
    """Select the implementation every op dispatches to: ``'reference'``, ``'native'``, ``'auto'``
    or any registered name. ``'auto'`` falls back to the reference with one warning when the
    native kernels cannot be built (no compiler, say)."""
    if name in ("native", "auto"):
        try:
            _load_native()
            name = "native"
        except Exception as err:  # noqa: BLE001 - any build failure means: no native kernels here
            if name == "native":
                raise RuntimeError(f"graphkit's native kernels could not be built: {err}") from err
            warnings.warn(f"graphkit: native kernels unavailable ({type(err).__name__}: {err}); "
                          "using the pure-torch reference ops", RuntimeWarning, stacklevel=2)
            name = "reference"
    if name not in _BACKENDS:
        raise ValueError(f"unknown ops backend {name!r}; available: {sorted(set(_BACKENDS) | set(KERNEL_CHOICES))}")
    _active["name"] = name


def backend() -> str:
    """Name of the backend in use."""
    if _active["name"] is None:
        choice = os.environ.get("GRAPHKIT_KERNELS", "auto").lower()
        if choice not in KERNEL_CHOICES:
            raise ValueError(f"GRAPHKIT_KERNELS must be one of {KERNEL_CHOICES}, got {choice!r}")
        use_backend(choice)
    return _active["name"]


def _impl(device: torch.device) -> ModuleType:
    module = _BACKENDS[backend()]
    supports = getattr(module, "supports", None)
    return module if supports is None or supports(device) else reference


# ----------------------------------------------------------------------------- validation
def _check_adj(adj) -> Adj:
    if not isinstance(adj, Adj):
        raise TypeError(f"expected a graphkit.Adj, got {type(adj).__name__}; build one with graphkit.to_adj(...)")
    return adj


def _check_float(t: Tensor, name: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")


def _check_device(t: Tensor, device: torch.device, name: str, other: str = "the graph") -> None:
    """``t`` lies on ``device`` (no host synchronisation): a tensor on another device (the meta
    device, say) would otherwise crash inside a kernel or be read as garbage."""
    if t.device != device:
        raise ValueError(f"{name} is on {t.device} but {other} on {device}")


def _check_rows(t: Tensor, expected: int, name: str, what: str) -> None:
    if t.dim() == 0 or t.size(0) != expected:
        raise ValueError(f"{name} must have {expected} rows ({what}), got shape {list(t.shape)}")


def _check_ids(t: Tensor, num_nodes: int, name: str, always: bool = False) -> None:
    """In :class:`graphkit.debug` mode only (it reads the extremes back to the host), or when
    ``always``: every id of ``t`` lies in ``[0, num_nodes)``. Outside it, the backends must reject a
    bad id without crashing (the reference's indexing raises; the native kernels check their bounds)."""
    if (always or debug.enabled()) and t.numel():
        lo, hi = torch.stack([t.min(), t.max()]).tolist()
        if lo < 0 or hi >= num_nodes:
            raise ValueError(f"{name} contains node ids outside [0, {num_nodes}): "
                             f"{lo if lo < 0 else hi} is out of range")


def _check_pairs(first: Tensor, second: Tensor, num_nodes: int, device: torch.device, other: str) -> None:
    for t, name in ((first, "first"), (second, "second")):
        if not isinstance(t, Tensor) or t.dtype not in (torch.int32, torch.int64) or t.dim() != 1:
            raise TypeError(f"{name} must be a 1-D int32/int64 tensor of node ids")
        _check_device(t, device, name, other)
        _check_ids(t, num_nodes, name)
    if first.shape != second.shape:
        raise ValueError(f"first and second must have the same length, got {first.numel()} and {second.numel()}")


def _check_reduce(reduce: str) -> None:
    if reduce not in REDUCTIONS:
        raise ValueError(f"unknown reduce {reduce!r}; expected one of {REDUCTIONS}")


def _check_weight(adj: Adj, x: Tensor, weight: Optional[Tensor]) -> None:
    if weight is None:
        return
    _check_float(weight, "weight")
    _check_device(weight, adj.device, "weight")
    _check_rows(weight, adj.num_edges, "weight", "one per edge")
    if weight.dim() == 2 and (x.dim() != 3 or x.size(1) != weight.size(1)):
        raise ValueError(f"per-head weight of shape {list(weight.shape)} needs x of shape "
                         f"[N, {weight.size(1)}, C], got {list(x.shape)}")
    if weight.dim() > 2:
        raise ValueError(f"weight must have shape [E] or [E, H], got {list(weight.shape)}")


WALK_BIAS_BOUNDS = (1e-2, 1e2)


def _as_float(value, name: str) -> float:
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    try:
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}") from None


def _as_int(value, name: str) -> int:
    """``value`` as an int; a non-integer (2.5, nan, inf, True) is a TypeError/ValueError naming it."""
    if isinstance(value, (bool, str, bytes)):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError, RuntimeError):
        raise ValueError(f"{name} must be an integer, got {value!r}") from None
    if number != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return number


def _check_seed(value) -> int:
    """A seed as an int that fits the kernels' int64."""
    seed = _as_int(value, "seed")
    if not -2 ** 63 <= seed < 2 ** 63:
        raise ValueError(f"seed must fit in a signed 64-bit integer, got {value!r}")
    return seed


def _device_memory(device: torch.device) -> Optional[int]:
    """Total memory in bytes of ``device`` (the machine's RAM for the CPU), ``None`` if unknown."""
    try:
        if device.type == "cuda":
            return torch.cuda.get_device_properties(device).total_memory
        if device.type == "cpu":
            return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError, RuntimeError):
        pass
    return None


def _check_walk_size(num_walks: int, walk_length: int, device: torch.device) -> None:
    """The walks ``[num_walks, walk_length + 1]`` (int64) fit in ``device``'s memory: a huge
    ``walk_length`` is an error up front, not an allocation failure deep inside or a loop of
    ``walk_length`` steps that never ends."""
    need, total = num_walks * (walk_length + 1) * 8, _device_memory(device)
    if num_walks and total is not None and need > total:
        raise ValueError(f"walk_length={walk_length}: {num_walks} walks of {walk_length + 1} nodes would take "
                         f"{need / 2 ** 30:.3g} GiB, more than the {total / 2 ** 30:.3g} GiB of {device}")


def _check_walk_bias(value, name: str) -> float:
    """node2vec's ``p`` or ``q`` as a float within :data:`WALK_BIAS_BOUNDS`. The rejection sampler
    accepts a step with probability at least ``min(1, 1/p, 1/q) / max(1, 1/p, 1/q)``, so the bounds
    keep the worst case at 1e-4 accepted draws per try (``p = inf`` would loop forever); they cover
    every setting of the node2vec literature (``{0.25, 0.5, 1, 2, 4}``)."""
    number = _as_float(value, name)
    lo, hi = WALK_BIAS_BOUNDS
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name} must be a positive finite number in [{lo:g}, {hi:g}], got {name}={value}")
    if not lo <= number <= hi:
        raise ValueError(f"{name} must lie in [{lo:g}, {hi:g}] (bounds that keep the rejection sampling of the "
                         f"biased walks fast), got {name}={value}")
    return number


# ----------------------------------------------------------------------------- operators
def spmm(adj: Adj, x: Tensor, reduce: str = "sum", weight: Optional[Tensor] = None,
         self_weight: Optional[float] = None) -> Tensor:
    """Sparse-times-dense aggregation: ``out[i] = reduce_{j -> i} w_ij * x[j]`` (``+ s * x[i]``).

    Args:
        adj: graph of shape ``(M, N)``.
        x: ``[N, *F]`` source features.
        reduce: ``'sum'``, ``'mean'``, ``'max'`` or ``'min'``; rows without entries give 0.
        weight: ``[E]`` edge weights, or ``[E, H]`` per-head weights with ``x`` ``[N, H, C]``;
            defaults to ``adj.value`` (all ones when that is ``None``).
        self_weight: a number ``s``: add ``s * x[i]`` to row ``i`` after the reduction (a square
            graph), in the same op (GIN's ``(1 + eps) h_i + sum_j h_j``: no extra op forward
            or backward).

    Returns:
        ``[M, *F]``.
    """
    _check_adj(adj)
    _check_float(x, "x")
    _check_device(x, adj.device, "x")
    _check_rows(x, adj.shape[1], "x", "one per source node")
    _check_reduce(reduce)
    weight = adj.value if weight is None else weight
    _check_weight(adj, x, weight)
    if self_weight is not None:
        self_weight = _as_float(self_weight, "self_weight")
        if adj.shape[0] != adj.shape[1]:
            raise ValueError(f"self_weight needs a square graph (row i's own x[i]), got shape {adj.shape}")
    return _impl(x.device).spmm(adj, x, reduce, weight, self_weight)


def sddmm(adj: Adj, a: Tensor, b: Tensor, op: str = "dot") -> Tensor:
    """Per-edge values from the two endpoints' features (sampled dense-dense product).

    For the entry ``j -> i`` (row ``i``, column ``j``): ``'dot'`` gives ``<a[i], b[j]>`` over
    the last dimension, ``'add'`` gives ``a[i] + b[j]``, ``'mul'`` gives ``a[i] * b[j]``.

    Args:
        a: ``[M, *F]`` target (row) features.
        b: ``[N, *F]`` source (column) features.

    Returns:
        ``[E, *F[:-1]]`` for ``'dot'``, ``[E, *F]`` otherwise, in CSR order.
    """
    _check_adj(adj)
    _check_float(a, "a")
    _check_float(b, "b")
    _check_device(a, adj.device, "a")
    _check_device(b, adj.device, "b")
    _check_rows(a, adj.shape[0], "a", "one per target node")
    _check_rows(b, adj.shape[1], "b", "one per source node")
    if op not in _SDDMM_OPS:
        raise ValueError(f"unknown sddmm op {op!r}; expected one of {_SDDMM_OPS}")
    if a.shape[1:] != b.shape[1:]:
        raise ValueError(f"a and b must have the same feature shape, got {list(a.shape)} and {list(b.shape)}")
    if a.dtype != b.dtype:
        raise TypeError(f"a ({a.dtype}) and b ({b.dtype}) must share a dtype")
    return _impl(a.device).sddmm(adj, a, b, op)


def segment_softmax(adj: Adj, scores: Tensor) -> Tensor:
    """Softmax of per-edge ``scores`` ``[E, *H]`` over the entries of each CSR row
    (the incoming edges of each target node). Returns ``[E, *H]``."""
    _check_adj(adj)
    _check_float(scores, "scores")
    _check_device(scores, adj.device, "scores")
    _check_rows(scores, adj.num_edges, "scores", "one per edge")
    return _impl(scores.device).segment_softmax(adj, scores)


def segment_reduce(src: Tensor, adj: Adj, reduce: str = "sum") -> Tensor:
    """Reduce per-edge messages ``src`` ``[E, *F]`` (CSR order) over each row: ``[M, *F]``."""
    _check_adj(adj)
    _check_float(src, "src")
    _check_device(src, adj.device, "src")
    _check_rows(src, adj.num_edges, "src", "one per edge")
    _check_reduce(reduce)
    return _impl(src.device).segment_reduce(src, adj, reduce)


def checksum(t: Tensor) -> int:
    """A position-sensitive 64-bit checksum of ``t``'s bytes (a signed int; any one changed 8-byte
    word changes it): what the caches kept with a tensor (:func:`graphkit.adj.tensor_cache`)
    compare to notice changes that bypass the version counter, such as writes through
    ``t.numpy()``. The same number from every backend."""
    if not isinstance(t, Tensor):
        raise TypeError(f"checksum takes a tensor, got {type(t).__name__}")
    if t.device.type == "meta":
        raise ValueError("checksum needs a tensor with data, got one on the meta device")
    if t.layout != torch.strided:
        raise TypeError(f"checksum takes a dense (strided) tensor, got layout {t.layout}")
    return _impl(t.device).checksum(t)


def gather(x: Tensor, index: Tensor) -> Tensor:
    """Rows of ``x`` ``[N, *F]`` at ``index`` ``[K]``: ``[K, *F]`` (backward scatters-adds).

    ``index`` ids must lie in ``[0, N)``; checked in :class:`graphkit.debug` mode (no host
    synchronisation otherwise: an ``Adj``'s own ``row``/``col``, validated when it was built, are
    the common index)."""
    _check_float(x, "x")
    if x.dim() == 0:
        raise ValueError("x must have shape [N, *F], got a 0-d tensor")
    if not isinstance(index, Tensor) or index.dtype not in (torch.int32, torch.int64):
        got = f"dtype {index.dtype}" if isinstance(index, Tensor) else type(index).__name__
        raise TypeError(f"index must be an int32/int64 tensor, got {got}")
    if index.dim() != 1:
        raise ValueError(f"index must be 1-D [K], got shape {list(index.shape)}")
    if index.device != x.device:
        raise ValueError(f"index is on {index.device} but x on {x.device}")
    _check_ids(index, x.size(0), "index")
    return _impl(x.device).gather(x, index)


def gat_aggregate(adj: Adj, x: Tensor, score_src: Tensor, score_dst: Tensor, negative_slope: float = 0.2):
    """Fused graph-attention aggregation (Velickovic et al., eqs. 1-4), per head ``h``:
    ``alpha_ij = softmax_j(LeakyReLU(score_dst[i] + score_src[j]))`` over the entries of row ``i``,
    ``out[i] = sum_j alpha_ij * x[j]``.

    Args:
        x: ``[N, H, C]`` source features.
        score_src: ``[N, H]``; score_dst: ``[M, H]``.

    Returns:
        ``(out [M, H, C], alpha [E, H])``; the native kernel keeps no ``[E, H, C]`` tensor.
    """
    _check_adj(adj)
    for t, name in ((x, "x"), (score_src, "score_src"), (score_dst, "score_dst")):
        _check_float(t, name)
        _check_device(t, adj.device, name)
    if x.dim() != 3 or score_src.shape != x.shape[:2]:
        raise ValueError(f"x must be [N, H, C] and score_src [N, H], got {list(x.shape)} and {list(score_src.shape)}")
    _check_rows(x, adj.shape[1], "x", "one per source node")
    _check_rows(score_dst, adj.shape[0], "score_dst", "one per target node")
    if score_dst.shape[1:] != score_src.shape[1:]:
        raise ValueError(f"score_dst must be [M, {score_src.shape[1]}], got {list(score_dst.shape)}")
    negative_slope = _as_float(negative_slope, "negative_slope")
    # under autocast the features are bf16/fp16 and the scores float32: the scores follow x's dtype
    score_src, score_dst = score_src.to(x.dtype), score_dst.to(x.dtype)
    return _impl(x.device).gat_aggregate(adj, x, score_src, score_dst, negative_slope)


def random_walk(adj: Adj, start: Tensor, walk_length: int, p: float = 1.0, q: float = 1.0,
                seed: int = 0) -> Tensor:
    """Random walks along out-edges (``j -> i`` goes from ``j`` to ``i``).

    Uniform when ``p == q == 1``; otherwise node2vec's second-order walk (Grover & Leskovec,
    KDD 2016) with return parameter ``p`` and in-out parameter ``q``, sampled by rejection (no
    alias tables: memory stays O(E)). A node without out-edges repeats itself.

    Args:
        adj: square graph.
        start: ``[S]`` start nodes (ids checked in :class:`graphkit.debug` mode).
        walk_length: steps per walk.
        p, q: finite, in ``[0.01, 100]`` (:data:`WALK_BIAS_BOUNDS`): the rejection sampler's
            acceptance rate falls as ``min(1, 1/p, 1/q) / max(1, 1/p, 1/q)``, so ``p = inf``
            would never finish; a ``ValueError`` names the parameter outside.
        seed: the walks are a function of the seed (per backend).

    Returns:
        ``[S, walk_length + 1]`` int64 node ids, ``start`` in column 0.
    """
    _check_adj(adj)
    if adj.shape[0] != adj.shape[1]:
        raise ValueError(f"random walks need a square graph, got shape {adj.shape}")
    if not isinstance(start, Tensor) or start.dtype not in (torch.int32, torch.int64) or start.dim() != 1:
        raise TypeError("start must be a 1-D int32/int64 tensor of node ids")
    _check_device(start, adj.device, "start")
    impl = _impl(start.device)
    # the reference's walk reads back every step anyway, and its indexing wraps a negative id
    _check_ids(start, adj.shape[0], "start", always=impl is reference)
    if _as_int(walk_length, "walk_length") < 0:
        raise ValueError(f"walk_length must be >= 0, got {walk_length}")
    _check_walk_size(start.numel(), int(walk_length), start.device)
    p, q = _check_walk_bias(p, "p"), _check_walk_bias(q, "q")
    return impl.random_walk(adj, start, int(walk_length), float(p), float(q), _check_seed(seed))


def neighbor_sets(adj: Adj, first: Tensor, second: Tensor, which: str = "common") -> Adj:
    """For each pair ``(first[p], second[p])`` of rows of ``adj``, a set of column ids, with each
    row taken as a set: ``'common'`` (in both rows: the common neighbours of an undirected graph),
    ``'first_only'`` or ``'second_only'`` (in one row and not the other).

    The result is itself a sparse ``(P, N)`` :class:`Adj` whose row ``p`` lists pair ``p``'s ids
    in ascending order, so ``spmm(sets, h)`` sums the embeddings of each pair's common
    neighbours (with autograd), ``sets.in_degree()`` counts them, and ``spmm(sets, w[:, None])``
    gives weighted counts (Adamic-Adar, resource allocation). No dense ``N x N`` is formed.

    Args:
        adj: graph of shape ``(M, N)`` with rows sorted (every :class:`Adj` is).
        first, second: ``[P]`` int32/int64 row ids in ``[0, M)`` (checked in :class:`graphkit.debug` mode).
        which: one of :data:`NEIGHBOR_SETS`.
    """
    _check_adj(adj)
    _check_pairs(first, second, adj.shape[0], adj.device, "the graph")
    if which not in NEIGHBOR_SETS:
        raise ValueError(f"unknown neighbour set {which!r}; expected one of {NEIGHBOR_SETS}")
    return _impl(first.device).neighbor_sets(adj, first, second, which)


def sample_neighbors(adj: Adj, seeds: Tensor, fanouts: Sequence[int], replace: bool = False,
                     weighted: bool = False, seed: int = 0) -> List[Tuple[Adj, Tensor, Tensor]]:
    """Message-flow graphs of a neighbourhood sample (GraphSAGE's, Hamilton et al. 2017; DGL's
    blocks): hop ``h`` draws, for every node of its frontier, up to ``fanouts[h]`` of the node's
    in-neighbours (the entries of its ``adj`` row; ``-1``: all of them), uniformly or in proportion
    to the edge weights, without replacement or with it; the frontier of hop 0 is ``seeds``, that
    of hop ``h + 1`` every node of hop ``h``'s block. Each node draws from its own stream of
    ``(seed, hop)`` and its id, so the same seed gives the same blocks for any thread count, batch
    order or backend.

    Weighted draws: entry ``e`` of a row is drawn with probability ``w_e / sum(w)`` of the entries
    still in the row (without replacement the drawn ones leave it, as ``torch.multinomial``);
    entries of weight 0 are never drawn, so a row has at most its positive entries to give. The
    weights are quantised per row to integers (``w / max(w) * 2^24``, at least 1 when positive;
    relative error below ``3e-8``) so that the draws are exact integer arithmetic on every backend.

    Args:
        adj: the graph (rows are targets, as everywhere in graphkit).
        seeds: ``[B]`` distinct int64 node ids.
        fanouts: neighbours per node at each hop, from the seeds outwards (positive ints, or ``-1``).
        replace: draw with replacement (a node may appear several times in a row).
        weighted: draw in proportion to ``adj.value`` (one finite, non-negative weight per edge).
        seed: the sample's seed.

    Returns:
        one ``(block, n_id, e_id)`` per hop, **input layer first** (the order layers run in):
        ``block`` an :class:`Adj` ``(num_dst, num_src)`` whose columns are local ids, ``n_id``
        ``[num_src]`` the global ids of its sources, the ``num_dst`` targets first (so the next
        layer's input is the first rows of this one's output), ``e_id`` ``[E_block]`` the ids of
        the sampled edges (positions in ``adj``'s edge list when it has one, else CSR positions).
    """
    _check_adj(adj)
    if adj.shape[0] != adj.shape[1]:
        raise ValueError(f"sample_neighbors needs a square graph (a node's neighbours are nodes), got {adj.shape}")
    if not isinstance(seeds, Tensor) or seeds.dtype not in (torch.int32, torch.int64) or seeds.dim() != 1:
        raise TypeError("seeds must be a 1-D int32/int64 tensor of node ids")
    if isinstance(fanouts, int) or not len(fanouts):
        raise ValueError(f"fanouts must be a non-empty list of ints (neighbours per hop), got {fanouts!r}")
    fanouts = [_as_int(f, "fanout") for f in fanouts]
    if any(f == 0 or f < -1 for f in fanouts):
        raise ValueError(f"every fanout must be a positive int or -1 (all neighbours), got {fanouts}")
    _check_device(seeds, adj.device, "seeds")
    seeds = seeds.long()
    if seeds.numel() and (int(seeds.min()) < 0 or int(seeds.max()) >= adj.shape[0]):
        raise ValueError(f"seeds must lie in [0, {adj.shape[0]}), got {int(seeds.min())} .. {int(seeds.max())}")
    if seeds.unique().numel() != seeds.numel():
        raise ValueError("seeds must be distinct node ids")
    weight = _sampling_weight(adj) if weighted else None
    impl = _impl(adj.device) if adj.device.type == "cpu" else reference  # CPU kernels
    hop = getattr(impl, "sample_hop", reference.sample_hop)
    first_seen = getattr(impl, "first_seen", reference.first_seen)
    sort_rows = getattr(impl, "sort_rows", reference.sort_rows)
    hop_seeds = splitmix64(_check_seed(seed), len(fanouts), torch.device("cpu")).tolist()
    blocks, nodes, perm = [], seeds, adj.perm
    for fanout, hop_seed in zip(fanouts, hop_seeds):
        ptr, picks = hop(adj.rowptr, nodes, weight, fanout, bool(replace), int(hop_seed))
        n_id, col = first_seen(nodes, adj.col[picks])
        col, picks = sort_rows(ptr, col, picks)  # an Adj's columns ascend within each row
        blocks.append((Adj.trusted(ptr, col, None, (nodes.numel(), n_id.numel())), n_id,
                       picks if perm is None else perm[picks]))
        nodes = n_id
    return blocks[::-1]


def _sampling_weight(adj: Adj) -> Tensor:
    """``adj.value`` (an ``Adj`` holds one real weight per edge) as the sampler's float32 weights,
    or a clear error."""
    if adj.value is None:
        raise ValueError("weighted sampling needs edge weights: the graph's Adj has no values (build it with "
                         "Adj.from_edge_index(edge_index, num_nodes, edge_weight=weights))")
    weight = adj.value.detach().float().contiguous()
    if not bool(torch.isfinite(weight).all()) or bool((weight < 0).any()):
        raise ValueError("weighted sampling needs finite, non-negative edge weights (a weight is negative, NaN or "
                         "infinite, or too large for float32)")
    return weight


def rmat_edges(num_nodes: int, num_edges: int, a: float = 0.57, b: float = 0.19, c: float = 0.19,
               seed: int = 0) -> Tensor:
    """``[2, num_edges]`` directed R-MAT edges (Chakrabarti, Zhan & Faloutsos, SDM 2004): each
    edge descends ``ceil(log2 num_nodes)`` levels of the recursive choice of a quadrant of the
    adjacency matrix (probabilities ``a, b, c, 1 - a - b - c``), one bit of its source (row 0) and
    target (row 1) per level, and descends again when an id falls outside ``[0, num_nodes)``.
    Edge ``e`` draws from its own stream of ``(seed, e)``: the same edges on every backend and
    thread count. Ids are not permuted: high degrees sit at low ids."""
    num_nodes, num_edges = _as_int(num_nodes, "num_nodes"), _as_int(num_edges, "num_edges")
    if num_nodes < 1 or num_edges < 0:
        raise ValueError(f"rmat_edges needs num_nodes >= 1 and num_edges >= 0, got {num_nodes}, {num_edges}")
    probabilities = [_as_float(p, name) for p, name in ((a, "a"), (b, "b"), (c, "c"))]
    if min(probabilities) < 0 or sum(probabilities) > 1 or not all(math.isfinite(p) for p in probabilities):
        raise ValueError(f"R-MAT probabilities must be non-negative with a + b + c <= 1, got {a}, {b}, {c}")
    impl = getattr(_impl(torch.device("cpu")), "rmat_edges", reference.rmat_edges)
    return impl(num_nodes, num_edges, *probabilities, _check_seed(seed))


def sort_edges(edge_index: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
    """``(edge_index sorted by (target, source), perm)`` with ``edge_index[:, perm]`` the sorted
    edges, ties in input order: the CSR order of :class:`~graphkit.Adj`, so that building an
    ``Adj`` of the result needs no sort. On the CPU a stable counting sort by target and a
    parallel sort of each target's sources, O(E + N) (``torch.argsort``'s comparison sort is
    O(E log E) and serial over much of it)."""
    if not isinstance(edge_index, Tensor) or edge_index.dim() != 2 or edge_index.shape[0] != 2 or \
            edge_index.dtype not in (torch.int32, torch.int64):
        raise TypeError("edge_index must be an int32/int64 tensor of shape [2, E]")
    num_nodes = _as_int(num_nodes, "num_nodes")
    src, dst = edge_index.long()
    if src.numel() and (int(edge_index.min()) < 0 or int(edge_index.max()) >= num_nodes):
        raise ValueError(f"edge_index ids must lie in [0, {num_nodes}), got {int(edge_index.min())} .. "
                         f"{int(edge_index.max())}")
    impl = _impl(edge_index.device) if edge_index.device.type == "cpu" else reference
    perm = getattr(impl, "edge_order", reference.edge_order)(src, dst, num_nodes)
    return edge_index[:, perm], perm


def batch_graphs(node_ptr: Tensor, edge_ptr: Tensor, row_count: Tensor, col: Tensor,
                 index: Tensor) -> Tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """A batch of graphs out of a store of ``G`` graphs kept as one CSR each, concatenated: the
    block-diagonal CSR of the graphs ``index`` (in that order), each graph's rows copied and shifted
    by its offsets, O(nodes + edges of the batch), no sort.

    Args:
        node_ptr: ``[G + 1]`` graph ``g``'s nodes are ``node_ptr[g]`` .. ``node_ptr[g + 1] - 1``.
        edge_ptr: ``[G + 1]`` graph ``g``'s CSR entries are ``edge_ptr[g]`` .. ``edge_ptr[g + 1] - 1``.
        row_count: ``[node_ptr[-1]]`` entries of each node's CSR row (its in-degree).
        col: ``[edge_ptr[-1]]`` source of each entry, as an id local to its graph.
        index: ``[B]`` graph ids in ``[0, G)``.

    Returns:
        ``(rowptr [N + 1], col [E], node_index [N], edge_index [E], graph [N], graph_ptr [B + 1])``,
        int64: the batch's CSR, the store's ids of its nodes and entries (to gather features with),
        each node's position ``b`` in ``index`` and where each graph's nodes start. CPU tensors.
    """
    names = ("node_ptr", "edge_ptr", "row_count", "col", "index")
    for name, t in zip(names, (node_ptr, edge_ptr, row_count, col, index)):
        if not isinstance(t, Tensor) or t.dtype != torch.long or t.dim() != 1 or t.device.type != "cpu":
            got = f"{t.dtype} {list(t.shape)} on {t.device}" if isinstance(t, Tensor) else type(t).__name__
            raise TypeError(f"batch_graphs: {name} must be a 1-D int64 CPU tensor, got {got}")
    if node_ptr.numel() < 1 or edge_ptr.numel() != node_ptr.numel():
        raise ValueError(f"batch_graphs: node_ptr and edge_ptr must both hold G + 1 offsets, got "
                         f"{node_ptr.numel()} and {edge_ptr.numel()}")
    num_graphs = node_ptr.numel() - 1
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= num_graphs):
        raise ValueError(f"batch_graphs: graph ids must lie in [0, {num_graphs}), got "
                         f"{int(index.min())} .. {int(index.max())}")
    impl = getattr(_impl(index.device), "batch_graphs", reference.batch_graphs)  # optional in a backend
    return impl(node_ptr, edge_ptr, row_count, col, index)


def pair_product(x: Tensor, first: Tensor, second: Tensor) -> Tensor:
    """``x[first] * x[second]``: the Hadamard products of node pairs, ``[P, *F]``, in one pass.

    The input of link predictors (``MLP(h_i * h_j)``). The gradient is summed per node over the
    pairs it ends (grouped, no atomics: deterministic), instead of two index backward passes and
    two products over ``[P, F]``.

    Args:
        x: ``[N, *F]`` node features.
        first, second: ``[P]`` int32/int64 node ids in ``[0, N)`` (checked in :class:`graphkit.debug` mode).
    """
    _check_float(x, "x")
    if x.dim() == 0:
        raise ValueError("x must have shape [N, *F], got a 0-d tensor")
    _check_pairs(first, second, x.shape[0], x.device, "x")
    return _impl(x.device).pair_product(x, first, second)

def block_spmm(adj: Adj, blocks: Tensor, x: Tensor) -> Tensor:
    """Block-sparse product: ``out[i] = sum_{entries k of row i} blocks[k] @ x[col[k]]``.

    The operator of a sheaf Laplacian (a ``d x d`` block per graph entry) applied to node stalks
    without an ``[E, d, C]`` message tensor; gradients for ``blocks`` and ``x`` (the latter
    through the cached transpose, no atomics).

    Args:
        adj: graph of shape ``(M, N)``.
        blocks: ``[E, d, d]`` per-entry blocks in CSR order.
        x: ``[N, d, C]`` source stalks.

    Returns:
        ``[M, d, C]``.
    """
    _check_adj(adj)
    _check_float(blocks, "blocks")
    _check_float(x, "x")
    _check_device(blocks, adj.device, "blocks")
    _check_device(x, adj.device, "x")
    if blocks.dim() != 3 or blocks.shape[1] != blocks.shape[2] or blocks.shape[0] != adj.num_edges:
        raise ValueError(f"blocks must have shape [{adj.num_edges}, d, d], got {list(blocks.shape)}")
    if x.dim() != 3 or x.shape[0] != adj.shape[1] or x.shape[1] != blocks.shape[1]:
        raise ValueError(f"x must have shape [{adj.shape[1]}, {blocks.shape[1]}, C], got {list(x.shape)}")
    if blocks.dtype != x.dtype:
        raise TypeError(f"blocks ({blocks.dtype}) and x ({x.dtype}) must share a dtype")
    return _impl(x.device).block_spmm(adj, blocks, x)

def dropout(x: Tensor, p: float, training: bool = True, relu: bool = False,
            generator: Optional[torch.Generator] = None) -> Tensor:
    """Dropout (``relu=True``: ``dropout(relu(x))``) in one pass, the drop pattern drawn from a
    counter-based hash of a seed taken from ``generator`` (torch's default CPU generator when
    ``None``, so ``torch.manual_seed`` fixes it), identical in every backend and for any thread
    count. Kept elements are scaled by ``1 / (1 - p)``, as :func:`torch.nn.functional.dropout`.

    Args:
        x: a floating-point tensor of any shape.
        p: drop probability in ``[0, 1]``.
        training: apply dropout; when ``False`` only the ReLU (if any) is applied.
        relu: apply a ReLU first. The backward then needs no mask at all (it passes where the
            output is positive), which is why the two are fused.
    """
    _check_float(x, "x")
    p = _as_float(p, "dropout probability p")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1], got {p}")
    if not training or p == 0.0:
        return torch.relu(x) if relu else x
    if p == 1.0:
        return torch.zeros_like(x) * x  # keeps the graph (zero gradient)
    seed = int(torch.randint(-2 ** 63, 2 ** 63 - 1, (1,), generator=generator))
    return _impl(x.device).dropout(x, p, seed, relu)


def sgns_train(walks: Tensor, num_nodes: int, dim: int, window: int = 5, negative: int = 5, epochs: int = 1,
               alpha: float = 0.025, min_alpha: float = 0.0001, sample: float = 1e-3, seed: int = 0) -> Tensor:
    """Skip-gram with negative sampling over node sequences (Mikolov et al., NIPS 2013, as
    word2vec.c trains it): every context node within a randomly shrunk window predicts the centre
    node against ``negative`` nodes drawn from the unigram^0.75 distribution, frequent nodes are
    subsampled and the learning rate decays linearly from ``alpha`` to ``min_alpha``. The native
    kernel updates the vectors from several threads without locks (Hogwild), so it is a function
    of the seed with one thread (``torch.set_num_threads(1)``); the reference trains in batches.

    Args:
        walks: ``[W, L]`` int32/int64 node ids in ``[0, num_nodes)`` (random walks, say).
        num_nodes: rows of the result; dim: embedding size.
        window: context size; negative: negative samples per pair (0 for none).
        epochs: passes over the walks; sample: subsampling threshold (0 keeps every node).

    Returns:
        ``[num_nodes, dim]`` float32 input vectors (the embedding; nodes absent from the walks
        keep their random initial vectors).
    """
    if not isinstance(walks, Tensor) or walks.dtype not in (torch.int32, torch.int64) or walks.dim() != 2:
        raise TypeError("walks must be a 2-D int32/int64 tensor of node ids [W, L]")
    for name, value in (("num_nodes", num_nodes), ("dim", dim), ("window", window), ("epochs", epochs)):
        if _as_int(value, name) < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if _as_int(negative, "negative") < 0:
        raise ValueError(f"negative must be >= 0, got {negative!r}")
    _check_seed(seed)
    values = {"alpha": alpha, "min_alpha": min_alpha, "sample": sample}
    for name, value in values.items():
        if not math.isfinite(_as_float(value, name)):
            raise ValueError(f"{name} must be finite, got {name}={value}")
    if not (alpha > 0 and 0 <= min_alpha <= alpha and sample >= 0):
        raise ValueError(f"need alpha > 0, 0 <= min_alpha <= alpha and sample >= 0, got alpha={alpha}, "
                         f"min_alpha={min_alpha}, sample={sample}")
    return _impl(walks.device).sgns_train(walks, int(num_nodes), int(dim), int(window), int(negative), int(epochs),
                                          float(alpha), float(min_alpha), float(sample), int(seed))
