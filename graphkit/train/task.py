"""The seam between the engine and a task: what one step computes and how a model is evaluated.

A task subclasses :class:`Task` (or provides the same two methods); the engine owns everything
else (device, optimizer, loop, selection, checkpoints, report). In Lightning's terms a task is the
step, the engine the loop.
"""
from __future__ import annotations

from typing import Any, Dict, Iterable, Sequence, Tuple

from torch import Tensor, nn


class Task:
    """What a task supplies to :class:`graphkit.train.Engine`.

    Attributes:
        monitor: the validation metrics that select a run's epoch, compared in order (ties of the
            first broken by the second, ...), each ``(name, "max" | "min")``.
    """

    monitor: Sequence[Tuple[str, str]] = (("loss", "min"),)

    def training_step(self, model: nn.Module, batch: Any) -> Tensor:
        """The loss of one batch (a scalar with a graph for ``backward``)."""
        raise NotImplementedError

    def evaluate(self, model: nn.Module, loader: Iterable) -> Dict[str, float]:
        """``{metric: value}`` of ``model`` (in eval mode, under ``torch.no_grad``) on ``loader``."""
        raise NotImplementedError

    def batch_size(self, batch: Any) -> int:
        """How many targets ``batch`` holds (weights its loss in the epoch's mean loss)."""
        return 1
