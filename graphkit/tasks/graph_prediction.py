"""Graph-level prediction: one output per graph of a batch of many graphs.

* the step: cross-entropy (``classification``, one class per graph), binary cross-entropy over
  the labelled entries (``binary``: ``T`` tasks, a NaN label is missing, OGB's ``y == y`` mask),
  or L1/MSE (``regression``);
* the evaluation: accuracy; ROC-AUC (by OGB's own ``Evaluator`` on OGB data) or average
  precision; MAE; and the loss;
* the estimator :class:`GraphPrediction`, with two protocols: an official split (OGB's scaffold
  split) over seeds, and Errica et al.'s cross-validation for datasets without one (TU).

Usage::

    data = graphkit.datasets.load("proteins")
    report = GraphPrediction("gin", folds=10).fit(data)                  # Errica et al.'s protocol
    report.folds["accuracy"]                                              # mean ± std over the folds
    report = GraphPrediction("gin-virtual", runs=3).fit(graphkit.datasets.load("ogbg-molhiv"))
    report = GraphPrediction(my_model).fit(data)       # model(x, adj, batch[, edge_attr]) -> [B, out]
"""
from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..datasets.graphs import KINDS, GraphDataset
from ..loader import Batch, GraphLoader, GraphStore
from ..nn.graph_models import build_graph_model
from ..train import Report, RunResult, Task, TrainConfig, layer, split_config
from ..utils import fingerprint, seed_everything
from . import presets
from .base import ModelSpec, TaskEstimator, check_model_spec, instantiate, model_fingerprint, model_name

METRICS = {"classification": ("accuracy",), "binary": ("rocauc", "ap"), "regression": ("mae", "rmse")}
LOSSES = ("auto", "l1", "mse")
PROTOCOLS = ("auto", "official", "cv")


@dataclass
class GraphPredictionConfig(TrainConfig):
    """:class:`~graphkit.train.TrainConfig` plus the task's keys.

    Attributes:
        batch_size: graphs per training step (evaluation uses the same).
        select: the validation metric that picks the reported epoch: ``"metric"`` (the dataset's:
            accuracy, ROC-AUC, AP, MAE; ties broken by the loss) or ``"loss"``.
        loss: regression loss, ``"l1"`` or ``"mse"`` (default: L1 when scored by MAE, MSE by RMSE).
    """

    batch_size: int = 32
    select: str = "metric"
    loss: str = "auto"

    def __post_init__(self):
        super().__post_init__()
        if isinstance(self.batch_size, bool) or not isinstance(self.batch_size, int) or self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {self.batch_size!r}")
        if self.select not in ("metric", "loss"):
            raise ValueError(f"select must be 'metric' or 'loss', got {self.select!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")


def takes_edge_attr(model: nn.Module) -> bool:
    """Whether ``model.forward`` accepts ``edge_attr`` (by name, or ``**kwargs``)."""
    params = inspect.signature(model.forward).parameters
    return "edge_attr" in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


class GraphPredictionTask(Task):
    """The step and evaluation of one graph-level task.

    Args:
        kind: ``"classification"``, ``"binary"`` or ``"regression"``.
        metric: the dataset's metric (``"accuracy"``, ``"rocauc"``, ``"ap"``, ``"mae"``).
        select: ``"metric"`` or ``"loss"`` (what picks the reported epoch).
        loss: regression loss (``"l1"``/``"mse"``).
        evaluator: an OGB dataset name: its ``Evaluator`` scores ROC-AUC/AP exactly as OGB does.
    """

    def __init__(self, kind: str, metric: str, select: str = "metric", loss: str = "auto",
                 evaluator: Optional[str] = None):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if metric not in METRICS[kind]:
            raise ValueError(f"metric {metric!r} does not fit a {kind} task; expected one of {METRICS[kind]}")
        self.kind, self.metric, self.evaluator = kind, metric, evaluator
        self.loss = ("mse" if metric == "rmse" else "l1") if loss == "auto" else loss
        lower_better = metric in ("mae", "rmse")
        self.monitor = ((("loss", "min"),) if select == "loss" else
                        ((metric, "min" if lower_better else "max"), ("loss", "min")))
        self._edge_attr: Dict[int, bool] = {}

    def forward(self, model: nn.Module, batch: Batch) -> Tensor:
        """``model(x, adj, batch[, edge_attr])`` ``[B, out]`` (``edge_attr`` when the model takes it)."""
        key = id(type(model))
        if key not in self._edge_attr:
            self._edge_attr[key] = takes_edge_attr(model)
            extra = {"edge_attr": batch.edge_attr} if batch.edge_attr is not None and self._edge_attr[key] else {}
            try:
                inspect.signature(model.forward).bind(batch.x, batch.adj, batch.batch, **extra)
            except TypeError:
                raise TypeError(f"{type(model).__name__}.forward{inspect.signature(model.forward)} cannot be called "
                                f"as model(x, adj, batch{', edge_attr=' if extra else ''}), the graph-level "
                                "signature") from None
        if batch.edge_attr is not None and self._edge_attr[key]:
            out = model(batch.x, batch.adj, batch.batch, edge_attr=batch.edge_attr)
        else:
            out = model(batch.x, batch.adj, batch.batch)
        if not isinstance(out, Tensor) or out.dim() != 2 or out.size(0) != batch.num_graphs:
            got = list(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise ValueError(f"a graph-level model must return one row per graph, [{batch.num_graphs}, out]; got {got}")
        return out

    def _loss(self, out: Tensor, y: Tensor) -> Tensor:
        if self.kind == "classification":
            return F.cross_entropy(out, y)
        y = y.view(out.shape).to(out.dtype)
        labelled = ~torch.isnan(y)
        if not bool(labelled.any()):  # a batch without any label: no loss, no NaN in the epoch's mean
            return out.sum() * 0.0
        if self.kind == "binary":
            return F.binary_cross_entropy_with_logits(out[labelled], y[labelled])
        return (F.l1_loss if self.loss == "l1" else F.mse_loss)(out[labelled], y[labelled])

    def training_step(self, model: nn.Module, batch: Batch) -> Tensor:
        return self._loss(self.forward(model, batch), batch.y)

    def batch_size(self, batch: Batch) -> int:
        return batch.num_graphs

    def evaluate(self, model: nn.Module, loader: Iterable[Batch]) -> Dict[str, float]:
        outs, ys = [], []
        for batch in loader:
            outs.append(self.forward(model, batch).float())
            ys.append(batch.y)
        if not outs:
            raise ValueError("the evaluation set holds no graphs")
        out, y = torch.cat(outs), torch.cat(ys)
        metrics = {"loss": float(self._loss(out, y))}
        if self.kind == "classification":
            metrics["accuracy"] = float((out.argmax(dim=-1) == y).float().mean())
        elif self.kind == "regression":
            y = y.view(out.shape).to(out.dtype)
            labelled = ~torch.isnan(y)
            error = out[labelled] - y[labelled]
            metrics["mae" if self.metric == "mae" else "rmse"] = float(
                error.abs().mean() if self.metric == "mae" else error.pow(2).mean().sqrt())
        else:
            metrics[self.metric] = binary_score(self.metric, y.view(out.shape).float().cpu().numpy(),
                                                out.cpu().numpy(), self.evaluator)
        return metrics


def binary_score(metric: str, y_true: np.ndarray, y_pred: np.ndarray, evaluator: Optional[str] = None) -> float:
    """ROC-AUC or average precision ``[N, T]``, averaged over the tasks that have both classes
    among their labelled (non-NaN) entries, as OGB's ``Evaluator`` does (which computes it when
    ``evaluator`` names an OGB dataset)."""
    if evaluator is not None:
        from ogb.graphproppred import Evaluator
        key = {"rocauc": "rocauc", "ap": "ap"}[metric]
        return float(Evaluator(evaluator).eval({"y_true": y_true, "y_pred": y_pred})[key])
    from sklearn.metrics import average_precision_score, roc_auc_score
    score = roc_auc_score if metric == "rocauc" else average_precision_score
    values = []
    for t in range(y_true.shape[1]):
        labelled = ~np.isnan(y_true[:, t])
        truth = y_true[labelled, t]
        if (truth == 1).any() and (truth == 0).any():
            values.append(score(truth, y_pred[labelled, t]))
    if not values:
        raise ValueError(f"{metric} is undefined: no task has both positive and negative labels in this set")
    return float(np.mean(values))


def check_graph_targets(store: GraphStore, kind: str, name: str) -> int:
    """Raise a clear error unless the graphs' targets fit the task; return the output width
    (classes, or tasks)."""
    y = store.y
    if y is None:
        raise ValueError(f"the graphs of {name!r} have no targets (y is missing): a graph-level task needs one "
                         "per graph")
    if kind == "classification":
        if y.is_floating_point():
            raise ValueError(f"the targets of {name!r} are floats (e.g. {y.flatten()[:3].tolist()}): regression "
                             "targets, not classes; use the regression task (graphkit train graph-regression)")
        if y.dim() == 2 and y.size(1) == 1:  # OGB stores class ids as [G, 1]
            y = store.y = y.view(-1)
        if y.dim() != 1:
            raise ValueError(f"the graphs of {name!r} have {y.size(1)} targets each; classification takes one "
                             "class per graph (several binary labels are the 'binary' kind)")
        if y.dtype != torch.long:
            y = store.y = y.long()
        if int(y.min()) < 0:
            raise ValueError(f"{name!r} has class {int(y.min())}: classes must be 0 .. C-1")
        return int(y.max()) + 1
    if kind == "binary":
        labelled = y[~torch.isnan(y.float())]
        if labelled.numel() and not bool(((labelled == 0) | (labelled == 1)).all()):
            raise ValueError(f"binary targets of {name!r} must be 0, 1 or NaN (missing)")
    return 1 if y.dim() == 1 else y.size(1)


def errica_folds(y: Tensor, folds: int, seed: int, holdout: float = 0.1,
                 stratify: bool = True) -> List[Dict[str, Tensor]]:
    """Errica et al.'s splits: stratified ``folds``-fold cross-validation (shuffled, seeded), and
    inside each fold's training part a stratified holdout of ``holdout`` for model selection
    (``stratify=False``, for real or multi-task targets: the same, drawn without regard to ``y``).
    Returns per fold ``{"train", "valid", "test"}`` graph ids."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split
    labels = y.numpy() if stratify else np.zeros(y.size(0))
    out = []
    outer = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=seed)
    for train_fold, test in outer.split(np.zeros(len(labels)), labels):
        train, valid = train_test_split(train_fold, test_size=holdout, random_state=seed,
                                        stratify=labels[train_fold] if stratify else None)
        out.append({"train": torch.from_numpy(np.sort(train)), "valid": torch.from_numpy(np.sort(valid)),
                    "test": torch.from_numpy(np.sort(test))})
    return out


class GraphPrediction(TaskEstimator):
    """Graph classification and regression on the engine (a scikit-learn estimator).

    Args:
        model: a preset name (``"gin"``: Errica et al.'s GIN; ``"gin-ogb"``, ``"gin-virtual"``: OGB's
            molecule models; see ``graphkit/tasks/presets/graph_prediction.toml``), an ``nn.Module``
            (``model(x [N, F], adj, batch [N][, edge_attr]) -> [B, out]``; copied and
            re-initialised per run) or a factory ``f(in_channels, out_channels) -> nn.Module``.
        config: hyperparameters over the preset's (or :class:`GraphPredictionConfig`'s defaults).
        grid: model selection (the ``cv`` protocol): a dict of lists (every combination) or a list
            of dicts, each layered over ``config``; ``None``: the preset's ``grid`` table when
            selecting, else no selection.
        protocol: ``"official"`` (the dataset's split, ``runs`` seeds), ``"cv"`` (Errica et al.:
            ``folds`` stratified folds; in each, every grid point trains once on 90 % of the fold's
            training part and is scored on the other 10 %; the best is retrained ``runs`` times
            on the same split and the fold's test figure is their mean), or ``"auto"`` (official
            when the dataset has a split, else cv).
        folds: outer folds of ``cv``.
        runs: seeds per split (official) or final retrainings per fold (cv; Errica et al.: 3).
        seed: first seed (and the folds' shuffle).
        checkpoint_dir, checkpoint_every, checkpoint_seconds, progress, device, ledger: as
            :class:`~graphkit.tasks.NodeClassification`. Every run of a cross-validation (each
            grid point of each fold included) is checkpointed, so an interrupted one resumes.

    Fitted: ``config_``, ``report_`` (with ``report_.folds`` for cv), ``model_`` (the last run's),
    ``selection_`` (cv: each fold's chosen grid point and its validation score).
    """

    def __init__(self, model: ModelSpec = "gin", config: Optional[Dict[str, Any]] = None, grid=None,
                 protocol: str = "auto", folds: int = 10, runs: Optional[int] = None, seed: int = 0,
                 checkpoint_dir: Optional[str] = None, checkpoint_every: int = 10, checkpoint_seconds: float = 60.0,
                 progress: bool = True, device: str = "cpu", ledger: Optional[str] = None):
        self.model, self.config, self.grid, self.protocol = model, config, grid, protocol
        self.folds, self.runs = folds, runs
        self.seed, self.checkpoint_dir, self.checkpoint_every = seed, checkpoint_dir, checkpoint_every
        self.checkpoint_seconds, self.progress, self.device, self.ledger = checkpoint_seconds, progress, device, ledger

    def resolve_config(self) -> Tuple[GraphPredictionConfig, Dict[str, Any]]:
        """``(GraphPredictionConfig, model hyperparameters)`` of this estimator's parameters."""
        check_model_spec_graph(self.model)
        preset = presets.graph_prediction(self.model) if isinstance(self.model, str) else {}
        merged = layer(preset, self.config)
        train, hparams = split_config(GraphPredictionConfig, merged)
        if hparams and not isinstance(self.model, str):
            raise ValueError(f"{sorted(hparams)} are no training keys ({', '.join(GraphPredictionConfig.keys())}); "
                             "model hyperparameters apply to preset models only, a user model is built by its code")
        unknown = set(hparams) - set(preset)
        if unknown:
            raise ValueError(f"unknown hyperparameters for {model_name(self.model)}: {sorted(unknown)}")
        return train, hparams

    def grid_points(self) -> List[Dict[str, Any]]:
        """The grid as a list of override dicts (``[{}]``: no selection)."""
        grid = self.grid
        if grid is None and isinstance(self.model, str):
            grid = presets.graph_prediction_grid(self.model)
        return expand_grid(grid)

    def fit(self, data: GraphDataset) -> Report:
        """Train and evaluate every run of the protocol; returns the report (also ``report_``)."""
        if not isinstance(data, GraphDataset):
            raise TypeError(f"GraphPrediction.fit takes a GraphDataset (graphkit.datasets.load of a graph dataset, or "
                            f"GraphDataset(name, pyg_dataset, kind, metric)), got {type(data).__name__}")
        for name, value, low in (("folds", self.folds, 2), ("runs", self.runs, 1)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        protocol = self.protocol if self.protocol != "auto" else ("official" if data.split_idx is not None else "cv")
        if protocol == "official" and data.split_idx is None:
            raise ValueError(f"dataset {data.name!r} has no official split; use protocol='cv'")
        train, hparams = self.resolve_config()
        points = self.grid_points() if protocol == "cv" else [{}]
        allowed = set(GraphPredictionConfig.keys()) | (set(hparams) if isinstance(self.model, str) else set())
        unknown = sorted({k for point in points for k in point} - allowed)
        if unknown:
            raise ValueError(f"grid keys {unknown} are neither training keys nor hyperparameters of "
                             f"{model_name(self.model)}")
        self.config_ = {**train.to_dict(), **hparams}
        store = GraphStore(data)
        out_channels = check_graph_targets(store, data.kind, data.name)
        in_channels = store.num_node_features
        if in_channels == 0:
            raise ValueError(f"the graphs of {data.name!r} have no node features; give them some from the structure: "
                             "datasets.load(name, node_features='degree' | 'one-hot-degree' | 'constant') "
                             "(--node-features on the command line)")
        integer_x = store.x is not None and not store.x.is_floating_point()  # OGB's atom features
        task_args = dict(kind=data.kind, metric=data.metric, evaluator=data.evaluator)
        identity = {"task": "graph-prediction", "model": model_name(self.model), "config": self.config_,
                    "dataset": data.name, "split": data.split, "protocol": protocol,
                    "model_spec": model_fingerprint(self.model),
                    "data": fingerprint(store.x, store.col, store.edge_attr, store.y, store.node_ptr)}

        def run(split: Dict[str, Tensor], split_index: int, seed: int, override: Dict[str, Any], name: str,
                label: str) -> RunResult:
            cfg, hp = split_config(GraphPredictionConfig, {**train.to_dict(), **hparams, **override})
            loaders = [GraphLoader(store, split["train"], cfg.batch_size, shuffle=True, drop_last=_drop_single(
                split["train"].numel(), cfg.batch_size))] + [GraphLoader(store, split[k], cfg.batch_size)
                                                             for k in ("valid", "test")]
            seed_everything(seed)
            if isinstance(self.model, str):
                model = build_graph_model(self.model, None if integer_x else in_channels, out_channels, **hp)
            else:
                model = instantiate(self.model, in_channels, out_channels, hp)
            task = GraphPredictionTask(select=cfg.select, loss=cfg.loss, **task_args)
            run_identity = dict(identity, config={**self.config_, **override})
            if protocol == "cv":  # the fold itself (folds, seed and holdout draw it): never another fold's run
                run_identity["fold"] = fingerprint(split["train"], split["valid"], split["test"])
            engine = self._engine(cfg, run_identity, name, label)
            result = engine.fit(task, model, *loaders, seed=seed, split_index=split_index)
            self.model_ = None if engine.from_ledger else model
            return result

        runs = self.runs if self.runs is not None else (3 if protocol == "cv" else 1)
        if protocol == "official":
            split = {k: torch.as_tensor(v).long().view(-1) for k, v in
                     ((k, data.split_idx[k]) for k in ("train", "valid", "test"))}
            jobs = [(split, 0, self.seed + r, {}, f"seed{self.seed + r}", f"seed {self.seed + r}") for r in range(runs)]
            results = self._run_all(jobs, run, f"{model_name(self.model)} on {data.name}")
            meta = {"dataset": data.name, "model": model_name(self.model), "split": data.split, "protocol": protocol}
        else:
            splits = errica_folds(store.y, self.folds, self.seed, stratify=data.kind == "classification")
            results, self.selection_ = [], []
            # grid points compete on the dataset's metric (ties: the loss), whatever each one early-stops on
            monitor = GraphPredictionTask(select="metric", loss=train.loss, **task_args).monitor
            for f, split in enumerate(splits):
                best, best_key, best_valid, selected = 0, None, None, {}
                if len(points) > 1:
                    for k, point in enumerate(points):
                        r = run(split, f, self.seed, point, f"fold{f}-select{k}",
                                f"fold {f} grid {k + 1}/{len(points)}")
                        key = tuple(r.valid[m] if mode == "max" else -r.valid[m] for m, mode in monitor)
                        selected[k] = r
                        if best_key is None or key > best_key:  # the earliest of equal points
                            best, best_key, best_valid = k, key, r.valid
                chosen = points[best]
                self.selection_.append({"fold": f, "grid_index": best, "config": chosen, "valid": best_valid})
                jobs = [(split, f, self.seed + r, chosen, f"fold{f}-final-seed{self.seed + r}",
                         f"fold {f} seed {self.seed + r}") for r in range(runs)]
                if best in selected:  # the chosen point's selection run is its first final run (same seed, split)
                    results.append(selected[best])
                    jobs = jobs[1:]
                results += self._run_all(jobs, run, f"fold {f + 1}/{len(splits)}")
            meta = {"dataset": data.name, "model": model_name(self.model), "split": f"cv{self.folds}",
                    "protocol": protocol, "selection": self.selection_}
        metric = data.metric if train.select == "metric" else "loss"
        return self._report("graph-prediction", meta, metric, self.config_, results)


def _drop_single(count: int, batch_size: int) -> bool:
    """Drop a last training batch of one graph (BatchNorm cannot train on a single row; OGB's
    examples skip such batches too)."""
    return count % batch_size == 1 and count > 1


def expand_grid(grid) -> List[Dict[str, Any]]:
    """A grid as override dicts: ``None`` -> ``[{}]``; a dict of lists -> every combination (in
    the order of the keys; a key ``"a,b"`` takes a list of ``(a, b)`` tuples); a list of dicts as
    it is."""
    if grid is None:
        return [{}]
    if isinstance(grid, dict):
        import itertools
        keys = list(grid)
        values = [v if isinstance(v, (list, tuple)) else [v] for v in grid.values()]
        points = []
        for combo in itertools.product(*values):
            point = {}
            for key, value in zip(keys, combo):
                names = [k.strip() for k in key.split(",")]
                if len(names) == 1:
                    point[key] = value
                elif not isinstance(value, (list, tuple)) or len(value) != len(names):
                    raise ValueError(f"grid key {key!r} takes tuples of {len(names)} values, got {value!r}")
                else:
                    point.update(zip(names, value))
            points.append(point)
        return points
    if isinstance(grid, (list, tuple)) and all(isinstance(p, dict) for p in grid) and grid:
        return [dict(p) for p in grid]
    raise TypeError("grid must be None, a dict of lists or a non-empty list of dicts")


def check_model_spec_graph(model: ModelSpec) -> None:
    if isinstance(model, str):
        presets.graph_prediction(model)  # raises for an unknown preset
    else:
        check_model_spec(model)
