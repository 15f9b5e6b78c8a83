"""Synthetic graphs: a contextual SBM with controllable homophily, R-MAT and uniform G(n, m).

All generators are vectorised (no Python loop over nodes or edges) and seeded: the same seed
gives the same graph. The CSBM and R-MAT graphs come with their edges in CSR order (sorted by
target, then source, by graphkit's O(E) sort), so building their :class:`~graphkit.Adj` needs no
sort: a 10M-node graph is generated in seconds, not minutes.
"""
from __future__ import annotations

import math
import numbers

import torch
from torch import Tensor
from torch_geometric.data import Data
from torch_geometric.utils import coalesce

from .. import ops
from ..adj import Adj


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _check_real(name: str, value, minimum: float = -math.inf) -> None:
    if (isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value)
            or value < minimum):
        limit = "" if minimum == -math.inf else f" >= {minimum}"
        raise ValueError(f"{name} must be a finite number{limit}, got {value!r}")


def random_split_masks(num_nodes: int, train: float = 0.6, val: float = 0.2,
                       generator: torch.Generator = None) -> dict:
    """Random ``train/val/test`` node masks with the given fractions (test = the rest)."""
    perm = torch.randperm(num_nodes, generator=generator)
    n_train, n_val = int(round(train * num_nodes)), int(round(val * num_nodes))
    masks = {}
    for name, idx in (("train_mask", perm[:n_train]), ("val_mask", perm[n_train:n_train + n_val]),
                      ("test_mask", perm[n_train + n_val:])):
        mask = torch.zeros(num_nodes, dtype=torch.bool)
        mask[idx] = True
        masks[name] = mask
    return masks


def csbm(num_nodes: int = 3000, num_classes: int = 5, num_features: int = 128, avg_degree: float = 10.0,
         homophily: float = 0.8, feature_snr: float = 1.0, seed: int = 0) -> Data:
    """Contextual stochastic block model (Deshpande et al., NeurIPS 2018).

    Nodes get balanced random classes; each of the ``num_nodes * avg_degree / 2`` undirected edges
    joins a uniform node to a node of its own class with probability ``homophily`` (edge
    homophily), otherwise to a node of another class. Features are ``mu_y + noise`` with class
    means ``mu_c ~ N(0, (feature_snr^2 / num_features) I)`` scaled so that ``feature_snr`` is the
    ratio of the mean distance between classes to the noise norm, noise ``~ N(0, I / num_features)``.

    Returns ``Data(x [N, F], y [N], edge_index [2, E] undirected, without duplicates, in CSR order,
    train/val/test masks 60/20/20)``.
    """
    _check_real("homophily", homophily)
    if not 0.0 <= homophily <= 1.0:
        raise ValueError(f"homophily must lie in [0, 1], got {homophily}")
    _check_int("num_nodes", num_nodes, 1)
    _check_int("num_classes", num_classes, 1)
    _check_int("num_features", num_features, 1)
    _check_int("seed", seed, 0)
    _check_real("avg_degree", avg_degree, 0.0)
    _check_real("feature_snr", feature_snr)
    if num_classes < 2 or num_nodes < num_classes:
        raise ValueError(f"need at least 2 classes and as many nodes as classes, got {num_classes}, {num_nodes}")
    gen = torch.Generator().manual_seed(seed)
    y = torch.randperm(num_nodes, generator=gen) % num_classes
    order = torch.argsort(y, stable=True)                       # nodes grouped by class
    counts = torch.bincount(y, minlength=num_classes)
    start = torch.cumsum(counts, 0) - counts
    num_edges = int(num_nodes * avg_degree / 2)
    src = torch.randint(0, num_nodes, (num_edges,), generator=gen)
    same = torch.rand(num_edges, generator=gen) < homophily
    shift = torch.randint(1, num_classes, (num_edges,), generator=gen)
    target_class = torch.where(same, y[src], (y[src] + shift) % num_classes)
    offset = (torch.rand(num_edges, generator=gen) * counts[target_class]).long()
    dst = order[start[target_class] + offset]
    keep = src != dst
    edge_index = _undirected(src[keep], dst[keep], num_nodes)
    means = torch.randn(num_classes, num_features, generator=gen) * (feature_snr / math.sqrt(num_features))
    x = torch.randn(num_nodes, num_features, generator=gen).div_(math.sqrt(num_features))
    x += means.index_select(0, y)  # in place: a 10M x 128 graph holds one [N, F] tensor, not three
    return Data(x=x, y=y, edge_index=edge_index, num_nodes=num_nodes,
                **random_split_masks(num_nodes, generator=gen))


def _undirected(src: Tensor, dst: Tensor, num_nodes: int) -> Tensor:
    """Both directions of every edge, each pair once, sorted by (target, source): PyG's
    ``to_undirected`` with an O(E) sort."""
    edge_index, _ = ops.sort_edges(torch.stack([torch.cat([src, dst]), torch.cat([dst, src])]), num_nodes)
    key = edge_index[1] * num_nodes + edge_index[0]
    first = torch.ones_like(key, dtype=torch.bool)
    first[1:] = key[1:] != key[:-1]
    return edge_index[:, first]


def _check_attributes(num_nodes, num_features, num_classes, seed) -> None:
    _check_int("num_nodes", num_nodes, 1)
    _check_int("num_features", num_features, 0)
    _check_int("num_classes", num_classes, 1)
    _check_int("seed", seed, 0)


def _node_attributes(num_nodes: int, num_features: int, num_classes: int, gen: torch.Generator) -> dict:
    x = torch.randn(num_nodes, num_features, generator=gen)
    y = torch.randint(0, num_classes, (num_nodes,), generator=gen)
    return dict(x=x, y=y, num_nodes=num_nodes, **random_split_masks(num_nodes, generator=gen))


def rmat_edges(num_nodes: int, num_edges: int, a: float = 0.57, b: float = 0.19, c: float = 0.19,
               seed: int = 0) -> Tensor:
    """``[2, num_edges]`` directed R-MAT edges (Chakrabarti et al., SDM 2004), power-law degrees
    (:func:`graphkit.ops.rmat_edges`, every edge drawn in parallel), node ids randomly permuted so
    that high degree is not tied to low ids, sorted by (target, source)."""
    _check_int("num_nodes", num_nodes, 1)
    _check_int("num_edges", num_edges, 0)
    _check_int("seed", seed, 0)
    for name, p in (("a", a), ("b", b), ("c", c)):
        _check_real(name, p)
    if min(a, b, c) < 0 or a + b + c > 1:
        raise ValueError(f"R-MAT probabilities must be non-negative with a+b+c <= 1, got {a}, {b}, {c}")
    edges = ops.rmat_edges(num_nodes, num_edges, a, b, c, seed)
    relabel = torch.randperm(num_nodes, generator=torch.Generator().manual_seed(seed))
    return ops.sort_edges(relabel[edges], num_nodes)[0]


def rmat(num_nodes: int = 100_000, num_edges: int = 2_000_000, num_features: int = 64, num_classes: int = 10,
         a: float = 0.57, b: float = 0.19, c: float = 0.19, seed: int = 0) -> Data:
    """An R-MAT graph with Gaussian features and labels that a GNN can learn: ``y = argmax((x +
    mean of the in-neighbours' x) W)`` for a random Gaussian ``W [F, C]`` (a node without
    in-neighbours reads its own ``x`` only), so the labels depend on the graph as well as on the
    features; balanced classes are not guaranteed (power-law graphs skew them a little)."""
    _check_attributes(num_nodes, num_features, num_classes, seed)
    if num_features < 1:
        raise ValueError("rmat's labels are read from the features: num_features must be at least 1")
    gen = torch.Generator().manual_seed(seed + 1)
    edge_index = rmat_edges(num_nodes, num_edges, a, b, c, seed)
    attributes = _node_attributes(num_nodes, num_features, num_classes, gen)
    teacher = torch.randn(num_features, num_classes, generator=gen)
    z = attributes["x"] @ teacher  # [N, C]: project first, then average (the mean commutes with W)
    adj = Adj.from_edge_index(edge_index, num_nodes)  # already in CSR order: no sort
    attributes["y"] = (z + ops.spmm(adj, z, "mean")).argmax(dim=1)
    return Data(edge_index=edge_index, **attributes)


def uniform(num_nodes: int = 100_000, num_edges: int = 2_000_000, num_features: int = 64,
            num_classes: int = 10, seed: int = 0, dedupe: bool = False) -> Data:
    """``num_edges`` directed edges with uniform endpoints (G(n, m); duplicates kept unless
    ``dedupe``), Gaussian features and random labels."""
    _check_attributes(num_nodes, num_features, num_classes, seed)
    _check_int("num_edges", num_edges, 0)
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    if dedupe:
        edge_index = coalesce(edge_index, num_nodes=num_nodes)
    return Data(edge_index=edge_index, **_node_attributes(num_nodes, num_features, num_classes, gen))


GENERATORS = {"csbm": csbm, "rmat": rmat, "uniform": uniform}
