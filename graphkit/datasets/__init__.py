"""Datasets: ``load(name)`` returns a PyG ``Data`` read by PyG's or OGB's own loaders.

The card in the repository's ``datasets/<name>.toml`` says which loader, split and transform
apply; files are read from the data root (``root``/``--data-root``, else ``GRAPHKIT_DATA``),
copied into graphkit's cache before a loader writes ``processed/`` (the data root may be
read-only), or downloaded into the cache when absent.
"""
from __future__ import annotations

from typing import Optional, Union

import torch
from torch_geometric.data import Data

from .graphs import NODE_FEATURES, DegreeFeatures, GraphDataset
from .loaders import run_loader
from .registry import (
    DatasetCard,
    DatasetNotFoundError,
    DatasetReadError,
    cache_lock,
    cache_root,
    card,
    cards,
    data_root,
    locate,
    stage,
    tu_datasets,
)
from .synthetic import GENERATORS, csbm, random_split_masks, rmat, uniform

__all__ = ["load", "GraphDataset", "DegreeFeatures", "NODE_FEATURES", "card", "cards", "names", "locate",
           "data_root", "cache_root", "cache_lock", "DatasetCard", "DatasetNotFoundError", "DatasetReadError",
           "tu_datasets", "check_edge_ids", "csbm", "rmat", "uniform", "random_split_masks"]


def names() -> list:
    """Names of the datasets with a card."""
    return sorted(cards())


def check_edge_ids(data: Data, name: str) -> None:
    """Raise ``DatasetReadError`` when an edge names a node id outside ``[0, num_nodes)``."""
    edge_index = getattr(data, "edge_index", None)
    if edge_index is None or edge_index.numel() == 0:
        return
    num_nodes = data.num_nodes
    low, high = int(edge_index.min()), int(edge_index.max())
    if low < 0 or high >= num_nodes:
        bad = low if low < 0 else high
        raise DatasetReadError(f"dataset {name!r} has an edge to node {bad}, which does not exist: its "
                               f"{num_nodes} nodes have ids 0 .. {num_nodes - 1}. The edge file is corrupt.")


def load(name: str, root: Optional[str] = None, split: Optional[str] = None,
         normalize_features: Optional[bool] = None, node_features: Optional[str] = None,
         **params) -> Union[Data, GraphDataset]:
    """Load a dataset as a PyG ``Data``.

    Args:
        name: a card name (``cora``, ``citeseer``, ``pubmed``, ``cornell``, ``texas``, ``wisconsin``,
            ``film``, ``blogcatalog``, ``csbm``, ``rmat``, ``random``, ...) or any OGB name.
        root: data root holding the raw files (default ``GRAPHKIT_DATA``); treated as read-only.
        split: one of the card's splits (``public``/``geom-gcn``/``full``/``random`` for Planetoid);
            default the card's.
        normalize_features: row-normalise ``x`` (default: as the card says; on for Planetoid).
        node_features: for datasets of featureless graphs (IMDB-BINARY, ...): ``"degree"``,
            ``"one-hot-degree"`` or ``"constant"`` (:class:`DegreeFeatures`; default: the card's).
        **params: generator parameters for synthetic datasets (``num_nodes``, ``homophily``, ...).

    Returns:
        for a dataset of many graphs (TU, ``ogbg-*``), a :class:`GraphDataset`; else
        ``Data`` with ``x``, ``y``, ``edge_index`` and, where defined, ``train_mask``, ``val_mask``,
        ``test_mask`` (``[N]`` or ``[N, S]`` for S fixed splits) and ``split_edge`` for OGB link data.
        ``data.name`` and ``data.split`` record what was loaded.
    """
    c = card(name)
    if node_features is not None and c.task != "graph-prediction":
        raise ValueError(f"node_features applies to datasets of featureless graphs; {c.name!r} is a {c.task} dataset")
    split = c.default_split if split is None else split
    if split not in c.splits:
        raise ValueError(f"dataset {c.name!r} has no split {split!r}; available: {c.splits}")
    if c.synthetic:
        unknown = set(params) - set(c.params)
        if unknown:
            raise ValueError(f"unknown parameters for {c.name!r}: {sorted(unknown)}; known: {sorted(c.params)}")
        data = GENERATORS[c.generator](**{**c.params, **params})
    else:
        if params:
            raise ValueError(f"dataset {c.name!r} takes no generator parameters, got {sorted(params)}")
        base = data_root(root)
        looked_in = f"{base / c.folder} (data root)" if base is not None else "no data root (GRAPHKIT_DATA unset)"
        looked_in += f" and {cache_root() / c.folder} (cache)"
        source = base / c.folder if base is not None and c.folder and (base / c.folder).is_dir() else None
        with cache_lock(c):
            data = run_loader(c, stage(c, root), split, looked_in, source)
    if c.task == "graph-prediction":
        return _graph_dataset(c, data, split, node_features)
    check_edge_ids(data, c.name)
    for mask in ("train_mask", "val_mask", "test_mask"):  # PyG's geom-gcn Planetoid masks are uint8
        if getattr(data, mask, None) is not None and data[mask].dtype != torch.bool:
            data[mask] = data[mask].bool()
    if normalize_features if normalize_features is not None else c.normalize_features:
        data.x = data.x / data.x.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    data.name, data.split = c.name, split
    return data


OGB_METRICS = {"acc": "accuracy", "rocauc": "rocauc", "ap": "ap", "rmse": "rmse", "mae": "mae"}


def _graph_dataset(c: DatasetCard, dataset, split: str, node_features: Optional[str]) -> GraphDataset:
    """The PyG dataset of many graphs as a :class:`GraphDataset` (featureless graphs given the
    card's or the asked node features)."""
    chosen = node_features or c.node_features
    if chosen is not None:
        if chosen not in NODE_FEATURES:
            raise ValueError(f"node_features must be one of {NODE_FEATURES}, got {chosen!r}")
        x = getattr(dataset[0], "x", None)
        if x is not None and x.numel() and node_features is not None:
            raise ValueError(f"dataset {c.name!r} has node features of its own; node_features applies to "
                             "featureless graphs")
        max_degree = 0
        if chosen == "one-hot-degree":
            max_degree = max(int(torch.bincount(g.edge_index[1], minlength=g.num_nodes).max())
                             if g.edge_index.numel() else 0 for g in dataset)
        dataset.transform = DegreeFeatures(chosen, max_degree)
    split_idx = getattr(dataset, "split_idx", None)
    evaluator = c.name if c.loader == "ogb-graph" else None
    kind = c.kind
    if kind is None:  # a card made on the fly (any TU or OGB name): from the labels / OGB's task type
        task_type = getattr(dataset, "task_type", "")
        y = dataset[0].y
        kind = ("binary" if "binary" in task_type else "regression" if "regression" in task_type or
                y.is_floating_point() else "classification")
    metric = c.metric
    if metric == "official":  # OGB's eval_metric in graphkit's names
        official = getattr(dataset, "eval_metric", "acc")
        if official not in OGB_METRICS:
            raise ValueError(f"dataset {c.name!r} is scored by {official!r}, which graph-level prediction does not "
                             f"support (it supports {sorted(set(OGB_METRICS.values()))})")
        metric = OGB_METRICS[official]
    if kind == "regression" and metric == "accuracy":
        metric = "mae"
    return GraphDataset(c.name, dataset, kind, metric, split_idx, evaluator, split)
