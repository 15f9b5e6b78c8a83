"""Datasets of many graphs (graph classification and regression), as :func:`graphkit.datasets.load`
returns them: the PyG dataset its own loader built, with what graphkit's tasks need to know of it.
"""
from __future__ import annotations

from typing import Dict, Optional

import torch
from torch import Tensor

KINDS = ("classification", "binary", "regression")  # one class per graph; T binary tasks; T targets
NODE_FEATURES = ("degree", "one-hot-degree", "constant")


class DegreeFeatures:
    """A PyG transform giving featureless graphs (social networks) node features from the structure:

    * ``"degree"``: ``x = [deg(i)]`` as one float column, Errica et al.'s ``use_node_degree``
      (``datasets/graph.py`` of their code: the raw degree, not capped or scaled);
    * ``"one-hot-degree"``: ``x = one_hot(min(deg(i), max_degree))`` (Xu et al.'s GIN on social
      data; PyG's ``OneHotDegree``, with degrees above ``max_degree`` put in the last column);
    * ``"constant"``: ``x = [1]`` (Errica et al.'s ``use_one``).
    """

    def __init__(self, kind: str = "degree", max_degree: int = 0):
        if kind not in NODE_FEATURES:
            raise ValueError(f"node features must be one of {NODE_FEATURES}, got {kind!r}")
        self.kind, self.max_degree = kind, int(max_degree)

    def __call__(self, data):
        n = data.num_nodes
        deg = torch.bincount(data.edge_index[1], minlength=n) if data.edge_index.numel() else torch.zeros(
            n, dtype=torch.long)
        if self.kind == "degree":
            data.x = deg.float().view(-1, 1)
        elif self.kind == "constant":
            data.x = torch.ones(n, 1)
        else:
            data.x = torch.nn.functional.one_hot(deg.clamp(max=self.max_degree), self.max_degree + 1).float()
        return data

    def __repr__(self) -> str:
        extra = f", max_degree={self.max_degree}" if self.kind == "one-hot-degree" else ""
        return f"DegreeFeatures({self.kind!r}{extra})"



class GraphList(list):
    """Graphs built in memory (PyG ``Data`` objects), with room for attributes such as ``split_idx``."""


class GraphDataset:
    """A dataset of graphs: a sequence of PyG ``Data`` (``dataset[i]``), each with ``edge_index``,
    ``x`` (where the data has node features), ``edge_attr`` (where it has edge features) and ``y``.

    Attributes:
        name: the card's name (``"proteins"``, ``"ogbg-molhiv"``, ...).
        dataset: the underlying PyG dataset (``TUDataset``, ``PygGraphPropPredDataset``, ...).
        kind: ``"classification"`` (one class id per graph, ``y`` ``[G]``), ``"binary"`` (``T``
            binary tasks, ``y`` ``[G, T]`` of 0/1 with NaN where a label is missing) or
            ``"regression"`` (``y`` ``[G]`` or ``[G, T]`` floats).
        metric: the card's metric (``"accuracy"``, ``"rocauc"``, ``"ap"``, ``"mae"``).
        split_idx: the official split, ``{"train", "valid", "test"}`` graph ids, or ``None`` (TU
            datasets: cross-validation folds are drawn by the protocol).
        evaluator: the OGB ``Evaluator`` name for OGB datasets, else ``None``.
        split: the split name recorded in reports.
    """

    def __init__(self, name: str, dataset, kind: str, metric: str, split_idx: Optional[Dict[str, Tensor]] = None,
                 evaluator: Optional[str] = None, split: str = "official"):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        self.name, self.dataset, self.kind, self.metric = name, dataset, kind, metric
        self.split_idx, self.evaluator, self.split = split_idx, evaluator, split

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index):
        return self.dataset[index]

    @property
    def y(self) -> Tensor:
        """``[G]`` or ``[G, T]``: every graph's target, in order."""
        y = torch.cat([g.y.reshape(1, -1) for g in self._graphs()])
        return y.view(-1) if y.size(1) == 1 and self.kind == "classification" else y

    def _graphs(self):
        return (self.dataset[i] for i in range(len(self.dataset)))

    @property
    def num_features(self) -> int:
        """Node feature width (0 without node features)."""
        x = getattr(self.dataset[0], "x", None)
        return 0 if x is None else (x.size(1) if x.dim() > 1 else 1)

    @property
    def num_tasks(self) -> int:
        """Output width: classes for ``classification``, else tasks (columns of ``y``)."""
        y = self.y
        if self.kind == "classification":
            return int(y.max()) + 1
        return 1 if y.dim() == 1 else y.size(1)

    def __repr__(self) -> str:
        return f"GraphDataset({self.name!r}, graphs={len(self)}, kind={self.kind!r}, metric={self.metric!r})"
