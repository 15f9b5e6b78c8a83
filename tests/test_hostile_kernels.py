"""Hostile conditions for the kernels and the walks (issue 26): a build killed while holding torch's
lock file, a build lock held by a live process, a foreign ``ninja`` first on ``PATH``, and node2vec
parameters that made the rejection-sampled walks loop forever.

Every check that could hang on a regression runs in a subprocess with a timeout or under
:func:`time_limit`, so it fails instead. The kernel tests work on a copy of the real build
directory under a temporary ``XDG_CACHE_HOME``: the real cache is never touched.
"""
from __future__ import annotations

import contextlib
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import networkx as nx
import pytest
import torch

from graphkit import Adj, ops
from graphkit.ops import build

REPO = Path(__file__).resolve().parents[1]
fcntl = pytest.importorskip("fcntl")


@contextlib.contextmanager
def time_limit(seconds: int):
    """Raise ``TimeoutError`` in Python code running past ``seconds``; a native loop that never
    returns to Python is ended by faulthandler's watchdog (the test run fails instead of hanging)."""
    def expire(signum, frame):
        raise TimeoutError(f"still running after {seconds} s: the call hangs")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    faulthandler.dump_traceback_later(seconds + 30, exit=True)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


# ----------------------------------------------------------------------------- kernel build
@pytest.fixture
def cache_copy(tmp_path):
    """``(XDG_CACHE_HOME, build dir)``: a copy of the built kernels of the current sources."""
    pytest.importorskip("graphkit.ops.native")  # builds them in the real cache once, if needed
    real = build.current_build_dir()
    if not any(real.glob("*.so")):
        pytest.skip(f"no built kernels in {real}")
    cache = tmp_path / "cache"
    copy = cache / real.relative_to(real.parents[2])
    shutil.copytree(real, copy, ignore=shutil.ignore_patterns("lock", build.LOCK_NAME))  # copy2: mtimes kept
    return cache, copy


def _env(cache: Path, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("GRAPHKIT_BUILD_TIMEOUT", "GRAPHKIT_KERNELS")}
    return dict(env, XDG_CACHE_HOME=str(cache), PYTHONPATH=str(REPO), **extra)


ONE_OP = textwrap.dedent("""
    import os, torch
    from graphkit import Adj, ops
    adj = Adj.from_edge_index(torch.tensor([[0, 1, 2], [1, 2, 0]]), 3)
    out = ops.spmm(adj, torch.ones(3, 2))
    print("backend", ops.backend(), out.sum().item())
    print("path", os.environ["PATH"].split(os.pathsep)[0])
""")


def _run(code: str, env: dict, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=timeout)


def test_stale_torch_lock_is_broken(cache_copy):
    cache, directory = cache_copy
    (directory / "lock").write_text("")  # what a build killed inside torch's FileBaton leaves behind
    so = next(directory.glob("*.so"))
    mtime = so.stat().st_mtime_ns
    result = _run(ONE_OP, _env(cache, GRAPHKIT_KERNELS="native"))  # hung forever before the fix
    assert result.returncode == 0, result.stderr
    assert "backend native 6.0" in result.stdout
    assert f"removed the stale build lock {directory / 'lock'}" in result.stderr
    assert not (directory / "lock").exists()
    assert so.stat().st_mtime_ns == mtime  # loaded, not rebuilt


@contextlib.contextmanager
def _lock_held_by_another_process(directory: Path):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys, time\n"
                               f"f = open({str(directory / build.LOCK_NAME)!r}, 'a+')\n"
                               "fcntl.flock(f.fileno(), fcntl.LOCK_EX)\n"
                               "print('locked', flush=True)\n"
                               "time.sleep(120)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_live_build_lock_times_out_under_native(cache_copy):
    cache, directory = cache_copy
    with _lock_held_by_another_process(directory):
        result = _run(ONE_OP, _env(cache, GRAPHKIT_KERNELS="native", GRAPHKIT_BUILD_TIMEOUT="3"), timeout=90)
    assert result.returncode != 0
    assert "RuntimeError: graphkit's native kernels could not be built" in result.stderr
    assert f"waiting for the kernel build lock {directory / build.LOCK_NAME}" in result.stderr
    assert "GRAPHKIT_BUILD_TIMEOUT" in result.stderr


def test_live_build_lock_falls_back_under_auto(cache_copy):
    cache, directory = cache_copy
    with _lock_held_by_another_process(directory):
        result = _run(ONE_OP, _env(cache, GRAPHKIT_KERNELS="auto", GRAPHKIT_BUILD_TIMEOUT="3"), timeout=90)
    assert result.returncode == 0, result.stderr
    assert "backend reference 6.0" in result.stdout
    assert result.stderr.count("RuntimeWarning: graphkit: native kernels unavailable (TimeoutError") == 1
    assert str(directory / build.LOCK_NAME) in result.stderr


def test_build_lock_timeout_in_process(tmp_path):
    with open(tmp_path / build.LOCK_NAME, "a+") as other:  # another open file: flock excludes it too
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        with pytest.raises(TimeoutError, match=f"build lock {tmp_path / build.LOCK_NAME}"):
            with time_limit(30), build.build_lock(tmp_path, timeout=0.3):
                pass
        fcntl.flock(other.fileno(), fcntl.LOCK_UN)
    with time_limit(30), build.build_lock(tmp_path, timeout=0.3):
        pass  # free again


@pytest.mark.parametrize("value", ["soon", "-1", "nan"])
def test_build_timeout_must_be_seconds(monkeypatch, value):
    monkeypatch.setenv("GRAPHKIT_BUILD_TIMEOUT", value)
    with pytest.raises(ValueError, match="GRAPHKIT_BUILD_TIMEOUT must be a number of seconds"):
        build.build_timeout()
    monkeypatch.setenv("GRAPHKIT_BUILD_TIMEOUT", "2.5")
    assert build.build_timeout() == 2.5


def test_foreign_ninja_first_on_path_neither_breaks_nor_rebuilds(cache_copy, tmp_path):
    cache, directory = cache_copy
    fake = tmp_path / "fake-bin"
    fake.mkdir()
    (fake / "ninja").write_text("#!/bin/sh\necho 'not the ninja graphkit builds with' >&2\nexit 1\n")
    (fake / "ninja").chmod(0o755)
    so = next(directory.glob("*.so"))
    mtime = so.stat().st_mtime_ns
    path = f"{fake}{os.pathsep}{os.environ.get('PATH', '')}"
    result = _run(ONE_OP, _env(cache, GRAPHKIT_KERNELS="native", PATH=path))
    assert result.returncode == 0, result.stderr
    assert "backend native 6.0" in result.stdout
    assert f"path {fake}" in result.stdout  # PATH restored after the build
    assert "building native kernels" not in result.stderr
    assert so.stat().st_mtime_ns == mtime


def test_build_dir_ignores_path_and_loading(monkeypatch):
    pytest.importorskip("graphkit.ops.native")
    assert any(build.current_build_dir().glob("*.so"))  # torch's load no longer changes the flags
    sources = build._sources(False)
    before = build.build_dir(sources)
    monkeypatch.setenv("PATH", "/nowhere" + os.pathsep + os.environ.get("PATH", ""))
    assert build.build_dir(sources) == before


def test_pinned_ninja_restores_path():
    pytest.importorskip("ninja")
    saved = os.environ.get("PATH")
    with build._pinned_ninja():
        assert shutil.which("ninja") == os.path.join(build._ninja_dir(), "ninja")
    assert os.environ.get("PATH") == saved


def test_failed_partial_build_is_a_clear_error(monkeypatch, tmp_path):
    import torch.utils.cpp_extension as cpp

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    directory = build.current_build_dir()
    directory.mkdir(parents=True)
    (directory / "ops.o").write_bytes(b"truncated")  # an interrupted build: objects, no library
    (directory / "lock").write_text("")

    def failing_load(**kwargs):
        raise RuntimeError("Error building extension 'graphkit_native'")

    monkeypatch.setattr(cpp, "load", failing_load)
    with pytest.raises(RuntimeError, match=r"building the native kernels in .* failed .*partial build \(ops\.o\)"
                                           r".*delete the directory"):
        build.load_native()


@pytest.mark.slow
def test_kill_9_during_the_kernel_build_five_times_then_the_build_succeeds(tmp_path):
    """A build from scratch (a fresh cache) killed with SIGKILL, the whole process group (Python,
    ninja and the compilers), at five points of its run; then one build to the end: it succeeds, the
    op runs natively, and nothing stray is left: no torch ``lock``, no temporary files."""
    cache = tmp_path / "cache"
    env = _env(cache, GRAPHKIT_KERNELS="native")
    directory = Path(_run("from graphkit.ops import build; print(build.current_build_dir())", env).stdout.strip())
    kills = []
    for delay in (3, 10, 20, 35, 55):  # seconds after the build started: compiling, later linking
        proc = subprocess.Popen([sys.executable, "-c", ONE_OP], env=env, cwd=REPO, start_new_session=True,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills.append(delay)
        if any(directory.glob("*.so")):
            break  # built within the delay: nothing left to interrupt
    assert kills, "the build finished before any kill"
    result = _run(ONE_OP, env, timeout=1800)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "backend native 6.0" in result.stdout
    stray = sorted(p.name for p in directory.iterdir()
                   if p.name == "lock" or p.suffix in (".tmp", ".part") or p.name.startswith("tmp"))
    assert stray == []
    print(f"killed at {kills} s, then built in {directory}")


# ----------------------------------------------------------------------------- walks
def _directed():
    return Adj.from_edge_index(torch.tensor([[0, 1, 2, 3, 1], [1, 2, 3, 0, 3]]), 4)


@pytest.mark.parametrize("kwargs, name", [
    ({"p": float("inf")}, "p"), ({"p": 1e12}, "p"), ({"q": float("inf")}, "q"), ({"q": 1e12}, "q"),
    ({"p": float("nan")}, "p"), ({"q": float("-inf")}, "q"), ({"p": 1e-3}, "p"), ({"q": 1e-9}, "q"),
    ({"p": 0.0}, "p"), ({"q": -2.0}, "q"),
])
@pytest.mark.parametrize("kernels", ["current", "reference"])
def test_random_walk_rejects_unbounded_bias(kwargs, name, kernels):
    previous = ops.backend()
    if kernels == "reference":
        ops.use_backend("reference")
    try:
        with time_limit(60), pytest.raises(ValueError, match=rf"^{name} must .*\[0.01, 100\].*got {name}="):
            ops.random_walk(_directed(), torch.tensor([3]), 3, **kwargs)
    finally:
        ops.use_backend(previous)


def test_random_walk_bias_type_and_bounds():
    adj = _directed()
    with pytest.raises(TypeError, match="p must be a number"):
        ops.random_walk(adj, torch.tensor([0]), 3, p="4")
    with time_limit(60):  # the bounds themselves are accepted and finish
        for p, q in ((0.01, 1.0), (100.0, 1.0), (1.0, 100.0), (4.0, 0.25)):
            walks = ops.random_walk(adj, torch.tensor([0, 1, 2, 3]), 6, p=p, q=q, seed=1)
            assert walks.shape == (4, 7)


@pytest.mark.parametrize("params, name", [
    ({"p": float("inf")}, "p"), ({"p": 1e12}, "p"), ({"q": float("inf")}, "q"), ({"q": float("nan")}, "q"),
    ({"p": 1e-5}, "p"), ({"workers": -2}, "workers"), ({"workers": 0}, "workers"), ({"workers": 1.5}, "workers"),
    ({"walk_length": 1}, "walk_length"), ({"dim": 0}, "dim"), ({"window": 0}, "window"), ({"epochs": 0}, "epochs"),
    ({"negative": -1}, "negative"), ({"walks_per_node": 0}, "walks_per_node"), ({"dim": 8.0}, "dim"),
])
def test_node2vec_rejects_bad_parameters_in_fit(params, name):
    from graphkit.embed import Node2Vec
    model = Node2Vec(**params)  # scikit-learn contract: __init__ only stores
    assert model.get_params()[name] is params[name]
    with time_limit(60), pytest.raises(ValueError, match=rf"^{name} must"):
        model.fit(nx.cycle_graph(6))


def test_node2vec_workers_minus_one_means_all_cores():
    from graphkit.embed import Node2Vec
    model = Node2Vec(dim=4, walk_length=5, walks_per_node=2, window=2, workers=-1, trainer="native", seed=1)
    with time_limit(120):
        emb = model.fit_transform(nx.cycle_graph(8))
    assert emb.shape == (8, 4) and model.get_params()["workers"] == -1
    # trained: the vectors moved from sgns_train's initialisation (untrained vectors were the old bug)
    untrained = ops.sgns_train(torch.zeros(1, 1, dtype=torch.long), 8, 4, 2, 5, 1, seed=1).numpy()
    assert not (emb == untrained).all()


@pytest.mark.parametrize("args, message", [
    (["--p", "inf"], "p must be a positive finite number"),
    (["--q", "1e12"], "q must lie in [0.01, 100]"),
    (["--walk-length", "1"], "walk_length must be an integer >= 2"),
    (["--workers", "-3"], "workers must be"),
])
def test_cli_node2vec_rejects_bad_parameters(tmp_path, args, message):
    out = tmp_path / "emb.npy"
    result = subprocess.run([sys.executable, "-m", "graphkit", "embed", "node2vec", "--dataset", "csbm",
                             "--out", str(out), "--quiet", *args], cwd=REPO, capture_output=True, text=True,
                            timeout=60, env=dict(os.environ, PYTHONPATH=str(REPO)))
    assert result.returncode == 2, result.stderr
    assert f"error: {message}" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"alpha": float("inf")}, ValueError, "alpha must be finite"),
    ({"sample": float("nan")}, ValueError, "sample must be finite"),
    ({"min_alpha": float("nan")}, ValueError, "min_alpha must be finite"),
    ({"dim": 2.5}, ValueError, "dim must be an integer"),
    ({"window": float("inf")}, ValueError, "window must be an integer"),
    ({"epochs": True}, TypeError, "epochs must be an integer"),
    ({"negative": "5"}, TypeError, "negative must be an integer"),
])
def test_sgns_train_rejects_bad_arguments(kwargs, error, match):
    args = {"num_nodes": 3, "dim": 4, "window": 2, "negative": 1, "epochs": 1, **kwargs}
    with time_limit(60), pytest.raises(error, match=match):
        ops.sgns_train(torch.tensor([[0, 1, 2]]), **args)
