"""Hostile data (issue 26): truncated caches, corrupt raw files, bad generator sizes, edges to
missing nodes, non-finite FastRP parameters and a bad evaluation C."""
from __future__ import annotations

import math
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from graphkit import datasets
from graphkit.datasets import DatasetReadError

from conftest import REPO, need_dataset


def _use(monkeypatch, cache: Path, data: Path = None):
    monkeypatch.setenv("GRAPHKIT_CACHE", str(cache))
    if data is not None:
        monkeypatch.setenv("GRAPHKIT_DATA", str(data))


# ----------------------------------------------------------------------------- 1. truncated cache
def test_truncated_processed_file_is_rebuilt_with_a_warning(tmp_path, monkeypatch):
    need_dataset("Cora")
    _use(monkeypatch, tmp_path / "cache")
    reference = datasets.load("cora")
    processed = tmp_path / "cache" / "Cora" / "processed"
    files = sorted(processed.glob("*.pt"))
    assert files
    for path in files:
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size // 2)
    with pytest.warns(UserWarning, match=r"cora.*processed.*(data|pre_\w+)\.pt"):
        again = datasets.load("cora")
    assert torch.equal(again.x, reference.x) and torch.equal(again.edge_index, reference.edge_index)
    assert torch.equal(again.train_mask, reference.train_mask)
    assert not any(p.name == "processed" for p in datasets.data_root().rglob("processed"))  # data root untouched


def test_corrupt_processed_file_after_completion_is_rebuilt(tmp_path, monkeypatch):
    """A processed file that was complete once (marked) and went bad later: the load fails, the
    folder is removed and the dataset processed again, with a warning naming the file."""
    need_dataset("cornell")
    _use(monkeypatch, tmp_path / "cache")
    reference = datasets.load("cornell")
    data_pt = tmp_path / "cache" / "cornell" / "processed" / "data.pt"
    data_pt.write_bytes(b"garbage")
    with pytest.warns(UserWarning, match=r"cornell.*data\.pt"):
        again = datasets.load("cornell")
    assert torch.equal(again.edge_index, reference.edge_index)


_LOADER = """
import sys
from graphkit import datasets
datasets.load(sys.argv[1])
"""


# generous timeouts: 120 s to see a processed file, 300 s per reload (pytest-timeout is not installed)
def test_kill_9_during_first_processing_then_load_works(tmp_path):
    need_dataset("Cora")
    env = {**os.environ, "GRAPHKIT_DATA": str(datasets.data_root()), "PYTHONPATH": str(REPO),
           "OMP_NUM_THREADS": "1"}
    for attempt in range(5):
        cache = tmp_path / f"cache{attempt}"
        env["GRAPHKIT_CACHE"] = str(cache)
        proc = subprocess.Popen([sys.executable, "-c", _LOADER, "cora"], env=env, cwd=str(tmp_path),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            if any((cache / "Cora" / "processed").glob("*")) if (cache / "Cora" / "processed").is_dir() else False:
                break
            time.sleep(0.002)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
        proc.wait()
        done = subprocess.run([sys.executable, "-c", _LOADER, "cora"], env=env, cwd=str(tmp_path),
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        stray = [p.name for p in cache.rglob("*") if p.suffix in (".tmp", ".part") or ".part" in p.name]
        assert stray == []


# ----------------------------------------------------------------------------- 2. corrupt raw files
def _no_rebuild_warning(recwarn):
    assert not [w for w in recwarn if "processing again" in str(w.message)]


def test_truncated_raw_file_names_dataset_and_file(tmp_path, monkeypatch, recwarn):
    source = need_dataset("cornell")
    root = tmp_path / "data"
    shutil.copytree(source, root / "cornell")
    raw = root / "cornell" / "raw" / "cornell_split_0.6_0.2_3.npz"
    raw.write_bytes(raw.read_bytes()[:100])
    _use(monkeypatch, tmp_path / "cache", root)
    with pytest.raises(DatasetReadError, match=r"'cornell'.*cornell_split_0\.6_0\.2_3\.npz"):
        datasets.load("cornell")
    _no_rebuild_warning(recwarn)


def test_truncated_planetoid_pickle_names_dataset_and_file(tmp_path, monkeypatch, recwarn):
    source = need_dataset("Cora")
    root = tmp_path / "data"
    shutil.copytree(source / "raw", root / "Cora" / "raw")
    graph = root / "Cora" / "raw" / "ind.cora.graph"
    graph.write_bytes(graph.read_bytes()[:1000])
    _use(monkeypatch, tmp_path / "cache", root)
    with pytest.raises(DatasetReadError, match=r"'cora'.*ind\.cora\.graph.*truncated or corrupt"):
        datasets.load("cora")
    assert graph.stat().st_size == 1000  # the data root is never written
    _no_rebuild_warning(recwarn)


# ----------------------------------------------------------------------------- 3. generator sizes
@pytest.mark.parametrize("name, params, match", [
    ("rmat", {"num_nodes": -5}, "num_nodes"),
    ("rmat", {"num_edges": -1}, "num_edges"),
    ("rmat", {"num_nodes": 2.5}, "num_nodes"),
    ("random", {"num_nodes": 0}, "num_nodes"),
    ("random", {"num_edges": -3}, "num_edges"),
    ("csbm", {"homophily": 1.5}, "homophily"),
    ("csbm", {"homophily": -0.1}, "homophily"),
    ("csbm", {"homophily": math.nan}, "homophily"),
    ("csbm", {"num_nodes": -10}, "num_nodes"),
    ("csbm", {"avg_degree": -2.0}, "avg_degree"),
    ("csbm", {"avg_degree": math.inf}, "avg_degree"),
])
def test_generator_bad_sizes(name, params, match):
    with pytest.raises(ValueError, match=match):
        datasets.load(name, **params)


def test_generators_unchanged_for_valid_sizes():
    a = datasets.load("rmat", num_nodes=1000, num_edges=5000)
    b = datasets.rmat(num_nodes=1000, num_edges=5000)
    assert torch.equal(a.edge_index, b.edge_index) and a.edge_index.shape == (2, 5000)
    c = datasets.load("csbm", num_nodes=300, homophily=0.0)
    assert c.num_nodes == 300


# ----------------------------------------------------------------------------- 4. edges to missing nodes
def test_edge_to_missing_node_fails_at_load(tmp_path, monkeypatch):
    source = need_dataset("cornell")
    root = tmp_path / "data"
    shutil.copytree(source, root / "cornell")
    edges = root / "cornell" / "raw" / "out1_graph_edges.txt"
    text = edges.read_text()
    edges.write_text(text.rstrip("\n") + "\n0\t99999\n")
    _use(monkeypatch, tmp_path / "cache", root)
    with pytest.raises(DatasetReadError, match=r"'cornell'.*node 99999.*does not exist.*183 nodes"):
        datasets.load("cornell")


def test_edge_id_check_helper():
    from torch_geometric.data import Data

    from graphkit.datasets import check_edge_ids
    check_edge_ids(Data(edge_index=torch.tensor([[0, 1], [1, 2]]), num_nodes=3), "ok")
    with pytest.raises(DatasetReadError, match=r"'neg'.*node -1"):
        check_edge_ids(Data(edge_index=torch.tensor([[0, -1], [1, 2]]), num_nodes=3), "neg")


# ----------------------------------------------------------------------------- 5. FastRP parameters
def _ring(n=20):
    src = torch.arange(n)
    return torch.stack([torch.cat([src, (src + 1) % n]), torch.cat([(src + 1) % n, src])])


@pytest.mark.parametrize("params, match", [
    ({"normalization_strength": math.nan}, "normalization_strength"),
    ({"normalization_strength": math.inf}, "normalization_strength"),
    ({"self_influence": math.nan}, "self_influence"),
    ({"weights": (1.0, math.nan)}, "weights"),
    ({"weights": (1.0, math.inf)}, "weights"),
    ({"weights": ("a", 1.0)}, "weights"),
    ({"weights": ()}, "weights"),
])
def test_fastrp_rejects_non_finite_parameters(params, match):
    from graphkit.embed.fastrp import FastRP
    model = FastRP(dim=8, **params)  # __init__ only stores
    assert model.get_params()[next(iter(params))] is params[next(iter(params))]
    with pytest.raises(ValueError, match=match):
        model.fit(_ring())


def test_fastrp_valid_parameters_still_finite():
    from graphkit.embed.fastrp import FastRP
    emb = FastRP(dim=8, normalization_strength=-0.5, weights=(0.0, 1.0, 2.0)).fit_transform(_ring())
    assert np.isfinite(emb).all()


# ----------------------------------------------------------------------------- 6. evaluation parameters
@pytest.mark.parametrize("params, match", [
    ({"C": 0}, "C "), ({"C": -1.0}, "C "), ({"C": math.nan}, "C "), ({"C": math.inf}, "C "),
    ({"train_ratios": (0.0,)}, "train ratio"), ({"train_ratios": (1.0,)}, "train ratio"),
    ({"train_ratios": (math.nan,)}, "train ratio"), ({"train_ratios": ()}, "train_ratios"),
    ({"repeats": 0}, "repeats"), ({"repeats": 1.5}, "repeats"),
])
def test_node_classification_f1_rejects_bad_parameters(params, match):
    from graphkit.evaluate import node_classification_f1
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 4)), rng.integers(0, 2, size=40)
    with pytest.raises(ValueError, match=match):
        node_classification_f1(x, y, **params)


def test_unfinished_processing_without_marker_is_dropped_before_load(tmp_path, monkeypatch):
    """What kill -9 during the first processing leaves: a truncated file and no completion marker."""
    need_dataset("cornell")
    _use(monkeypatch, tmp_path / "cache")
    reference = datasets.load("cornell")
    processed = tmp_path / "cache" / "cornell" / "processed"
    (processed / ".graphkit-complete").unlink()
    data_pt = processed / "data.pt"
    data_pt.write_bytes(data_pt.read_bytes()[:64])
    with pytest.warns(UserWarning, match=r"cornell.*data\.pt.*truncated"):
        again = datasets.load("cornell")
    assert torch.equal(again.edge_index, reference.edge_index)
    assert (processed / ".graphkit-complete").is_file()
