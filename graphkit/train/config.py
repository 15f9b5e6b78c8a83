"""One configuration system for every task: typed dataclasses whose fields are the keys of the
presets' TOML tables, and one rule for layering them.

A task's config class extends :class:`TrainConfig` (what the engine reads) with the task's own
keys; the keys a config class does not declare are the model's hyperparameters. Layers merge in
one order, later ones winning: the task's defaults, the model's preset, the dataset's table, a
``--config`` TOML file, then ``--set KEY=VALUE`` / ``--epochs`` on the command line (or the
``config`` dict given to an estimator). Unset is ``None``, never a sentinel such as ``-1``.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Sequence, Tuple, Type, TypeVar

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

C = TypeVar("C", bound="TrainConfig")
OPTIMIZERS = ("adam", "adamw")


@dataclass
class TrainConfig:
    """What the engine needs to train one run.

    Attributes:
        epochs: epochs to train (at most).
        lr: learning rate (a parameter group the model offers may set its own).
        weight_decay: L2 penalty (a parameter group may set its own).
        optimizer: ``"adam"`` or ``"adamw"``.
        patience: evaluations without a better validation metric before stopping; ``None`` or
            ``<= 0``: every epoch trains.
        eval_every: epochs between evaluations (the last epoch is always evaluated).
        clip_grad_norm: clip the gradient norm of each parameter group apart (``None``: no clipping).
        lr_step: multiply every group's learning rate by ``lr_gamma`` every ``lr_step`` epochs
            (torch's ``StepLR``; ``None``: a constant rate).
        lr_gamma: the factor of ``lr_step``.
    """

    epochs: int = 200
    lr: float = 0.01
    weight_decay: float = 0.0
    optimizer: str = "adam"
    patience: Optional[int] = None
    eval_every: int = 1
    clip_grad_norm: Optional[float] = None
    lr_step: Optional[int] = None
    lr_gamma: float = 0.5

    def __post_init__(self):
        for name, kinds in (("epochs", int), ("eval_every", int), ("lr", (int, float)),
                            ("weight_decay", (int, float)), ("optimizer", str)):
            _check_type(name, getattr(self, name), kinds)
        _check_type("patience", self.patience, int, optional=True)
        _check_type("clip_grad_norm", self.clip_grad_norm, (int, float), optional=True)
        _check_type("lr_step", self.lr_step, int, optional=True)
        _check_type("lr_gamma", self.lr_gamma, (int, float))
        if self.lr_step is not None and self.lr_step < 1:
            raise ValueError(f"lr_step must be at least 1 or None, got {self.lr_step}")
        if not 0 < self.lr_gamma <= 1:
            raise ValueError(f"lr_gamma must lie in (0, 1], got {self.lr_gamma}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got {self.weight_decay}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; expected one of {OPTIMIZERS}")
        if self.eval_every < 1:
            raise ValueError(f"eval_every must be at least 1, got {self.eval_every}")
        if self.clip_grad_norm is not None and not self.clip_grad_norm > 0:
            raise ValueError(f"clip_grad_norm must be positive or None, got {self.clip_grad_norm}")

    @property
    def early_stopping(self) -> bool:
        return self.patience is not None and self.patience > 0

    @classmethod
    def keys(cls) -> Tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


def _check_type(name: str, value: Any, kinds, optional: bool = False) -> None:
    """``value`` is of ``kinds`` (``bool`` is no number here), or ``None`` when ``optional``."""
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, kinds):
        wanted = kinds.__name__ if isinstance(kinds, type) else " or ".join(k.__name__ for k in kinds)
        raise TypeError(f"{name} must be {wanted}{' or None' if optional else ''}, got {value!r} "
                        f"({type(value).__name__})")


def read_toml(path) -> Dict[str, Any]:
    """A TOML file as a dict, with a clear error when it is missing or malformed."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"config file {str(p)!r} does not exist")
    with open(p, "rb") as f:
        try:
            return tomllib.load(f)
        except tomllib.TOMLDecodeError as err:
            raise ValueError(f"{p}: not valid TOML: {err}") from err


def parse_assignments(assignments: Sequence[str]) -> Dict[str, Any]:
    """``["lr=0.01", "hidden_channels=64", "act='elu'", "patience=none"]`` -> a dict; values are
    TOML values (a bare word is a string, ``none`` is ``None``)."""
    out: Dict[str, Any] = {}
    for item in assignments:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValueError(f"--set takes KEY=VALUE, got {item!r}")
        text = text.strip()
        if text.lower() in ("none", "null"):
            out[key] = None
            continue
        try:
            out[key] = tomllib.loads(f"v = {text}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = text
    return out


def layer(*layers: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """Merge flat dicts, later ones winning (the one rule for every task)."""
    out: Dict[str, Any] = {}
    for table in layers:
        if table:
            out.update(table)
    return out


def split_config(cls: Type[C], merged: Mapping[str, Any]) -> Tuple[C, Dict[str, Any]]:
    """``(cls(**training keys), model hyperparameters)`` from one merged dict."""
    own = set(cls.keys())
    train = cls(**{k: v for k, v in merged.items() if k in own})
    return train, {k: v for k, v in merged.items() if k not in own}
