"""Glue from dataset cards to PyG's and OGB's own loaders (no hand-written parsers).

Each function takes the card, the writable root the loader may write into, and the split,
and returns a PyG ``Data`` with ``train_mask``/``val_mask``/``test_mask`` where the dataset
has node splits (``[N]``, or ``[N, S]`` for S fixed splits such as geom-gcn's 10).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Callable, Dict

import numpy as np
import scipy.io
import torch
from torch_geometric.data import Data

from .registry import DatasetCard, DatasetNotFoundError


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


LOADERS: Dict[str, Callable[[DatasetCard, Path, str], Data]] = {
    "planetoid": _planetoid, "webkb": _webkb, "actor": _actor, "ogb-node": _ogb_node,
    "ogb-link": _ogb_link, "blogcatalog": _blogcatalog,
}


def run_loader(card: DatasetCard, root: Path, split: str, looked_in: str) -> Data:
    """Call the card's loader; turn a failed download into one clear ``DatasetNotFoundError``."""
    try:
        return LOADERS[card.loader](card, root, split)
    except (OSError, EOFError) as err:  # URLError is an OSError; EOFError: OGB's download prompt
        if isinstance(err, DatasetNotFoundError):
            raise
        raise DatasetNotFoundError(
            f"dataset {card.name!r} is not available: looked in {looked_in}, and downloading it into "
            f"{root} failed ({type(err).__name__}: {err}). Set GRAPHKIT_DATA or --data-root to a folder "
            f"holding {card.folder}/, or connect to the internet."
        ) from err


