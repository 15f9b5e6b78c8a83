"""Dataset cards and data roots.

Cards are the TOML files of the repository's top-level ``datasets/`` folder (shipped inside the
wheel as ``graphkit/_cards``). Data roots, in order: an explicit ``root`` (``--data-root``), the
``GRAPHKIT_DATA`` environment variable, then graphkit's cache (``GRAPHKIT_CACHE``, else
``$XDG_CACHE_HOME/graphkit``, else ``~/.cache/graphkit``) where PyG and OGB download as usual.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

_PACKAGE_DIR = Path(__file__).resolve().parent.parent


class DatasetNotFoundError(FileNotFoundError):
    """A dataset is neither under the data root nor in the cache, and could not be downloaded."""


class DatasetReadError(ValueError):
    """A dataset's files are there but cannot be read (a truncated or corrupt file), or hold an
    invalid graph (an edge to a node that does not exist)."""


@dataclass(frozen=True)
class DatasetCard:
    """What ``datasets/<name>.toml`` says about one dataset."""

    name: str
    title: str
    loader: str
    task: str
    metric: str
    default_split: str
    splits: List[str]
    source: str
    nodes: int
    edges: int
    features: int
    classes: int
    folder: Optional[str] = None
    loader_name: Optional[str] = None
    normalize_features: bool = False
    aliases: List[str] = field(default_factory=list)
    url: Optional[str] = None
    generator: Optional[str] = None
    params: Dict[str, object] = field(default_factory=dict)
    graphs: int = 0  # datasets of many graphs: how many (nodes and edges are then totals)
    kind: Optional[str] = None  # graph datasets: "classification", "binary" or "regression"
    node_features: Optional[str] = None  # featureless graphs: "degree", "one-hot-degree" or "constant"

    @property
    def synthetic(self) -> bool:
        return self.loader == "synthetic"


def cards_dir() -> Path:
    """The folder holding the cards: the repository's ``datasets/`` or the wheel's copy."""
    for candidate in (_PACKAGE_DIR.parent / "datasets", _PACKAGE_DIR / "_cards"):
        if candidate.is_dir() and any(candidate.glob("*.toml")):
            return candidate
    raise FileNotFoundError(f"no dataset cards found in {_PACKAGE_DIR.parent / 'datasets'} "
                            f"or {_PACKAGE_DIR / '_cards'}")


_CARDS: Dict[str, DatasetCard] = {}


def cards() -> Dict[str, DatasetCard]:
    """All cards by name (read once)."""
    if not _CARDS:
        for path in sorted(cards_dir().glob("*.toml")):
            with open(path, "rb") as f:
                card = DatasetCard(**tomllib.load(f))
            _CARDS[card.name] = card
    return _CARDS


def ogb_card(name: str) -> DatasetCard:
    """A card for an OGB dataset without one of its own (sizes unknown until loaded)."""
    kind, task = {"ogbn": ("ogb-node", "node-classification"), "ogbl": ("ogb-link", "link-prediction"),
                  "ogbg": ("ogb-graph", "graph-prediction")}[name[:4]]
    return DatasetCard(name=name, title=f"OGB {name}", loader=kind, task=task, metric="official",
                       default_split="official", splits=["official"], source="Open Graph Benchmark",
                       nodes=0, edges=0, features=0, classes=0, folder=name.replace("-", "_"))


_TU: Dict[str, tuple] = {}


def tu_datasets() -> Dict[str, tuple]:
    """Every dataset of the TU collection (Morris et al. 2020), ``{lower-case name: (name as
    spelled in its download URL, category, graphs)}``, from ``datasets/tu_datasets.tsv`` (the
    collection's own list, ``chrsmrrs/datasets`` ``_docs/datasets.md``)."""
    if not _TU:
        lines = (cards_dir() / "tu_datasets.tsv").read_text().splitlines()[1:]
        for line in lines:
            name, category, graphs = line.split("\t")
            _TU[name.lower()] = (name, category, int(graphs))
    return _TU


def tu_card(name: str) -> DatasetCard:
    """A card for a TU dataset without one of its own, read by PyG's ``TUDataset``."""
    exact, category, graphs = tu_datasets()[name.lower()]
    return DatasetCard(name=name.lower(), title=f"TU {exact} ({category})", loader="tu", loader_name=exact,
                       folder=exact, task="graph-prediction", metric="accuracy", default_split="cv", splits=["cv"],
                       source="TUDataset collection (Morris et al., 2020)", nodes=0, edges=0, features=0,
                       classes=0, graphs=graphs)


def card(name: str) -> DatasetCard:
    """The card of ``name`` (case-insensitive; aliases allowed; any ``ogbn-``/``ogbl-``/``ogbg-`` name)."""
    if not isinstance(name, str):
        raise TypeError(f"dataset name must be a string, got {type(name).__name__}")
    key = name.lower()
    all_cards = cards()
    if key in all_cards:
        return all_cards[key]
    for c in all_cards.values():
        if key in c.aliases:
            return c
    if key.startswith(("ogbn-", "ogbl-", "ogbg-")):
        return ogb_card(key)
    if key in tu_datasets():
        return tu_card(key)
    raise ValueError(f"unknown dataset {name!r}; known datasets: {', '.join(sorted(all_cards))} "
                     "(and any OGB name such as ogbn-products or ogbg-molpcba, and any TU dataset such as ENZYMES)")


def cache_root() -> Path:
    """graphkit's writable cache for copied and downloaded datasets."""
    if os.environ.get("GRAPHKIT_CACHE"):
        return Path(os.environ["GRAPHKIT_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "graphkit" / "datasets"


def data_root(root: Optional[str] = None) -> Optional[Path]:
    """The read-only data root in use (``root``, else ``GRAPHKIT_DATA``), or ``None``.

    Raises ``DatasetNotFoundError`` when the root is given but does not exist.
    """
    chosen, origin = (root, "--data-root") if root else (os.environ.get("GRAPHKIT_DATA"), "GRAPHKIT_DATA")
    if not chosen:
        return None
    path = Path(chosen).expanduser()
    if not path.is_dir():
        raise DatasetNotFoundError(f"data root {str(path)!r} (from {origin}) does not exist or is not a folder")
    return path


def locate(c: DatasetCard, root: Optional[str] = None) -> Optional[Path]:
    """Where the dataset's files are found: under the data root, else in the cache, else ``None``."""
    if c.synthetic:
        return None
    for base in (data_root(root), cache_root()):
        if base is not None and c.folder and (base / c.folder).is_dir():
            if any(p.is_file() for p in (base / c.folder).rglob("*")):
                return base / c.folder
    return None


def stage(c: DatasetCard, root: Optional[str] = None) -> Path:
    """Make the dataset loadable from the writable cache and return the loader's root.

    Files found under the (read-only) data root are copied into the cache first, leaving out
    any ``processed/`` folder, so the loaders write only into the cache. Copies are refreshed
    when a source file's size or mtime changed.
    """
    cache = cache_root()
    cache.mkdir(parents=True, exist_ok=True)
    base = data_root(root)
    if base is not None and c.folder and (base / c.folder).is_dir() and base.resolve() != cache.resolve():
        _sync_tree(base / c.folder, cache / c.folder)
    return cache


def cache_lock(c: DatasetCard):
    """An exclusive lock on the dataset's cache folder, held while it is staged and loaded.

    PyG and OGB write ``processed/`` files in place, so a second process loading the same dataset
    at the same moment would read a half-written file; with the lock it waits, then reads the
    finished one.
    """
    from ..utils.io import file_lock
    return file_lock(cache_root() / f".{c.folder or c.name}.lock")


def _sync_tree(src: Path, dst: Path) -> None:
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if "processed" in rel.parts or "__pycache__" in rel.parts or not path.is_file():
            continue
        target = dst / rel
        stat = path.stat()
        if target.exists():
            tstat = target.stat()
            if tstat.st_size == stat.st_size and int(tstat.st_mtime) == int(stat.st_mtime):
                continue
            _drop_processed(dst)  # raw input changed: processed files are stale
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        shutil.copy2(path, tmp)
        tmp.chmod(0o644)
        os.replace(tmp, target)


def _drop_processed(folder: Path) -> None:
    for processed in folder.rglob("processed"):
        if processed.is_dir():
            shutil.rmtree(processed, ignore_errors=True)
