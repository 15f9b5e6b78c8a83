"""Just-in-time build of the native kernels (``kernels/csrc``) with ``torch.utils.cpp_extension``.

Built once per source version, torch version and machine into ``$XDG_CACHE_HOME/graphkit/kernels``
(``~/.cache/graphkit/kernels``), then loaded as a library whose
``TORCH_LIBRARY(graphkit, ...)`` block registers the ops under ``torch.ops.graphkit``.

Builds are serialised by graphkit's own lock, an ``fcntl.flock`` on ``<build dir>/graphkit.lock``:
the OS releases it when its holder dies, so a process killed mid-build cannot block later ones (torch's
own ``lock`` file, which would, is removed as stale while graphkit's lock is held). A process waits
for the lock at most ``GRAPHKIT_BUILD_TIMEOUT`` seconds (default 600), then raises ``TimeoutError``
naming the lock (``GRAPHKIT_KERNELS=auto`` then falls back to the reference ops with one warning).
The build runs the ``ninja`` of the ``ninja`` Python package, whatever ``ninja`` comes first on
``PATH``, so a build is never redone because another ninja reads the build log differently.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import sys
import time
from pathlib import Path
from typing import Iterator, List, Optional

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: torch's own lock file only, as before
    fcntl = None  # type: ignore[assignment]

import torch

_PACKAGE = Path(__file__).resolve().parent.parent
# -fopenmp: ATen's parallel_for is a header template, so it runs in parallel only when the
# extension itself is built with OpenMP (torch's own libgomp is the runtime it finds when loaded).
CFLAGS = ["-O3", "-march=native", "-mprefer-vector-width=512", "-fopenmp"]
LDFLAGS = ["-fopenmp"]
CUDA_CFLAGS = ["-O3", "--use_fast_math"]
LOCK_NAME = "graphkit.lock"  # graphkit's flock; torch's FileBaton is the file "lock" beside it
DEFAULT_BUILD_TIMEOUT = 600.0
_POLL_SECONDS = 0.1


def sources_dir() -> Path:
    """``kernels/csrc`` of the repository, or its copy inside an installed wheel."""
    for candidate in (_PACKAGE.parent / "kernels" / "csrc", _PACKAGE / "_kernels" / "csrc"):
        if (candidate / "ops.cpp").is_file():
            return candidate
    raise FileNotFoundError(f"kernel sources not found in {_PACKAGE.parent / 'kernels' / 'csrc'}")


def _sources(with_cuda: bool) -> List[Path]:
    root = sources_dir()
    files = [root / "ops.cpp"] + sorted((root / "cpu").glob("*.cpp"))
    if with_cuda:
        files += sorted((root / "cuda").glob("*.cu"))
    return files


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def build_dir(sources: List[Path]) -> Path:
    digest = hashlib.sha1()
    headers = [p for pattern in ("*.h", "*/*.h", "*/*.cuh") for p in sorted(sources_dir().glob(pattern))]
    for path in sources + headers:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    digest.update(" ".join(CFLAGS + LDFLAGS + CUDA_CFLAGS).encode())
    digest.update(f"{torch.__version__}|{sys.version_info[:2]}|{platform.machine()}|{_cpu_model()}".encode())
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "graphkit" / "kernels" / digest.hexdigest()[:16]


def _with_cuda() -> bool:
    from torch.utils.cpp_extension import CUDA_HOME
    return torch.cuda.is_available() and CUDA_HOME is not None


def current_build_dir() -> Path:
    """The build directory of the current sources, flags, torch and machine (it may not exist)."""
    return build_dir(_sources(_with_cuda()))


def build_timeout() -> float:
    """Seconds to wait for another process's build: ``GRAPHKIT_BUILD_TIMEOUT``, default 600."""
    raw = os.environ.get("GRAPHKIT_BUILD_TIMEOUT", "").strip()
    if not raw:
        return DEFAULT_BUILD_TIMEOUT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not value >= 0:  # also rejects nan
        raise ValueError(f"GRAPHKIT_BUILD_TIMEOUT must be a number of seconds >= 0, got {raw!r}")
    return value


@contextlib.contextmanager
def build_lock(directory: Path, timeout: Optional[float] = None) -> Iterator[None]:
    """Hold graphkit's exclusive build lock on ``directory`` (an ``fcntl.flock``, released by the OS
    if this process dies); raise ``TimeoutError`` after ``timeout`` seconds of waiting. Without
    ``fcntl`` this does nothing (torch's own lock file is then the only one)."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    timeout = build_timeout() if timeout is None else timeout
    path = directory / LOCK_NAME
    with open(path, "a+") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(
                        f"graphkit: gave up after {timeout:g} s waiting for the kernel build lock {path}, held by "
                        f"another process building the native kernels in {directory}; set "
                        "GRAPHKIT_BUILD_TIMEOUT (seconds) to wait longer") from None
                time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _break_stale_torch_lock(directory: Path) -> None:
    """With graphkit's lock held no other graphkit process is building here, so torch's ``lock``
    file, if present, was left by a build that was killed: remove it, or ``load`` waits forever."""
    stale = directory / "lock"
    if fcntl is None or not stale.exists():
        return
    try:
        stale.unlink()
    except FileNotFoundError:
        return
    print(f"graphkit: removed the stale build lock {stale} left by an interrupted build", file=sys.stderr,
          flush=True)


def _ninja_dir() -> Optional[str]:
    """Folder of the ``ninja`` Python package's binary (a dependency), or ``None`` without it."""
    try:
        import ninja
    except ImportError:
        return None
    folder = getattr(ninja, "BIN_DIR", None)
    return folder if folder and os.path.isfile(os.path.join(folder, "ninja")) else None


@contextlib.contextmanager
def _pinned_ninja() -> Iterator[None]:
    """Put the ``ninja`` package's binary first on ``PATH`` while building (restored afterwards):
    torch runs whatever ``ninja`` is found there, and a different one rebuilds from scratch."""
    folder = _ninja_dir()
    if folder is None:
        yield
        return
    saved = os.environ.get("PATH")
    os.environ["PATH"] = folder + (os.pathsep + saved if saved else "")
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("PATH", None)
        else:
            os.environ["PATH"] = saved


def load_native() -> bool:
    """Build (first time only) and load the kernels; returns whether the CUDA kernels are in."""
    from torch.utils.cpp_extension import load

    with_cuda = _with_cuda()
    sources = _sources(with_cuda)
    directory = build_dir(sources)  # independent of PATH and of the ninja in use
    directory.mkdir(parents=True, exist_ok=True)
    with build_lock(directory), _pinned_ninja():
        _break_stale_torch_lock(directory)
        built = any(directory.glob("*.so"))
        if not built:
            print(f"graphkit: building native kernels once into {directory} ...", file=sys.stderr, flush=True)
        try:
            # copies: torch appends to the flag lists it is given, which would change build_dir()
            load(name=f"graphkit_native_{directory.name}", sources=[str(s) for s in sources],
                 extra_cflags=list(CFLAGS), extra_ldflags=list(LDFLAGS),
                 extra_cuda_cflags=list(CUDA_CFLAGS) if with_cuda else None,
                 build_directory=str(directory), is_python_module=False, verbose=False)
        except Exception as err:
            if built:
                raise
            leftovers = sorted(p.name for p in directory.iterdir() if p.name not in (LOCK_NAME, "lock"))
            partial = (f"; it holds a partial build ({', '.join(leftovers[:6])}{' ...' if len(leftovers) > 6 else ''}) "
                       "that may be from an interrupted build: delete the directory to rebuild from scratch"
                       if leftovers else "")
            raise RuntimeError(f"graphkit: building the native kernels in {directory} failed "
                               f"({type(err).__name__}: {err}){partial}") from err
    return with_cuda
