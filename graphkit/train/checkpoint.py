"""One training run's checkpoint, written atomically, from which the engine resumes a run exactly."""
from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Optional, Union

import torch

from ..utils.io import PathLike, atomic_save, load_checkpoint
from ..utils.seed import generator_states, set_generator_states
from . import distributed


class RunCheckpoint:
    """One training run's checkpoint (model, optimizer, the global generators of torch, Python and
    NumPy, the engine's ``state`` and, once finished, its ``result``), written atomically; the
    engine resumes from it, and a resumed run ends exactly where an uninterrupted one would.

    ``path`` ``None`` turns checkpointing off (every method does nothing). :meth:`epoch_done`
    saves every ``every`` epochs, and after any epoch that ends ``seconds`` or more after the last
    save (so a run with slow epochs loses at most about that much work when it is killed).
    """

    def __init__(self, path: Union[PathLike, None], every: int = 5, seconds: float = 60.0, key: Optional[str] = None):
        if every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {every}")
        if seconds < 0:
            raise ValueError(f"checkpoint_seconds must be >= 0, got {seconds}")
        self.path = None if path is None else Path(path)
        self.every, self.seconds, self.key = every, seconds, key
        self._last_save = time.monotonic()

    def resume(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer):
        """``(result, state)``: the finished run's result dict (its trained model restored), or the
        state to continue from (model, optimizer and generators restored), or ``(None, None)`` when
        there is no checkpoint."""
        self._last_save = time.monotonic()
        if self.path is None or not self.path.exists():
            return None, None
        try:
            saved = load_checkpoint(self.path)
            problem = self._mismatch(saved, model, optimizer)
        except Exception as err:  # truncated, corrupt or not a checkpoint at all
            problem = f"it cannot be read ({type(err).__name__}: {err})"
        if problem is not None:
            self._set_aside(problem)
            return None, None
        model.load_state_dict(saved["model"])
        if saved["done"]:
            return saved["result"], None
        optimizer.load_state_dict(saved["optimizer"])
        if "generators" in saved:
            set_generator_states(saved["generators"])
        else:  # written before the checkpoint carried Python's and NumPy's generators
            torch.set_rng_state(saved["rng"])
        return None, saved["state"]

    def _mismatch(self, saved, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> Optional[str]:
        """Why ``saved`` is not a checkpoint of this run, or ``None``."""
        if not isinstance(saved, dict) or not {"done", "model", "optimizer", "state"} <= set(saved):
            return "it is not a run checkpoint"
        if self.key is not None and saved.get("key", self.key) != self.key:
            return f"it belongs to another run (key {saved.get('key')}, this run {self.key})"
        own = model.state_dict()
        theirs = saved["model"]
        if set(own) != set(theirs) or any(tuple(own[k].shape) != tuple(theirs[k].shape) for k in own):
            return "its model's parameters differ from this run's model"
        counts = [len(g["params"]) for g in saved["optimizer"].get("param_groups", [])]
        accepted = [[len(g["params"]) for g in optimizer.param_groups]]
        if hasattr(optimizer, "member_counts"):  # flat buffers also read the per-parameter state
            accepted.append(optimizer.member_counts())
        if counts not in accepted:
            return "its optimizer's parameter groups differ from this run's"
        return None

    def _set_aside(self, problem: str) -> None:
        """Rename an unusable checkpoint out of the way (kept for inspection) and say so."""
        aside = self.path.with_name(f"{self.path.name}.unusable-{time.strftime('%Y%m%d-%H%M%S')}")
        os.replace(self.path, aside)
        warnings.warn(f"checkpoint {self.path} was set aside as {aside.name}: {problem}; the run starts afresh",
                      RuntimeWarning, stacklevel=3)

    def epoch_done(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict,
                   epoch: int) -> None:
        """Call after epoch ``epoch`` (1-based) has finished; saves when one is due."""
        if epoch % self.every == 0 or time.monotonic() - self._last_save >= self.seconds:
            self.save(model, optimizer, state)

    def save(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict,
             result: Union[dict, None] = None) -> None:
        """Write the run; ``result`` marks it finished. In a distributed run rank 0 writes (every
        rank holds the same state)."""
        if self.path is not None and distributed.is_main():
            atomic_save({"done": result is not None, "result": result, "key": self.key, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "generators": generator_states(),
                         "state": state}, self.path)
            self._last_save = time.monotonic()
