"""Shared fixtures: an isolated cache per test session and the real datasets of ../shared.

Tests that need a dataset skip when it is absent locally and fail when ``CI`` is set (CI always
has ``../shared/datasets``).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]


def shared_root() -> Path:
    env = os.environ.get("GRAPHKIT_DATA")
    return Path(env) if env else REPO.parent / "shared" / "datasets"


def need_dataset(folder: str) -> Path:
    """The dataset folder under the shared root; skip (locally) or fail (in CI) when absent."""
    path = shared_root() / folder
    if not path.is_dir():
        message = f"dataset folder {path} is missing (set GRAPHKIT_DATA)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session", autouse=True)
def graphkit_env(tmp_path_factory):
    """Point graphkit at the shared data root (read-only) and a fresh cache."""
    patch = pytest.MonkeyPatch()
    patch.setenv("GRAPHKIT_CACHE", str(tmp_path_factory.mktemp("graphkit-cache")))
    if shared_root().is_dir():
        patch.setenv("GRAPHKIT_DATA", str(shared_root()))
    else:
        patch.delenv("GRAPHKIT_DATA", raising=False)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    yield
    patch.undo()


@pytest.fixture(scope="session")
def cora():
    need_dataset("Cora")
    from graphkit.datasets import load
    return load("cora")


@pytest.fixture(scope="module", params=["reference", "native"])
def each_backend(request):
    """Run a module's tests on both op backends (the native one is skipped locally, and fails in
    CI, when its kernels cannot be built)."""
    from graphkit import ops

    previous = ops.backend()
    try:
        ops.use_backend(request.param)
    except RuntimeError as err:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(err))
    yield request.param
    ops.use_backend(previous)
