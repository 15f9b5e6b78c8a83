"""Full-batch node classification: training with early stopping, several seeds and splits,
atomic checkpoints with resume, and a report in graphkit's JSON schema.

Usage::

    data = graphkit.datasets.load("cora")
    report = NodeClassification("gcn", runs=10).fit(data)
    print(report.test_accuracy)          # {"mean": ..., "std": ...}
"""
from __future__ import annotations

import hashlib
import json
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.data import Data
from tqdm.auto import tqdm

from ..adj import check_features, to_adj
from ..nn.models import MODELS, build_model
from ..utils import RunCheckpoint, seed_everything

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

_PRESETS = Path(__file__).with_name("presets.toml")
_TRAINER_KEYS = ("lr", "weight_decay", "first_layer_weight_decay_only", "sheaf_decay", "epochs", "patience", "select")
# Per-dataset hyperparameters (one TOML per dataset, a table per model): the repository's
# benchmarks/configs, shipped inside the wheel as graphkit/_configs.
_CONFIG_DIRS = (Path(__file__).resolve().parents[2] / "benchmarks" / "configs",
                Path(__file__).resolve().parents[1] / "_configs")
SELECTIONS = ("accuracy", "loss")


def default_config(model: str, dataset: Optional[str] = None) -> Dict[str, Any]:
    """The hyperparameters of ``model``: its defaults (``presets.toml``), updated by the model's
    table in ``benchmarks/configs/<dataset>.toml`` when ``dataset`` has one."""
    with open(_PRESETS, "rb") as f:
        presets = tomllib.load(f)
    key = model.lower()
    if key not in presets:
        raise ValueError(f"unknown model {model!r}; expected one of {sorted(MODELS)}")
    config = dict(presets[key])
    path = dataset_config_path(dataset) if dataset else None
    if path is not None:
        with open(path, "rb") as f:
            table = tomllib.load(f).get(key, {})
        unknown = set(table) - set(config) - {"norm", "residual", "jk"}
        if unknown:
            raise ValueError(f"{path}: unknown hyperparameters for {key}: {sorted(unknown)}")
        config.update(table)
    return config


def dataset_config_path(dataset: str) -> Optional[Path]:
    """``benchmarks/configs/<dataset>.toml`` (or its copy in the wheel), if it exists."""
    for folder in _CONFIG_DIRS:
        path = folder / f"{dataset.lower()}.toml"
        if path.is_file():
            return path
    return None


def load_config(path: str) -> Dict[str, Any]:
    """Hyperparameter overrides from a TOML file (flat keys, or a table named after the model)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {str(p)!r} does not exist")
    with open(p, "rb") as f:
        return tomllib.load(f)


@dataclass
class RunResult:
    """One training run: a seed on one split."""

    seed: int
    split_index: int
    val_accuracy: float
    test_accuracy: float
    epochs: int
    seconds: float
    best_epoch: int = 0
    history: Dict[str, List[float]] = field(default_factory=dict)

    def summary(self) -> Dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "history"}


@dataclass
class NodeClassificationReport:
    """Every run and the mean +- std of the test accuracy."""

    dataset: str
    model: str
    split: str
    config: Dict[str, Any]
    runs: List[RunResult]

    @property
    def test_accuracy(self) -> Dict[str, float]:
        return _mean_std([r.test_accuracy for r in self.runs])

    @property
    def val_accuracy(self) -> Dict[str, float]:
        return _mean_std([r.val_accuracy for r in self.runs])

    def to_dict(self) -> Dict[str, Any]:
        return {"task": "node-classification", "dataset": self.dataset, "model": self.model,
                "split": self.split, "config": self.config, "runs": [r.summary() for r in self.runs],
                "val_accuracy": self.val_accuracy, "test_accuracy": self.test_accuracy}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)


def _mean_std(values: Sequence[float]) -> Dict[str, float]:
    if not values:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


def check_node_data(data: Data) -> None:
    """Raise a clear error unless ``data`` can be used for single-label node classification."""
    if getattr(data, "x", None) is None:
        raise ValueError(f"dataset {getattr(data, 'name', '')!r} has no node features (data.x is None)")
    if getattr(data, "y", None) is None:
        raise ValueError("data.y (node labels) is missing")
    if data.y.dim() != 1 or data.y.dtype not in (torch.int64, torch.int32):
        raise ValueError(f"node classification needs integer labels of shape [N], got {data.y.dtype} "
                         f"{list(data.y.shape)} (multi-label data such as blogcatalog is evaluated with "
                         "graphkit.evaluate's embedding protocol instead)")
    for name in ("train_mask", "val_mask", "test_mask"):
        if getattr(data, name, None) is None:
            raise ValueError(f"data.{name} is missing: the dataset has no node split")
    to_adj(data.edge_index, data.num_nodes)  # validates edge_index
    check_features(data.x, data.num_nodes)


def _mask(mask: Tensor, split_index: int) -> Tensor:
    return mask[:, split_index] if mask.dim() == 2 else mask


class NodeClassification:
    """Full-batch node-classification trainer (a scikit-learn-like estimator).

    Args:
        model: ``'gcn'``, ``'sage'``, ``'gat'``, ``'gin'`` or ``'mlp'``.
        runs: seeds per split (seeds ``seed, seed + 1, ...``).
        seed: first seed.
        splits: indices of the fixed splits to use when masks are ``[N, S]`` (default: all).
        config: hyperparameter overrides of the model's paper defaults (:func:`default_config`).
        checkpoint_dir: where each run's checkpoint goes; finished runs are not repeated and an
            interrupted one resumes from its last checkpoint.
        checkpoint_every: epochs between checkpoints.
        checkpoint_seconds: also checkpoint after any epoch ending this long after the last write.
        progress: show tqdm bars.
        device: torch device.
    """

    def __init__(self, model: str = "gcn", runs: int = 1, seed: int = 0, splits: Optional[Sequence[int]] = None,
                 config: Optional[Dict[str, Any]] = None, checkpoint_dir: Optional[str] = None,
                 checkpoint_every: int = 10, checkpoint_seconds: float = 60.0, progress: bool = True,
                 device: str = "cpu"):
        if model.lower() not in MODELS:
            raise ValueError(f"unknown model {model!r}; expected one of {sorted(MODELS)}")
        if runs < 1:
            raise ValueError(f"runs must be at least 1, got {runs}")
        self.model, self.runs, self.seed, self.splits = model.lower(), runs, seed, splits
        self.overrides = dict(config or {})
        self.config = {**default_config(self.model), **self.overrides}
        unknown = set(self.config) - set(default_config(self.model)) - {"norm", "residual", "jk"}
        if unknown:
            raise ValueError(f"unknown hyperparameters for {self.model}: {sorted(unknown)}")
        if self.config.get("select", "accuracy") not in SELECTIONS:
            raise ValueError(f"select must be one of {SELECTIONS}, got {self.config['select']!r}")
        self.checkpoint_dir = Path(checkpoint_dir) if checkpoint_dir else None
        self.checkpoint_every, self.checkpoint_seconds = checkpoint_every, checkpoint_seconds
        self.progress, self.device = progress, torch.device(device)

    # --------------------------------------------------------------------------- public API
    def fit(self, data: Data) -> NodeClassificationReport:
        """Train and evaluate every (split, seed) run; returns the report (also ``self.report_``)."""
        check_node_data(data)
        # the dataset's own hyperparameters (benchmarks/configs), under the caller's overrides
        self.config = {**default_config(self.model, getattr(data, "name", None)), **self.overrides}
        num_splits = data.train_mask.size(1) if data.train_mask.dim() == 2 else 1
        split_indices = list(range(num_splits)) if self.splits is None else list(self.splits)
        bad = [s for s in split_indices if not 0 <= s < num_splits]
        if bad:
            raise ValueError(f"split indices {bad} out of range: the dataset has {num_splits} split(s)")
        data = data.to(self.device)
        adj = to_adj(data.edge_index, data.num_nodes)
        jobs = [(s, self.seed + r) for s in split_indices for r in range(self.runs)]
        results = []
        outer = tqdm(jobs, desc=f"{self.model} on {getattr(data, 'name', 'graph')}", unit="run",
                     disable=not self.progress or len(jobs) == 1, leave=False)
        for split_index, seed in outer:
            results.append(self._run(data, adj, split_index, seed))
            outer.set_postfix(test=f"{results[-1].test_accuracy:.3f}")
        self.report_ = NodeClassificationReport(getattr(data, "name", "graph"), self.model,
                                                getattr(data, "split", "custom"), self.config, results)
        return self.report_

    # --------------------------------------------------------------------------- one run
    def _build(self, data: Data, seed: int):
        seed_everything(seed)
        cfg = self.config
        hparams = {k: v for k, v in cfg.items() if k not in _TRAINER_KEYS}
        num_classes = int(data.y.max()) + 1
        model = build_model(self.model, data.num_features, num_classes, **hparams).to(self.device)
        if hasattr(model, "parameter_groups"):  # sheaf models: the sheaf learners decay apart
            groups = model.parameter_groups(cfg["weight_decay"], cfg.get("sheaf_decay"))
            return model, torch.optim.Adam(groups, lr=cfg["lr"])
        layers = getattr(model, "convs", None) or getattr(model, "lins")
        if cfg["first_layer_weight_decay_only"]:
            first = set(map(id, layers[0].parameters()))
            groups = [{"params": list(layers[0].parameters()), "weight_decay": cfg["weight_decay"]},
                      {"params": [p for p in model.parameters() if id(p) not in first], "weight_decay": 0.0}]
        else:
            groups = [{"params": list(model.parameters()), "weight_decay": cfg["weight_decay"]}]
        optimizer = torch.optim.Adam(groups, lr=cfg["lr"])
        return model, optimizer

    def _checkpoint_path(self, data: Data, split_index: int, seed: int) -> Optional[Path]:
        if self.checkpoint_dir is None:
            return None
        key = json.dumps({"model": self.model, "config": self.config, "dataset": getattr(data, "name", ""),
                          "split": getattr(data, "split", "")}, sort_keys=True)
        tag = hashlib.sha1(key.encode()).hexdigest()[:10]
        return self.checkpoint_dir / f"{self.model}-{getattr(data, 'name', 'graph')}-{tag}" / \
            f"split{split_index}-seed{seed}.pt"

    def _run(self, data: Data, adj, split_index: int, seed: int) -> RunResult:
        cfg = self.config
        train_mask, val_mask, test_mask = (_mask(m, split_index) for m in
                                           (data.train_mask, data.val_mask, data.test_mask))
        if int(train_mask.sum()) == 0:
            raise ValueError(f"split {split_index} has no training nodes")
        model, optimizer = self._build(data, seed)
        checkpoint = RunCheckpoint(self._checkpoint_path(data, split_index, seed), self.checkpoint_every,
                                   self.checkpoint_seconds)
        finished, state = checkpoint.resume(model, optimizer)
        if finished is not None:
            return RunResult(**finished)
        state = state or {"epoch": 0, "best": None, "bad_epochs": 0, "seconds": 0.0,
                          "history": {"train_loss": [], "val_loss": [], "val_accuracy": []}}

        bar = tqdm(range(state["epoch"], cfg["epochs"]), initial=state["epoch"], total=cfg["epochs"],
                   desc=f"split {split_index} seed {seed}", unit="epoch", disable=not self.progress, leave=False)
        y = data.y.long()
        for epoch in bar:
            start = time.perf_counter()
            model.train()
            optimizer.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(data.x, adj)[train_mask], y[train_mask])
            loss.backward()
            optimizer.step()
            model.eval()
            with torch.no_grad():
                logits = model(data.x, adj)
            val_loss = float(F.cross_entropy(logits[val_mask], y[val_mask]))
            pred = logits.argmax(dim=-1)
            val_acc = float((pred[val_mask] == y[val_mask]).float().mean())
            test_acc = float((pred[test_mask] == y[test_mask]).float().mean())
            state["seconds"] += time.perf_counter() - start
            state["epoch"] = epoch + 1
            for key, value in (("train_loss", loss.item()), ("val_loss", val_loss), ("val_accuracy", val_acc)):
                state["history"][key].append(value)
            best = state["best"]
            if best is None or (val_loss < best["val_loss"] if cfg.get("select") == "loss" else
                                (val_acc, -val_loss) > (best["val_accuracy"], -best["val_loss"])):
                state["best"] = {"val_accuracy": val_acc, "val_loss": val_loss, "test_accuracy": test_acc,
                                 "epoch": epoch + 1}
                state["bad_epochs"] = 0
            else:
                state["bad_epochs"] += 1
            bar.set_postfix(loss=f"{loss.item():.3f}", val=f"{val_acc:.3f}")
            if 0 < cfg["patience"] <= state["bad_epochs"]:  # patience <= 0: train every epoch
                break
            checkpoint.epoch_done(model, optimizer, state, epoch + 1)
        bar.close()
        best = state["best"]
        result = RunResult(seed=seed, split_index=split_index, val_accuracy=best["val_accuracy"],
                           test_accuracy=best["test_accuracy"], epochs=state["epoch"],
                           seconds=round(state["seconds"], 3), best_epoch=best["epoch"], history=state["history"])
        checkpoint.save(model, optimizer, state, asdict(result))
        return result
