"""One training run's checkpoint, written atomically, from which the engine resumes a run exactly."""
from __future__ import annotations

import time
from pathlib import Path
from typing import Union

import torch

from ..utils.io import PathLike, atomic_save, load_checkpoint
from ..utils.seed import generator_states, set_generator_states


class RunCheckpoint:
    """One training run's checkpoint (model, optimizer, the global generators of torch, Python and
    NumPy, the engine's ``state`` and, once finished, its ``result``), written atomically; the
    engine resumes from it, and a resumed run ends exactly where an uninterrupted one would.

    ``path`` ``None`` turns checkpointing off (every method does nothing). :meth:`epoch_done`
    saves every ``every`` epochs, and after any epoch that ends ``seconds`` or more after the last
    save (so a run with slow epochs loses at most about that much work when it is killed).
    """

    def __init__(self, path: Union[PathLike, None], every: int = 5, seconds: float = 60.0):
        if every < 1:
            raise ValueError(f"checkpoint_every must be at least 1, got {every}")
        if seconds < 0:
            raise ValueError(f"checkpoint_seconds must be >= 0, got {seconds}")
        self.path = None if path is None else Path(path)
        self.every, self.seconds = every, seconds
        self._last_save = time.monotonic()

    def resume(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer):
        """``(result, state)``: the finished run's result dict (its trained model restored), or the
        state to continue from (model, optimizer and generators restored), or ``(None, None)`` when
        there is no checkpoint."""
        self._last_save = time.monotonic()
        if self.path is None or not self.path.exists():
            return None, None
        saved = load_checkpoint(self.path)
        model.load_state_dict(saved["model"])
        if saved["done"]:
            return saved["result"], None
        optimizer.load_state_dict(saved["optimizer"])
        if "generators" in saved:
            set_generator_states(saved["generators"])
        else:  # written before the checkpoint carried Python's and NumPy's generators
            torch.set_rng_state(saved["rng"])
        return None, saved["state"]

    def epoch_done(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict,
                   epoch: int) -> None:
        """Call after epoch ``epoch`` (1-based) has finished; saves when one is due."""
        if epoch % self.every == 0 or time.monotonic() - self._last_save >= self.seconds:
            self.save(model, optimizer, state)

    def save(self, model: torch.nn.Module, optimizer: torch.optim.Optimizer, state: dict,
             result: Union[dict, None] = None) -> None:
        """Write the run; ``result`` marks it finished."""
        if self.path is not None:
            atomic_save({"done": result is not None, "result": result, "model": model.state_dict(),
                         "optimizer": optimizer.state_dict(), "generators": generator_states(),
                         "state": state}, self.path)
            self._last_save = time.monotonic()
