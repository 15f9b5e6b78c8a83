"""Datasets: ``load(name)`` returns a PyG ``Data`` read by PyG's or OGB's own loaders.

The card in the repository's ``datasets/<name>.toml`` says which loader, split and transform
apply; files are read from the data root (``root``/``--data-root``, else ``GRAPHKIT_DATA``),
copied into graphkit's cache before a loader writes ``processed/`` (the data root may be
read-only), or downloaded into the cache when absent.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch_geometric.data import Data

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
)
from .synthetic import GENERATORS, csbm, random_split_masks, rmat, uniform

__all__ = ["load", "card", "cards", "names", "locate", "data_root", "cache_root", "cache_lock", "DatasetCard",
           "DatasetNotFoundError", "DatasetReadError", "check_edge_ids", "csbm", "rmat", "uniform",
           "random_split_masks"]


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
         normalize_features: Optional[bool] = None, **params) -> Data:
    """Load a dataset as a PyG ``Data``.

    Args:
        name: a card name (``cora``, ``citeseer``, ``pubmed``, ``cornell``, ``texas``, ``wisconsin``,
            ``film``, ``blogcatalog``, ``csbm``, ``rmat``, ``random``, ...) or any OGB name.
        root: data root holding the raw files (default ``GRAPHKIT_DATA``); treated as read-only.
        split: one of the card's splits (``public``/``geom-gcn``/``full``/``random`` for Planetoid);
            default the card's.
        normalize_features: row-normalise ``x`` (default: as the card says; on for Planetoid).
        **params: generator parameters for synthetic datasets (``num_nodes``, ``homophily``, ...).

    Returns:
        ``Data`` with ``x``, ``y``, ``edge_index`` and, where defined, ``train_mask``, ``val_mask``,
        ``test_mask`` (``[N]`` or ``[N, S]`` for S fixed splits) and ``split_edge`` for OGB link data.
        ``data.name`` and ``data.split`` record what was loaded.
    """
    c = card(name)
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
    check_edge_ids(data, c.name)
    for mask in ("train_mask", "val_mask", "test_mask"):  # PyG's geom-gcn Planetoid masks are uint8
        if getattr(data, mask, None) is not None and data[mask].dtype != torch.bool:
            data[mask] = data[mask].bool()
    if normalize_features if normalize_features is not None else c.normalize_features:
        data.x = data.x / data.x.sum(dim=-1, keepdim=True).clamp(min=1e-12)
    data.name, data.split = c.name, split
    return data
