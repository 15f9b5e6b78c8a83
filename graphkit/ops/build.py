"""Just-in-time build of the native kernels (``kernels/csrc``) with ``torch.utils.cpp_extension``.

Built once per source version, torch version and machine into ``$XDG_CACHE_HOME/graphkit/kernels``
(``~/.cache/graphkit/kernels``), then loaded as a library whose
``TORCH_LIBRARY(graphkit, ...)`` block registers the ops under ``torch.ops.graphkit``.
"""
from __future__ import annotations

import hashlib
import os
import platform
import sys
from pathlib import Path
from typing import List

import torch

_PACKAGE = Path(__file__).resolve().parent.parent
# -fopenmp: ATen's parallel_for is a header template, so it runs in parallel only when the
# extension itself is built with OpenMP (torch's own libgomp is the runtime it finds when loaded).
CFLAGS = ["-O3", "-march=native", "-mprefer-vector-width=512", "-fopenmp"]
LDFLAGS = ["-fopenmp"]
CUDA_CFLAGS = ["-O3", "--use_fast_math"]


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


def load_native() -> bool:
    """Build (first time only) and load the kernels; returns whether the CUDA kernels are in."""
    from torch.utils.cpp_extension import CUDA_HOME, load

    with_cuda = torch.cuda.is_available() and CUDA_HOME is not None
    sources = _sources(with_cuda)
    directory = build_dir(sources)
    directory.mkdir(parents=True, exist_ok=True)
    if not any(directory.glob("*.so")):
        print(f"graphkit: building native kernels once into {directory} ...", file=sys.stderr, flush=True)
    load(name=f"graphkit_native_{directory.name}", sources=[str(s) for s in sources],
         extra_cflags=CFLAGS, extra_ldflags=LDFLAGS, extra_cuda_cflags=CUDA_CFLAGS if with_cuda else None,
         build_directory=str(directory), is_python_module=False, verbose=False)
    return with_cuda
