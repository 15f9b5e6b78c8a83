"""What every task estimator shares: turning the ``model`` it was given (a preset name, an
``nn.Module`` or a factory) into a fresh model per run, the runs over seeds (and splits) on the
engine, checkpoint paths, and runs reported by earlier fits.

Estimators follow scikit-learn's contract (:class:`sklearn.base.BaseEstimator`): ``__init__``
stores its arguments as given, ``fit`` never changes them, and what ``fit`` learns ends with an
underscore (``config_``, ``report_``, ``model_``).
"""
from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Union

from sklearn.base import BaseEstimator
from torch import nn
from tqdm.auto import tqdm

from ..loader import check_fanouts
from ..nn.models import MODELS, build_model
from ..train import Engine, Report, RunResult
from ..utils import fingerprint

ModelSpec = Union[str, nn.Module, Callable[[int, int], nn.Module]]


def check_sampling(config) -> None:
    """Validate (and normalise) a task config's mini-batch keys: ``fanouts`` (``None``: full
    batch), ``inference_batch_size``, ``num_workers``."""
    if config.fanouts is not None:
        config.fanouts = check_fanouts(config.fanouts)
    if isinstance(config.inference_batch_size, bool) or not isinstance(config.inference_batch_size, int) or \
            config.inference_batch_size < 1:
        raise ValueError(f"inference_batch_size must be a positive int, got {config.inference_batch_size!r}")
    if isinstance(config.num_workers, bool) or not isinstance(config.num_workers, int) or config.num_workers < 0:
        raise ValueError(f"num_workers must be an int >= 0, got {config.num_workers!r}")


def model_name(model: ModelSpec) -> str:
    """A preset's name, else the class (or function) name of what the user gave."""
    if isinstance(model, str):
        return model.lower()
    if isinstance(model, nn.Module):
        return type(model).__name__
    return getattr(model, "__name__", type(model).__name__)


def check_model_spec(model: ModelSpec) -> None:
    if isinstance(model, str):
        if model.lower() not in MODELS:
            raise ValueError(f"unknown model {model!r}; expected one of {sorted(MODELS)}, an nn.Module or a "
                             "factory f(in_channels, out_channels) -> nn.Module")
    elif not isinstance(model, nn.Module) and not callable(model):
        raise TypeError(f"model must be a preset name, an nn.Module or a factory f(in_channels, out_channels), "
                        f"got {type(model).__name__}")


def reset_parameters(model: nn.Module) -> None:
    """Re-initialise every submodule that can (``reset_parameters``), under the current seed."""
    for module in model.modules():
        reset = getattr(module, "reset_parameters", None)
        if callable(reset) and module is not model:
            reset()


def instantiate(model: ModelSpec, in_channels: int, out_channels: int, hparams: Dict[str, Any]) -> nn.Module:
    """A fresh model for one run (the run's seed is already set).

    - a preset name: built with ``hparams``;
    - a factory: ``model(in_channels, out_channels)``;
    - an ``nn.Module``: a deep copy, re-initialised (every submodule's ``reset_parameters``) so
      that each seed trains from its own initialisation; the given module is never changed.
    """
    if isinstance(model, str):
        return build_model(model, in_channels, out_channels, **hparams)
    if hparams:
        raise ValueError(f"model hyperparameters {sorted(hparams)} apply to preset models only; "
                         "a user model is built by its own code")
    if isinstance(model, nn.Module):
        fresh = copy.deepcopy(model)
        reset_parameters(fresh)
        return fresh
    built = model(in_channels, out_channels)
    if not isinstance(built, nn.Module):
        raise TypeError(f"the model factory returned {type(built).__name__}, not an nn.Module")
    return built


def model_fingerprint(model: ModelSpec) -> str:
    """What a run's model is: a preset's name; a module's class and its parameters and buffers as
    given; a factory's qualified name."""
    if isinstance(model, str):
        return fingerprint("preset", model.lower())
    if isinstance(model, nn.Module):
        return fingerprint("module", f"{type(model).__module__}.{type(model).__qualname__}", repr(model),
                           model.state_dict())
    return fingerprint("factory", f"{getattr(model, '__module__', '')}.{getattr(model, '__qualname__', repr(model))}")


def checkpoint_path(directory: Optional[Union[str, Path]], identity: Dict[str, Any], run: str) -> Optional[Path]:
    """``directory/<model>-<dataset>-<fingerprint of identity>/<run>.pt`` (``None`` without a
    directory); ``identity`` holds the fingerprints of the data and the model and the config, so a
    stored run never answers for other data."""
    if directory is None:
        return None
    if Path(directory).exists() and not Path(directory).is_dir():
        raise NotADirectoryError(f"checkpoint_dir {str(directory)!r} is a file, not a folder")
    name = "-".join(str(identity.get(k)) for k in ("model", "predictor", "dataset") if identity.get(k))
    return Path(directory) / f"{name}-{fingerprint(identity)}" / f"{run}.pt"


def reported_runs(sources: Sequence[Union[str, Path, Dict[str, Any]]],
                  expected: Dict[str, Any]) -> Dict[int, RunResult]:
    """The runs of earlier reports by seed, after checking that each report's ``expected`` keys
    (task, dataset, model, config, ...) equal this fit's."""
    runs: Dict[int, RunResult] = {}
    for source in sources:
        if isinstance(source, dict):
            where, report = "a report", source
        elif Path(source).is_file():
            where, report = str(source), json.loads(Path(source).read_text())
        else:
            raise FileNotFoundError(f"report not found: {source}")
        for key, value in expected.items():
            got = report.get(key)
            if got != value:
                if key == "config" and isinstance(got, dict):
                    differ = sorted(k for k in set(got) | set(value) if got.get(k) != value.get(k))
                    detail = f" ({', '.join(differ)} differ)"
                else:
                    detail = f": {got!r}, this fit {value!r}"
                raise ValueError(f"{where} holds runs of another {key}{detail}; its runs cannot join this fit")
        for run in report["runs"]:
            if run["seed"] in runs:
                raise ValueError(f"seed {run['seed']} is reported twice (again in {where})")
            runs[run["seed"]] = RunResult.from_dict(run)
    return runs


class TaskEstimator(BaseEstimator):
    """Base of the task estimators: runs jobs on the engine and gathers the report."""

    def _run_all(self, jobs: Iterable, run: Callable[..., RunResult], label: str) -> List[RunResult]:
        jobs = list(jobs)
        results: List[RunResult] = []
        outer = tqdm(jobs, desc=label, unit="run", disable=not self.progress or len(jobs) == 1, leave=False)
        for job in outer:
            results.append(run(*job))
            outer.set_postfix(test=f"{next(iter(results[-1].test.values()), float('nan')):.3f}")
        return results

    @staticmethod
    def _peak(results: List[RunResult]) -> float:
        """The highest of this process's and the runs' peaks (runs read back trained elsewhere)."""
        from ..utils import peak_rss_mib
        return max([peak_rss_mib()] + [r.peak_rss_mib for r in results if r.peak_rss_mib is not None])

    def _engine(self, config, identity: Dict[str, Any], run: str, description: str) -> Engine:
        """The engine of one run, checkpointed under ``checkpoint_dir`` by the run's ``identity``
        (task, data, model, config fingerprints) and name."""
        return Engine(config, checkpoint_path(self.checkpoint_dir, identity, run), self.checkpoint_every,
                      self.checkpoint_seconds, self.progress, self.device, description,
                      checkpoint_key=fingerprint(identity, run), ledger=getattr(self, "ledger", None))

    def _report(self, task: str, meta: Dict[str, Any], metric: str, config: Dict[str, Any],
                results: List[RunResult]) -> Report:
        self.report_ = Report(task, meta, metric, config, results, self._peak(results))
        return self.report_
