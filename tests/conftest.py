"""Shared fixtures: an isolated cache per test session and the real datasets of ../shared.

Tests that need a dataset skip when it is absent locally and fail when ``CI`` is set (CI always
has ``../shared/datasets``).
"""
from __future__ import annotations

import inspect
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


# ----------------------------------------------------------------------------- hostile-input tally
# Every case of the tests/test_hostile*.py suites is counted by what it showed: a clear error
# (the case expects one, through pytest.raises, the CLI's usage status 2 or a child process that
# fails with a message, and got the named error) or the right answer when it passes; when
# it fails, the kind of failure: a hang (a TimeoutError), a segfault (a child process killed by a
# signal; such cases run in subprocesses, an in-process segfault would end the run), a silent wrong
# answer (an assertion on a result failed, or bad input was accepted: "DID NOT RAISE") or a deep
# crash (any other exception escaped, or the error raised does not name the problem).
HOSTILE_OUTCOMES = ("clear error", "right answer", "segfault", "hang", "silent wrong answer", "deep crash")
_hostile_tally: dict = {}


def _hostile_outcome(item, call) -> str:
    if call.excinfo is None:
        source = inspect.getsource(getattr(item, "function", lambda: None))
        expects_error = any(mark in source for mark in ("pytest.raises", ") == 2", "returncode != 0"))
        return "clear error" if expects_error else "right answer"  # raises, CLI usage status 2, failed child
    err, text = call.excinfo.value, str(call.excinfo.value)
    if isinstance(err, TimeoutError) or "hangs" in text or "TimeoutExpired" in type(err).__name__:
        return "hang"
    if "segfault" in text or "SIGSEGV" in text or "Segmentation fault" in text:
        return "segfault"
    if "Regex pattern did not match" in text:
        return "deep crash"
    if isinstance(err, AssertionError) or "DID NOT RAISE" in text:
        return "silent wrong answer"
    return "deep crash"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if not item.path.name.startswith("test_hostile") or report.skipped:
        return
    if call.when == "call" or (report.failed and call.when == "setup"):
        _hostile_tally[item.nodeid] = _hostile_outcome(item, call)


def pytest_terminal_summary(terminalreporter):
    if not _hostile_tally:
        return
    counts = {kind: 0 for kind in HOSTILE_OUTCOMES}
    for kind in _hostile_tally.values():
        counts[kind] += 1
    terminalreporter.write_sep("-", "hostile-input suite")
    plural = {"deep crash": "deep crashes"}
    terminalreporter.write_line(f"{len(_hostile_tally)} cases: " + ", ".join(
        f"{n} {kind if n == 1 else plural.get(kind, kind + 's')}" for kind, n in counts.items()))


def same_runs(a: dict, b: dict) -> None:
    """Two reports hold the same runs (all but timing and memory), figures and config."""
    timing = {"seconds", "seconds_per_epoch", "peak_rss_mib"}
    for x, y in zip(a["runs"], b["runs"]):
        assert {k: v for k, v in x.items() if k not in timing | {"history"}} == \
            {k: v for k, v in y.items() if k not in timing | {"history"}}
        assert {k: v for k, v in x["history"].items() if k != "epoch_seconds"} == \
            {k: v for k, v in y["history"].items() if k != "epoch_seconds"}
    assert a["test"] == b["test"] and a["valid"] == b["valid"] and a["config"] == b["config"]
