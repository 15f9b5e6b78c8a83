"""Node classification: the step (cross-entropy on the training nodes), the evaluation (loss and
accuracy of a node set) and the estimator that runs seeds and splits on the engine.

Usage::

    data = graphkit.datasets.load("cora")
    report = NodeClassification("gcn", runs=10).fit(data)            # the paper's GCN
    report = NodeClassification(my_model).fit(data)                  # any nn.Module: model(x, adj)
    report.test["accuracy"]                                          # {"mean": ..., "std": ...}
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from ..adj import check_features, to_adj
from ..loader import Batch, FullGraphLoader, NeighborLoader
from ..train import Report, Task, TrainConfig, layer, split_config
from ..utils import fingerprint, seed_everything
from . import presets
from .base import ModelSpec, TaskEstimator, check_model_spec, check_sampling, instantiate, model_fingerprint, model_name

SELECTIONS = ("accuracy", "loss")
_ALWAYS_ALLOWED = {"norm", "residual", "jk"}  # BasicGNN options no preset table lists


@dataclass
class NodeClassificationConfig(TrainConfig):
    """:class:`~graphkit.train.TrainConfig` plus the task's keys.

    Attributes:
        select: the validation metric that picks the reported epoch, ``"accuracy"`` (ties: the
            lower loss) or ``"loss"``.
        fanouts: ``None``: full-batch training; else mini-batch training on sampled
            neighbourhoods (:class:`~graphkit.loader.NeighborLoader`), ``fanouts[h]`` neighbours
            per node at hop ``h`` from the seeds (``-1``: all), one hop per layer.
        batch_size: seed nodes per mini-batch.
        inference_batch_size: target nodes per batch of the layer-wise inference that evaluates a
            mini-batch-trained model (all nodes, whole neighbourhoods).
        num_workers: worker processes that sample the mini-batches.
    """

    select: str = "accuracy"
    fanouts: Optional[List[int]] = None
    batch_size: int = 1024
    inference_batch_size: int = 4096
    num_workers: int = 0

    def __post_init__(self):
        super().__post_init__()
        if self.select not in SELECTIONS:
            raise ValueError(f"select must be one of {SELECTIONS}, got {self.select!r}")
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")
        check_sampling(self)


class NodeClassificationTask(Task):
    """Cross-entropy on ``batch.mask`` (every output row when it is ``None``: a sampled batch's
    seeds); evaluation: the loss and accuracy of the masked nodes.

    ``inference_batch_size``: evaluate a model that has ``inference(x, adj, batch_size)`` (graphkit's
    models) layer by layer in batches of that many targets, as after mini-batch training; the
    outputs are computed once per model state and shared by the evaluations (validation, test)
    until the next training step.
    """

    def __init__(self, select: str = "accuracy", inference_batch_size: Optional[int] = None):
        self.monitor = (("accuracy", "max"), ("loss", "min")) if select == "accuracy" else (("loss", "min"),)
        self.inference_batch_size = inference_batch_size
        self._steps, self._outputs = 0, None

    def training_step(self, model: nn.Module, batch: Batch) -> Tensor:
        self._steps += 1
        logits = model(batch.x, batch.adj)
        if batch.mask is None:
            return F.cross_entropy(logits, batch.y)
        return F.cross_entropy(logits[batch.mask], batch.y[batch.mask])

    def batch_size(self, batch: Batch) -> int:
        return batch.y.numel() if batch.mask is None else int(batch.mask.sum())

    def outputs(self, model: nn.Module, batch: Batch) -> Tensor:
        """The model's outputs on ``batch`` (layer-wise when so configured, and shared between the
        evaluations of one model state)."""
        inference = getattr(model, "inference", None)
        if self.inference_batch_size is None or not callable(inference) or isinstance(batch.adj, list):
            return model(batch.x, batch.adj)
        key = (id(model), self._steps, id(batch.adj), id(batch.x))
        if self._outputs is None or self._outputs[0] != key:
            self._outputs = (key, inference(batch.x, batch.adj, batch_size=self.inference_batch_size))
        return self._outputs[1]

    def evaluate(self, model: nn.Module, loader: Iterable[Batch]) -> Dict[str, float]:
        losses, correct, count = [], 0, 0
        for batch in loader:
            out = self.outputs(model, batch)
            logits, y = (out, batch.y) if batch.mask is None else (out[batch.mask], batch.y[batch.mask])
            n = y.numel()
            losses.append((float(F.cross_entropy(logits, y)), n))
            correct, count = correct + int((logits.argmax(dim=-1) == y).sum()), count + n
        if count == 0:
            raise ValueError("the evaluation set holds no nodes")
        loss = losses[0][0] if len(losses) == 1 else sum(v * n for v, n in losses) / count
        return {"accuracy": correct / count, "loss": loss}


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
    if data.y.numel() and int(data.y.min()) < 0:
        raise ValueError(f"data.y holds negative labels (e.g. {int(data.y.min())}): classes must be 0 .. C-1 "
                         "(mark unlabelled nodes with the masks instead)")
    for name in ("train_mask", "val_mask", "test_mask"):
        mask = getattr(data, name, None)
        if mask is None:
            raise ValueError(f"data.{name} is missing: the dataset has no node split")
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            raise TypeError(f"data.{name} must be a bool tensor of shape [N] or [N, splits], got "
                            f"{getattr(mask, 'dtype', type(mask).__name__)} (an integer mask would be read as "
                            "node indices)")
        if mask.dim() not in (1, 2) or mask.size(0) != data.num_nodes:
            raise ValueError(f"data.{name} must have shape [{data.num_nodes}] or [{data.num_nodes}, splits], got "
                             f"{list(mask.shape)}")
    to_adj(data.edge_index, data.num_nodes)  # validates edge_index
    check_features(data.x, data.num_nodes)


def check_split(train: Tensor, valid: Tensor, test: Tensor, split_index: int) -> None:
    """Raise unless the split's three node sets are non-empty and disjoint."""
    for mask, name in ((train, "training"), (valid, "validation"), (test, "test")):
        if not bool(mask.any()):
            raise ValueError(f"split {split_index} has no {name} nodes")
    for mask, name in ((valid, "validation"), (test, "test")):
        shared = int((mask & train).sum())
        if shared:
            raise ValueError(f"split {split_index}: {shared} {name} nodes are also training nodes (the masks must "
                             "be disjoint, or the figures are measured on what was trained on)")


def _mask(mask: Tensor, split_index: int) -> Tensor:
    return mask[:, split_index] if mask.dim() == 2 else mask


class NodeClassification(TaskEstimator):
    """Full-batch node classification on the engine (a scikit-learn estimator).

    Args:
        model: a preset name (``'gcn'``, ``'sage'``, ``'gat'``, ``'gin'``, ``'mlp'``, ``'nsd-diag'``,
            ...: the paper's hyperparameters, :func:`graphkit.tasks.presets.node_classification`),
            an ``nn.Module`` (``model(x [N, F], adj) -> [N, C]``; copied and re-initialised per
            run) or a factory ``f(in_channels, num_classes) -> nn.Module``.
        config: hyperparameters over the preset's (or, for a user model, over the defaults of
            :class:`NodeClassificationConfig`): training keys (``lr``, ``epochs``, ...) and, for a
            preset, the model's (``hidden_channels``, ``dropout``, ...).
        runs: seeds per split (``seed, seed + 1, ...``).
        seed: first seed.
        splits: indices of the fixed splits to use when masks are ``[N, S]`` (default: all).
        checkpoint_dir: where each run's checkpoint goes; finished runs are read back and an
            interrupted one resumes from its last checkpoint.
        checkpoint_every, checkpoint_seconds: checkpoint cadence (epochs; seconds since the last write).
        ledger: a JSON file of finished runs' results (:class:`~graphkit.train.RunLedger`): runs
            found there are read back instead of trained (no trained model: ``model_`` is ``None``
            when the last run came from it), and every run that finishes is recorded there. Unlike
            checkpoints it is small enough to keep with the code, so a long benchmark carries on
            across machines.
        progress: show progress bars.
        device: torch device.

    Fitted: ``config_`` (the resolved flat config), ``report_``, ``model_`` (the last run's model).
    """

    def __init__(self, model: ModelSpec = "gcn", config: Optional[Dict[str, Any]] = None, runs: int = 1,
                 seed: int = 0, splits: Optional[Sequence[int]] = None, checkpoint_dir: Optional[str] = None,
                 checkpoint_every: int = 10, checkpoint_seconds: float = 60.0, progress: bool = True,
                 device: str = "cpu", ledger: Optional[str] = None):
        self.model, self.config, self.runs, self.seed, self.splits = model, config, runs, seed, splits
        self.checkpoint_dir, self.checkpoint_every, self.checkpoint_seconds = (checkpoint_dir, checkpoint_every,
                                                                               checkpoint_seconds)
        self.progress, self.device, self.ledger = progress, device, ledger

    def resolve_config(self):
        """``(NodeClassificationConfig, model hyperparameters)`` of this estimator's parameters."""
        check_model_spec(self.model)
        preset = presets.node_classification(self.model) if isinstance(self.model, str) else {}
        merged = layer(preset, self.config)
        train, hparams = split_config(NodeClassificationConfig, merged)
        if hparams and not isinstance(self.model, str):
            raise ValueError(f"{sorted(hparams)} are no training keys ({', '.join(NodeClassificationConfig.keys())}); "
                             "model hyperparameters apply to preset models only, a user model is built by its code")
        unknown = set(hparams) - set(preset) - _ALWAYS_ALLOWED
        if unknown:
            raise ValueError(f"unknown hyperparameters for {model_name(self.model)}: {sorted(unknown)}")
        return train, hparams

    def fit(self, data: Data) -> Report:
        """Train and evaluate every (split, seed) run; returns the report (also ``report_``)."""
        if self.runs < 1:
            raise ValueError(f"runs must be at least 1, got {self.runs}")
        train, hparams = self.resolve_config()
        self.config_ = {**train.to_dict(), **hparams}
        check_node_data(data)
        num_splits = data.train_mask.size(1) if data.train_mask.dim() == 2 else 1
        split_indices = list(range(num_splits)) if self.splits is None else list(self.splits)
        bad = [s for s in split_indices if not 0 <= s < num_splits]
        if bad:
            raise ValueError(f"split indices {bad} out of range: the dataset has {num_splits} split(s)")
        for s in split_indices:  # every split before any training
            check_split(*(_mask(m, s) for m in (data.train_mask, data.val_mask, data.test_mask)), s)
        name, split = getattr(data, "name", "graph"), getattr(data, "split", "custom")
        data = data.to(self.device)
        adj = to_adj(data.edge_index, data.num_nodes)
        y = data.y.long()
        num_classes = int(y.max()) + 1
        identity = {"task": "node-classification", "model": model_name(self.model), "config": self.config_,
                    "dataset": name, "split": split, "model_spec": model_fingerprint(self.model),
                    "data": fingerprint(data.edge_index, data.x, data.y, data.train_mask, data.val_mask,
                                        data.test_mask)}

        def run(split_index: int, seed: int):
            masks = [_mask(m, split_index) for m in (data.train_mask, data.val_mask, data.test_mask)]
            loaders = [FullGraphLoader(Batch(adj, x=data.x, y=y, mask=m)) for m in masks]
            if train.fanouts is not None:  # mini-batches of sampled neighbourhoods; layer-wise evaluation
                loaders[0] = NeighborLoader(adj, train.fanouts, train.batch_size, shuffle=True, input_nodes=masks[0],
                                            x=data.x, y=y, num_workers=train.num_workers, seed=seed,
                                            progress=self.progress)
            seed_everything(seed)
            model = instantiate(self.model, data.num_features, num_classes, hparams)
            engine = self._engine(train, identity, f"split{split_index}-seed{seed}", f"split {split_index} seed {seed}")
            task = NodeClassificationTask(train.select, None if train.fanouts is None else train.inference_batch_size)
            result = engine.fit(task, model, *loaders, seed=seed, split_index=split_index)
            self.model_ = None if engine.from_ledger else model
            return result

        jobs = [(s, self.seed + r) for s in split_indices for r in range(self.runs)]
        results = self._run_all(jobs, run, f"{model_name(self.model)} on {name}")
        return self._report("node-classification", {"dataset": name, "model": model_name(self.model), "split": split},
                            "accuracy" if train.select == "accuracy" else "loss", self.config_, results)
