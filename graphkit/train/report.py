"""What a fit returns: one :class:`RunResult` per run and a :class:`Report` over them, both
JSON-able (``to_dict`` / ``from_dict``), the same for every task."""
from __future__ import annotations

import json
import statistics
from dataclasses import asdict, dataclass, field, fields
from typing import Any, Dict, List, Optional, Sequence


def mean_std(values: Sequence[float]) -> Dict[str, float]:
    """``{"mean", "std"}`` (population standard deviation; ``nan`` for no values)."""
    if not values:
        return {"mean": float("nan"), "std": float("nan")}
    return {"mean": statistics.fmean(values), "std": statistics.pstdev(values) if len(values) > 1 else 0.0}


@dataclass
class RunResult:
    """One training run (a seed, on one split): the validation and test metrics of the selected
    epoch, the per-epoch history and the cost.

    ``history`` holds ``loss`` and ``epoch_seconds`` (training time of each epoch) per epoch and
    ``valid_<metric>`` per evaluation.
    """

    seed: int
    valid: Dict[str, float]
    test: Dict[str, float]
    epochs: int
    best_epoch: int
    seconds: float
    seconds_per_epoch: float
    split_index: Optional[int] = None
    history: Dict[str, List[float]] = field(default_factory=dict)
    peak_rss_mib: Optional[float] = None  # peak resident memory of the process that finished the run

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "RunResult":
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise ValueError(f"a run result has unknown fields {sorted(unknown)}")
        return cls(**d)


@dataclass
class Report:
    """Every run of a fit and their mean ± std.

    Args:
        task: ``"node-classification"``, ``"link-prediction"``, ...
        meta: what identifies the fit besides its config: dataset, model, and the task's own keys
            (split, predictor, model version).
        metric: the validation metric that selected each run's epoch.
        config: the resolved hyperparameters (flat, JSON-able).
        runs: the runs.
        peak_rss_mib: the highest peak resident memory of the processes that trained the runs.
    """

    task: str
    meta: Dict[str, Any]
    metric: str
    config: Dict[str, Any]
    runs: List[RunResult]
    peak_rss_mib: Optional[float] = None

    @property
    def dataset(self) -> str:
        return self.meta.get("dataset", "graph")

    @property
    def model(self) -> str:
        return self.meta.get("model", "model")

    def _summary(self, part: str) -> Dict[str, Dict[str, float]]:
        if not self.runs:
            return {}
        keys = [k for k in getattr(self.runs[0], part) if all(k in getattr(r, part) for r in self.runs)]
        return {k: mean_std([getattr(r, part)[k] for r in self.runs]) for k in keys}

    @property
    def valid(self) -> Dict[str, Dict[str, float]]:
        """``{metric: {"mean", "std"}}`` of the runs' validation figures at their selected epochs."""
        return self._summary("valid")

    @property
    def test(self) -> Dict[str, Dict[str, float]]:
        """``{metric: {"mean", "std"}}`` of the runs' test figures at their selected epochs."""
        return self._summary("test")

    @property
    def folds(self) -> Dict[str, Dict[str, float]]:
        """``{metric: {"mean", "std"}}`` over the splits (folds) of each split's mean test figure:
        a cross-validation's result, as Errica et al. report it (the runs of one fold averaged
        first). ``{}`` when no run has a split index."""
        by_split: Dict[int, List[RunResult]] = {}
        for r in self.runs:
            if r.split_index is not None:
                by_split.setdefault(r.split_index, []).append(r)
        if not by_split:
            return {}
        first = next(iter(by_split.values()))[0]
        keys = [k for k in first.test if all(k in r.test for r in self.runs)]
        return {k: mean_std([statistics.fmean(r.test[k] for r in runs) for _, runs in sorted(by_split.items())])
                for k in keys}

    @property
    def epoch_seconds_median(self) -> Optional[float]:
        """The median training time of one epoch over every epoch of every run (robust to epochs
        slowed by other work on the machine or by a resume's warm-up)."""
        times = [t for r in self.runs for t in r.history.get("epoch_seconds", [])]
        return round(statistics.median(times), 4) if times else None

    def to_dict(self) -> Dict[str, Any]:
        return {"task": self.task, **self.meta, "metric": self.metric, "config": self.config,
                "runs": [r.to_dict() for r in self.runs], "valid": self.valid, "test": self.test,
                **({"folds": self.folds} if self.meta.get("protocol") == "cv" else {}),
                "seconds_per_epoch": mean_std([r.seconds_per_epoch for r in self.runs]),
                "epoch_seconds_median": self.epoch_seconds_median, "peak_rss_mib": self.peak_rss_mib}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
