"""The engine: one fit loop that every task runs on.

It alone owns device placement, the optimizer and its parameter groups, the step, the
evaluation cadence, model selection (best validation metric, tie rule, patience), exact
checkpoint/resume, progress bars, the per-epoch history, time and peak memory, and the result.
A :class:`~graphkit.train.task.Task` says what one step computes and how to evaluate; batches
come from loaders (the full graph is a loader of one batch).

Usage::

    engine = Engine(TrainConfig(epochs=200, lr=0.01), checkpoint="runs/seed0.pt")
    result = engine.fit(task, model, train_loader, valid_loader, test_loader, seed=0)
"""
from __future__ import annotations

import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple

import torch
from torch import nn
from tqdm.auto import tqdm

from ..utils import peak_rss_mib
from . import distributed
from .checkpoint import RunCheckpoint
from .config import TrainConfig
from .flat import can_flatten, flat_optimizer
from .ledger import RunLedger
from .report import RunResult
from .task import Task


def parameter_groups(model: nn.Module, weight_decay: float) -> List[Dict[str, Any]]:
    """The model's own ``parameter_groups(weight_decay)`` when it offers them (e.g. the sheaf
    learners' decay, a predictor's learning rate), else all parameters in one group; groups
    without parameters are dropped."""
    offer = getattr(model, "parameter_groups", None)
    groups = offer(weight_decay) if callable(offer) else [{"params": list(model.parameters())}]
    groups = [dict(g, params=list(g["params"])) for g in groups]
    return [g for g in groups if g["params"]]


def build_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """Adam or AdamW over the model's parameter groups, in torch's fused implementation (one kernel
    per step for all parameters, instead of a loop of small ops per parameter: on small models
    that loop is a large part of a step) when every parameter is a dense floating-point tensor on
    the CPU or a GPU, else the default one; the fused one runs over one flat buffer per group
    (:mod:`graphkit.train.flat`: no per-tensor bookkeeping left in the step) when each group's
    parameters share a dtype and a device."""
    groups = parameter_groups(model, config.weight_decay)
    cls = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[config.optimizer]
    params = [p for g in groups for p in g["params"]]
    fused = bool(params) and all(p.is_floating_point() and p.layout == torch.strided and
                                 p.device.type in ("cpu", "cuda") for p in params)
    if fused and can_flatten(groups):
        return flat_optimizer(cls, groups, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    return cls(groups, lr=config.lr, weight_decay=config.weight_decay, **({"fused": True} if fused else {}))


class Selection:
    """Model selection: the best evaluation so far by ``monitor`` (lexicographic, strictly better
    wins, so the earliest of equal evaluations is kept) and the count of evaluations since."""

    def __init__(self, monitor: Sequence[Tuple[str, str]]):
        for name, mode in monitor:
            if mode not in ("max", "min"):
                raise ValueError(f"monitor mode of {name!r} must be 'max' or 'min', got {mode!r}")
        if not monitor:
            raise ValueError("a task must monitor at least one validation metric")
        self.monitor = tuple(monitor)

    def key(self, metrics: Dict[str, float]) -> Tuple[float, ...]:
        missing = [name for name, _ in self.monitor if name not in metrics]
        if missing:
            raise KeyError(f"the task's evaluate returned no {missing} (it returned {sorted(metrics)})")
        return tuple(metrics[name] if mode == "max" else -metrics[name] for name, mode in self.monitor)

    def improves(self, metrics: Dict[str, float], best: Optional[Dict[str, float]]) -> bool:
        key = self.key(metrics)
        return best is None or key > self.key(best)


class Engine:
    """Trains one run of a task.

    Args:
        config: the training configuration.
        checkpoint: the run's checkpoint file (``None``: no checkpoints); written atomically every
            ``checkpoint_every`` epochs and after any epoch ending ``checkpoint_seconds`` or more
            after the last write. A finished run is read back, an interrupted one resumes exactly
            where an uninterrupted one would be (model, optimizer, torch's, Python's and NumPy's
            generators, selection state and history; loaders restart at the epoch boundary).
        progress: show a progress bar over the epochs.
        device: where the model and batches go.
        description: the progress bar's label.
        checkpoint_key: what the run depends on (a fingerprint of its data, model and config):
            a checkpoint holding another key, or one that cannot be read, is set aside with a
            warning and the run starts afresh.
        ledger: a :class:`~graphkit.train.RunLedger` (or its path) of finished runs: a run found
            there under ``checkpoint_key`` is returned without training (``from_ledger`` is then
            true and the model stays as it was given), and a finished run is recorded there.
    """

    def __init__(self, config: TrainConfig, checkpoint=None, checkpoint_every: int = 10,
                 checkpoint_seconds: float = 60.0, progress: bool = True, device="cpu", description: str = "train",
                 checkpoint_key: Optional[str] = None, ledger=None):
        self.config = config
        self.checkpoint = RunCheckpoint(checkpoint, checkpoint_every, checkpoint_seconds, checkpoint_key)
        self.progress, self.device, self.description = progress, torch.device(device), description
        if ledger is not None and checkpoint_key is None:
            raise ValueError("a ledger keeps runs by their checkpoint_key; give the engine one")
        self.ledger = ledger if ledger is None or isinstance(ledger, RunLedger) else RunLedger(ledger)
        self.from_ledger = False

    def wrap(self, model: nn.Module) -> nn.Module:
        """The model the steps run: the one place a distributed run wraps it (DDP)."""
        return distributed.wrap(model)

    def fit(self, task: Task, model: nn.Module, train_loader: Iterable, valid_loader: Iterable,
            test_loader: Iterable, seed: int = 0, split_index: Optional[int] = None) -> RunResult:
        """Train ``model`` (in place) and return the run's result. The test loader is evaluated
        only at a new best validation evaluation (the epoch the run reports)."""
        cfg = self.config
        self.from_ledger = False
        if self.ledger is not None:
            recorded = self.ledger.get(self.checkpoint.key)
            if recorded is not None:
                self.from_ledger = True
                return RunResult.from_dict(recorded)
        model = model.to(self.device)
        optimizer = build_optimizer(model, cfg)
        selection = Selection(task.monitor)
        finished, state = self.checkpoint.resume(model, optimizer)
        if finished is not None:
            self._record(finished)
            return RunResult.from_dict(finished)
        state = state or {"epoch": 0, "best": None, "bad_evals": 0, "seconds": 0.0, "train_seconds": 0.0,
                          "history": {"loss": [], "epoch_seconds": []}}
        history = state["history"]
        step_model = self.wrap(model)
        bar = tqdm(range(state["epoch"], cfg.epochs), initial=state["epoch"], total=cfg.epochs,
                   desc=self.description, unit="epoch", disable=not self.progress, leave=False)
        for epoch in bar:
            start = time.perf_counter()
            if cfg.lr_step is not None:  # StepLR from the epoch alone: a resumed run gets the same rates
                for group in optimizer.param_groups:
                    group["lr"] = group.setdefault("initial_lr", group["lr"]) * cfg.lr_gamma ** (epoch // cfg.lr_step)
            loss = self._train_epoch(task, step_model, model, optimizer, train_loader)
            train_seconds = time.perf_counter() - start
            state["train_seconds"] += train_seconds
            history["loss"].append(loss)
            history["epoch_seconds"].append(round(train_seconds, 4))
            state["epoch"] = epoch + 1
            postfix = {"loss": f"{loss:.4f}"}
            if (epoch + 1) % cfg.eval_every == 0 or epoch + 1 == cfg.epochs:
                valid = self._evaluate(task, model, valid_loader)
                for name, value in valid.items():
                    history.setdefault(f"valid_{name}", []).append(value)
                if selection.improves(valid, None if state["best"] is None else state["best"]["valid"]):
                    state["best"] = {"valid": valid, "test": self._evaluate(task, model, test_loader),
                                     "epoch": epoch + 1}
                    state["bad_evals"] = 0
                else:
                    state["bad_evals"] += 1
                name = selection.monitor[0][0]
                postfix.update(valid=f"{valid[name]:.4f}", best_test=f"{state['best']['test'].get(name, 0.0):.4f}")
            bar.set_postfix(postfix)
            state["seconds"] += time.perf_counter() - start
            if cfg.early_stopping and state["bad_evals"] >= cfg.patience:
                break
            self.checkpoint.epoch_done(model, optimizer, state, epoch + 1)
        bar.close()
        best = state["best"]
        result = RunResult(seed=seed, split_index=split_index, valid=best["valid"], test=best["test"],
                           epochs=state["epoch"], best_epoch=best["epoch"], seconds=round(state["seconds"], 3),
                           seconds_per_epoch=round(state["train_seconds"] / max(state["epoch"], 1), 4),
                           history=history, peak_rss_mib=peak_rss_mib())
        self.checkpoint.save(model, optimizer, state, result.to_dict())
        self._record(result.to_dict())
        return result

    def _record(self, result: Dict[str, Any]) -> None:
        if self.ledger is not None and distributed.is_main():
            self.ledger.record(self.checkpoint.key, result, self.description)

    def _train_epoch(self, task: Task, step_model: nn.Module, model: nn.Module, optimizer, loader) -> float:
        """One pass over ``loader``; the mean loss weighted by each batch's size."""
        model.train()
        losses = []
        for batch in loader:
            batch = _to(batch, self.device)
            optimizer.zero_grad(set_to_none=True)
            loss = task.training_step(step_model, batch)
            loss.backward()
            sync = getattr(optimizer, "sync_grads", None)  # flat buffers: gather the gradients once, clip those
            if sync is not None:
                sync()
            if self.config.clip_grad_norm is not None:
                for group in optimizer.param_groups:
                    nn.utils.clip_grad_norm_(group["params"], self.config.clip_grad_norm)
            optimizer.step()
            losses.append((loss.item(), task.batch_size(batch)))
        if not losses:
            raise ValueError("the training loader yielded no batch")
        if len(losses) == 1:  # the full graph: its loss as it is
            return losses[0][0]
        return sum(value * size for value, size in losses) / sum(size for _, size in losses)

    def _evaluate(self, task: Task, model: nn.Module, loader) -> Dict[str, float]:
        model.eval()
        with torch.no_grad():
            return {k: float(v) for k, v in task.evaluate(model, _Moved(loader, self.device)).items()}


def _to(batch, device: torch.device):
    return batch.to(device) if hasattr(batch, "to") else batch


class _Moved:
    """A loader whose batches are moved to ``device`` as they come."""

    def __init__(self, loader: Iterable, device: torch.device):
        self.loader, self.device = loader, device

    def __iter__(self):
        return (_to(batch, self.device) for batch in self.loader)
