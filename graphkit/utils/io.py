"""Atomic result files: write to a temporary file in the same folder, fsync, then rename, so an
interrupted run leaves either the old file or the new one, never half of one. ``file_lock``
serialises processes that update one file or folder."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Union

import torch

from .seed import generator_states, set_generator_states

PathLike = Union[str, os.PathLike]


def _atomic(path: PathLike, write) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


@contextlib.contextmanager
def file_lock(path: PathLike):
    """Hold an exclusive advisory lock (``flock`` on ``path``, created if missing) for the block;
    a second process asking for it waits. No-op where the platform has no ``flock`` (Windows)."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def atomic_save(obj: Any, path: PathLike) -> Path:
    """``torch.save(obj, path)`` atomically."""
    return _atomic(path, lambda f: torch.save(obj, f))


def atomic_save_npy(array, path: PathLike) -> Path:
    """``numpy.save(path, array)`` atomically (the file is complete or absent)."""
    import numpy as np
    return _atomic(path, lambda f: np.save(f, np.asarray(array)))


def atomic_write_text(text: str, path: PathLike) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return _atomic(path, lambda f: f.write(text.encode("utf-8")))


def load_checkpoint(path: PathLike) -> Any:
    """Load a checkpoint written by :func:`atomic_save` (plain tensors, numbers, dicts and lists)."""
    return torch.load(path, map_location="cpu", weights_only=True)


class RunCheckpoint:
    """One training run's checkpoint (model, optimizer, the global generators of torch, Python and
    NumPy, the trainer's ``state`` and, once finished, its ``result``), written atomically; the
    trainers resume from it, and a resumed run ends exactly where an uninterrupted one would.

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
        """``(result, state)``: the finished run's result dict, or the state to continue from
        (model, optimizer and generators restored), or ``(None, None)`` when there is no checkpoint."""
        self._last_save = time.monotonic()
        if self.path is None or not self.path.exists():
            return None, None
        saved = load_checkpoint(self.path)
        if saved["done"]:
            return saved["result"], None
        model.load_state_dict(saved["model"])
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
