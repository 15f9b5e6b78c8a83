"""Atomic result files: write to a temporary file in the same folder, fsync, then rename, so an
interrupted run leaves either the old file or the new one, never half of one (the temporaries of
a killed writer are removed by the next write of the same file); the file gets the mode a plain
``open`` would give. ``file_lock`` serialises processes that update one file or folder."""
from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Any, Union

import torch

PathLike = Union[str, os.PathLike]


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def _remove_stale_temporaries(path: Path) -> None:
    """Temporary files of ``path`` left by writers that died (killed mid-write): their names carry
    the writer's process id (``.<name>.<pid>.<random>.tmp``)."""
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        parts = tmp.name[len(path.name) + 2:].split(".")
        if parts and parts[0].isdigit() and int(parts[0]) != os.getpid() and not _pid_alive(int(parts[0])):
            with contextlib.suppress(OSError):
                tmp.unlink()


def _atomic(path: PathLike, write) -> Path:
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(f"cannot write {str(path)!r}: it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{os.getpid()}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_umask())  # the mode a plain open() gives, not mkstemp's 0600
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
