"""Glue from dataset cards to PyG's and OGB's own loaders (no hand-written parsers).

Each function takes the card, the writable root the loader may write into, and the split,
and returns a PyG ``Data`` with ``train_mask``/``val_mask``/``test_mask`` where the dataset
has node splits (``[N]``, or ``[N, S]`` for S fixed splits such as geom-gcn's 10).
"""
from __future__ import annotations

import contextlib
import os
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Callable, Dict, List, Optional

import numpy as np
import scipy.io
import torch
from torch_geometric.data import Data

from .registry import DatasetCard, DatasetNotFoundError, DatasetReadError


def _planetoid(card: DatasetCard, root: Path, split: str) -> Data:
    from torch_geometric.datasets import Planetoid
    return Planetoid(str(root), name=card.loader_name, split=split)[0]


def _webkb(card: DatasetCard, root: Path, split: str) -> Data:
    from torch_geometric.datasets import WebKB
    return WebKB(str(root), name=card.loader_name)[0]


def _actor(card: DatasetCard, root: Path, split: str) -> Data:
    from torch_geometric.datasets import Actor
    return Actor(str(root / card.folder))[0]


@contextlib.contextmanager
def _ogb_torch_load():
    """ogb 1.3.6 calls ``torch.load`` without ``weights_only``; torch >= 2.6 defaults to True and
    refuses its pickles (snap-stanford/ogb#497). Allow exactly the classes those files hold."""
    safe_globals = getattr(torch.serialization, "safe_globals", None)
    if safe_globals is None:  # torch < 2.5 loads them as it always did
        yield
        return
    from torch_geometric.data.data import DataEdgeAttr, DataTensorAttr
    from torch_geometric.data.storage import GlobalStorage
    allowed = [DataEdgeAttr, DataTensorAttr, GlobalStorage, np.ndarray, np.dtype]
    reconstruct = (np._core if hasattr(np, "_core") else np.core).multiarray._reconstruct
    allowed.append((reconstruct, "numpy.core.multiarray._reconstruct"))
    allowed += [getattr(np.dtypes, n) for n in ("Int64DType", "Int32DType", "Float32DType", "Float64DType")
                if hasattr(np, "dtypes") and hasattr(np.dtypes, n)]
    with safe_globals(allowed):
        yield


def _masks_from_index(num_nodes: int, split_idx: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    masks = {}
    for key, mask_name in (("train", "train_mask"), ("valid", "val_mask"), ("test", "test_mask")):
        mask = torch.zeros(num_nodes, dtype=torch.bool)
        mask[split_idx[key]] = True
        masks[mask_name] = mask
    return masks


def _ogb_node(card: DatasetCard, root: Path, split: str) -> Data:
    from ogb.nodeproppred import PygNodePropPredDataset
    with _ogb_torch_load():
        dataset = PygNodePropPredDataset(name=card.name, root=str(root))
        split_idx = dataset.get_idx_split()
    data = dataset[0]
    data.y = data.y.view(-1) if data.y.dim() == 2 and data.y.size(1) == 1 else data.y
    for name, mask in _masks_from_index(data.num_nodes, split_idx).items():
        data[name] = mask
    return data


def _ogb_link(card: DatasetCard, root: Path, split: str) -> Data:
    from ogb.linkproppred import PygLinkPropPredDataset
    with _ogb_torch_load():
        dataset = PygLinkPropPredDataset(name=card.name, root=str(root))
        split_edge = dataset.get_edge_split()
    data = dataset[0]
    data.split_edge = split_edge
    return data


def _blogcatalog(card: DatasetCard, root: Path, split: str) -> Data:
    path = root / card.folder / "blogcatalog.mat"
    if not path.is_file():
        from torch_geometric.data import download_url
        download_url(card.url, str(root / card.folder), filename="blogcatalog.mat")
    mat = scipy.io.loadmat(str(path))
    network = mat["network"].tocoo()
    edge_index = torch.from_numpy(np.vstack([network.row, network.col]).astype(np.int64))
    y = torch.from_numpy(np.asarray(mat["group"].todense(), dtype=np.float32))
    return Data(edge_index=edge_index, y=y, num_nodes=network.shape[0])


def per_class_splits(y: torch.Tensor, train_per_class: int = 20, val_per_class: int = 30, num_splits: int = 10,
                     seed: int = 0) -> Dict[str, torch.Tensor]:
    """Shchur et al.'s protocol ("Pitfalls of Graph Neural Network Evaluation", 2018): per split,
    ``train_per_class`` random nodes of every class for training, ``val_per_class`` for validation
    and the rest for testing. Split ``k`` draws with seed ``seed + k``; masks ``[N, num_splits]``."""
    num_nodes = y.numel()
    masks = {name: torch.zeros(num_nodes, num_splits, dtype=torch.bool) for name in ("train_mask", "val_mask")}
    for k in range(num_splits):
        generator = torch.Generator().manual_seed(seed + k)
        for c in range(int(y.max()) + 1):
            members = (y == c).nonzero().view(-1)
            members = members[torch.randperm(members.numel(), generator=generator)]
            masks["train_mask"][members[:train_per_class], k] = True
            masks["val_mask"][members[train_per_class:train_per_class + val_per_class], k] = True
    masks["test_mask"] = ~(masks["train_mask"] | masks["val_mask"])
    return masks


def _shchur(data: Data, split: str) -> Data:
    for name, mask in per_class_splits(data.y).items():
        data[name] = mask
    return data


def _amazon(card: DatasetCard, root: Path, split: str) -> Data:
    from torch_geometric.datasets import Amazon
    return _shchur(Amazon(str(root), name=card.loader_name)[0], split)


def _coauthor(card: DatasetCard, root: Path, split: str) -> Data:
    from torch_geometric.datasets import Coauthor
    return _shchur(Coauthor(str(root), name=card.loader_name)[0], split)


def _wikipedia(card: DatasetCard, root: Path, split: str) -> Data:
    """Chameleon and Squirrel with the geom-gcn preprocessing and its 10 splits (masks ``[N, 10]``)."""
    from torch_geometric.datasets import WikipediaNetwork
    return WikipediaNetwork(str(root), name=card.loader_name, geom_gcn_preprocess=True)[0]


def _heterophilous(card: DatasetCard, root: Path, split: str) -> Data:
    """Platonov et al.'s heterophilous graphs with their 10 splits (masks ``[N, 10]``)."""
    from torch_geometric.datasets import HeterophilousGraphDataset
    return HeterophilousGraphDataset(str(root), name=card.loader_name)[0]


def _tu(card: DatasetCard, root: Path, split: str):
    """A TU dataset (Morris et al. 2020) by PyG's ``TUDataset``: ``x`` = the one-hot node labels
    (and none for the social sets, which have none)."""
    from torch_geometric.datasets import TUDataset
    return TUDataset(str(root), name=card.loader_name or card.folder)


def _ogb_graph(card: DatasetCard, root: Path, split: str):
    """An ``ogbg-*`` dataset by OGB's ``PygGraphPropPredDataset``, with its official split."""
    from ogb.graphproppred import PygGraphPropPredDataset
    with _ogb_torch_load():
        dataset = PygGraphPropPredDataset(name=card.name, root=str(root))
        dataset.split_idx = dataset.get_idx_split()
    return dataset


def _lrgb_raw_from_csv(raw: Path) -> None:
    """LRGB's Peptides-func graphs, rebuilt as its own processing built them (``PeptidesFunctionalDataset
    .process`` of ``vijaydwivedi75/lrgb``: OGB's ``smiles2graph`` of every SMILES, labels parsed from
    their string), written as PyG's ``LRGBDataset`` reads them: ``raw/{train,val,test}.pt``, lists of
    ``(x, edge_attr, edge_index, y)`` in the order of the split file. Needs rdkit (the ``chem`` extra)."""
    import ast
    import gzip
    import pickle

    from tqdm.auto import tqdm

    from ..utils import atomic_save
    try:
        import rdkit  # noqa: F401  (smiles2graph imports it lazily and fails late without it)
        from ogb.utils import smiles2graph
    except ImportError as err:
        raise ImportError("rebuilding Peptides-func from its SMILES needs rdkit: pip install 'graphkit[chem]' "
                          "(or put LRGB's raw/{train,val,test}.pt next to the CSV)") from err
    import csv
    with gzip.open(raw / "peptide_multi_class_dataset.csv.gz", "rt", newline="") as f:
        rows = list(csv.DictReader(f))
    with open(raw / "splits_random_stratified_peptide.pickle", "rb") as f:
        splits = pickle.load(f)
    graphs = []
    for row in tqdm(rows, desc="peptides-func: SMILES to graphs (rdkit)", unit="graph"):
        g = smiles2graph(row["smiles"])
        graphs.append((torch.from_numpy(g["node_feat"]), torch.from_numpy(g["edge_feat"]),
                       torch.from_numpy(g["edge_index"]),
                       torch.tensor([ast.literal_eval(row["labels"])], dtype=torch.float)))
    for part in ("train", "val", "test"):
        atomic_save([graphs[int(i)] for i in splits[part]], raw / f"{part}.pt")


def _lrgb(card: DatasetCard, root: Path, split: str):
    """Peptides-func by PyG's ``LRGBDataset``, its three parts as one dataset with their split.
    Without LRGB's ``raw/{train,val,test}.pt`` (PyG's download), they are rebuilt from the CSV and
    the split file of LRGB (:func:`_lrgb_raw_from_csv`) before ``LRGBDataset`` runs, which would
    otherwise delete ``raw/`` to download."""
    from torch_geometric.datasets import LRGBDataset

    from .graphs import GraphList
    raw = root / card.folder / "raw"
    if not all((raw / f"{part}.pt").is_file() for part in ("train", "val", "test")):
        if not (raw / "peptide_multi_class_dataset.csv.gz").is_file():
            raise DatasetNotFoundError(f"dataset {card.name!r}: neither LRGB's raw/{{train,val,test}}.pt nor its "
                                       f"CSV and split file are in {raw}")
        _lrgb_raw_from_csv(raw)
    parts = [LRGBDataset(str(root), name=card.loader_name, split=part) for part in ("train", "val", "test")]
    graphs = GraphList(g for part in parts for g in part)
    sizes = [len(part) for part in parts]
    bounds = [0, sizes[0], sizes[0] + sizes[1], sum(sizes)]
    graphs.split_idx = {key: torch.arange(bounds[k], bounds[k + 1]) for k, key in enumerate(("train", "valid", "test"))}
    return graphs


LOADERS: Dict[str, Callable[[DatasetCard, Path, str], Data]] = {
    "planetoid": _planetoid, "webkb": _webkb, "actor": _actor, "ogb-node": _ogb_node,
    "ogb-link": _ogb_link, "blogcatalog": _blogcatalog, "tu": _tu, "ogb-graph": _ogb_graph, "amazon": _amazon,
    "coauthor": _coauthor, "wikipedia": _wikipedia, "heterophilous": _heterophilous, "lrgb": _lrgb,
}


_COMPLETE = ".graphkit-complete"  # written (temp name, then rename) once a processed/ folder loaded


def _processed_dirs(folder: Path) -> List[Path]:
    return [p for p in folder.rglob("processed") if p.is_dir()] if folder.is_dir() else []


def _bad_files(processed: Path) -> List[Path]:
    """The ``.pt`` files of ``processed`` that are not complete torch (zip) archives."""
    bad = []
    for path in sorted(processed.rglob("*.pt")):
        try:
            with zipfile.ZipFile(path) as archive:
                if archive.testzip() is not None:
                    bad.append(path)
        except (zipfile.BadZipFile, OSError, EOFError):
            bad.append(path)
    return bad


def _mark_complete(folder: Path) -> None:
    for processed in _processed_dirs(folder):
        marker = processed / _COMPLETE
        if not marker.exists():
            tmp = processed / (_COMPLETE + f".{os.getpid()}.part")
            tmp.write_text("processed files complete\n")
            os.replace(tmp, marker)


def _drop_unfinished(card: DatasetCard, folder: Path) -> None:
    """Processed folders never marked complete (an interrupted first processing, e.g. kill -9) whose
    files are truncated: remove them (cache only) so that the loader processes again."""
    for processed in _processed_dirs(folder):
        if (processed / _COMPLETE).exists():
            continue
        bad = _bad_files(processed)
        if bad:
            warnings.warn(f"dataset {card.name!r}: processed file(s) {', '.join(map(str, bad))} in graphkit's "
                          f"cache are truncated or corrupt (an interrupted processing?); removed {processed} "
                          "and processing again", stacklevel=4)
            shutil.rmtree(processed, ignore_errors=True)


def _file_in_traceback(err: BaseException, folder: Path) -> Optional[Path]:
    """The file under ``folder`` the failing code was reading, found in the traceback's locals."""
    tb, found = err.__traceback__, None
    base = str(folder.resolve())
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, (str, Path)) and len(str(value)) < 4096:
                try:
                    path = Path(value).resolve()
                except (OSError, ValueError):
                    continue
                if str(path).startswith(base + os.sep) and path.is_file():
                    found = path  # keep the innermost
        tb = tb.tb_next
    return found


def _is_download_error(err: BaseException, had_files: bool) -> bool:
    if isinstance(err, DatasetNotFoundError):
        return True
    if isinstance(err, OSError):  # URLError is an OSError
        return True
    if isinstance(err, EOFError):  # OGB's download prompt, or a truncated pickle of files we have
        return not had_files or "when reading a line" in str(err)
    return False


def _run_loader(card: DatasetCard, root: Path, split, folder: Path, looked_in: str):
    """One attempt of the card's loader; a failed download is a :class:`DatasetNotFoundError`."""
    had_files = folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))
    try:
        return LOADERS[card.loader](card, root, split)
    except Exception as err:
        if _is_download_error(err, had_files):
            raise _not_found(card, root, looked_in, err) from err
        raise


def _not_found(card: DatasetCard, root: Path, looked_in: str, err: BaseException) -> DatasetNotFoundError:
    if isinstance(err, DatasetNotFoundError):
        return err
    return DatasetNotFoundError(
        f"dataset {card.name!r} is not available: looked in {looked_in}, and downloading it into "
        f"{root} failed ({type(err).__name__}: {err}). Set GRAPHKIT_DATA or --data-root to a folder "
        f"holding {card.folder}/, or connect to the internet."
    )


def _read_error(card: DatasetCard, folder: Path, err: BaseException, source: Optional[Path]) -> DatasetReadError:
    path = _file_in_traceback(err, folder)
    where = f"file {path}" if path is not None else f"the files under {folder}"
    if source is not None and path is not None:
        try:
            where += f" (a copy of {source / path.resolve().relative_to(folder.resolve())})"
        except ValueError:
            pass
    elif source is not None:
        where += f" (copied from {source})"
    return DatasetReadError(f"dataset {card.name!r}: could not read {where}: {type(err).__name__}: {err}. "
                            "The file is probably truncated or corrupt: replace it with a good copy.")


def run_loader(card: DatasetCard, root: Path, split: str, looked_in: str, source: Optional[Path] = None) -> Data:
    """Call the card's loader; turn a failed download into one clear ``DatasetNotFoundError`` and an
    unreadable (truncated, corrupt) file into a ``DatasetReadError`` naming it.

    ``processed/`` files of graphkit's cache (``root``) that fail to load are removed, with a warning,
    and the dataset is processed again once. ``source``: the data-root folder the files were copied
    from (named in errors; never written).
    """
    folder = root / card.folder if card.folder else root
    _drop_unfinished(card, folder)
    try:
        data = _run_loader(card, root, split, folder, looked_in)
    except DatasetNotFoundError:
        raise
    except Exception as err:
        culprit = _file_in_traceback(err, folder)
        processed = [p for p in _processed_dirs(folder) if any(f.is_file() for f in p.rglob("*"))]
        in_processed = culprit is not None and "processed" in culprit.relative_to(folder.resolve()).parts
        if not processed or (culprit is not None and not in_processed):  # a raw file is unreadable
            raise _read_error(card, folder, err, source) from err
        named = [culprit] if culprit is not None else [b for p in processed for b in _bad_files(p)]
        warnings.warn(f"dataset {card.name!r}: loading from graphkit's cache failed ({type(err).__name__}: {err}) "
                      f"reading {', '.join(map(str, named)) if named else 'the processed files under ' + str(folder)}; "
                      "removed its processed/ folder and processing again", stacklevel=3)
        for p in processed:
            shutil.rmtree(p, ignore_errors=True)
        try:
            data = _run_loader(card, root, split, folder, looked_in)
        except DatasetNotFoundError:
            raise
        except Exception as err2:
            raise _read_error(card, folder, err2, source) from err2
    _mark_complete(folder)
    return data
