"""Hostile and careless input to the engine, the tasks and the command line: each case gets a
clear error naming the problem, or the right answer; stored runs never answer for other data."""
from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import pytest
import torch

import graphkit
from graphkit import datasets
from graphkit.cli import main
from graphkit.tasks import NodeClassification
from graphkit.train import TrainConfig
from graphkit.utils import atomic_save_npy, atomic_write_text, fingerprint

FAST = {"epochs": 15, "patience": None}


# ----------------------------------------------------------------------------- stored runs
def test_a_checkpoint_never_answers_for_another_graph_of_the_same_name(tmp_path):
    """Two graphs named alike (csbm at homophily 0.9, then 0.1) in one checkpoint folder: the
    second is trained, not read back from the first."""
    easy = datasets.load("csbm", num_nodes=400, homophily=0.9, seed=1)
    hard = datasets.load("csbm", num_nodes=400, homophily=0.1, seed=1)
    assert easy.name == hard.name
    first = NodeClassification("gcn", config=FAST, checkpoint_dir=str(tmp_path), progress=False).fit(easy)
    second = NodeClassification("gcn", config=FAST, checkpoint_dir=str(tmp_path), progress=False).fit(hard)
    alone = NodeClassification("gcn", config=FAST, progress=False).fit(hard)
    assert second.runs[0].test == alone.runs[0].test != first.runs[0].test
    assert len(list(tmp_path.rglob("*.pt"))) == 2


def test_a_user_module_with_other_weights_is_another_run(tmp_path):
    data = datasets.load("csbm", num_nodes=300, seed=2)
    model = graphkit.nn.GCN(data.num_features, 8, 2, out_channels=int(data.y.max()) + 1)
    NodeClassification(model, config=FAST, checkpoint_dir=str(tmp_path), progress=False).fit(data)
    other = graphkit.nn.GCN(data.num_features, 8, 2, out_channels=int(data.y.max()) + 1, act="elu")
    NodeClassification(other, config=FAST, checkpoint_dir=str(tmp_path), progress=False).fit(data)
    assert len(list(tmp_path.rglob("*.pt"))) == 2


@pytest.mark.parametrize("damage", ["truncated", "garbage", "foreign"])
def test_an_unusable_checkpoint_is_set_aside_and_the_run_starts_afresh(damage, tmp_path):
    data = datasets.load("csbm", num_nodes=300, seed=3)
    fresh = NodeClassification("gcn", config=FAST, progress=False).fit(data)
    NodeClassification("gcn", config=FAST, checkpoint_dir=str(tmp_path), progress=False).fit(data)
    (path,) = tmp_path.rglob("*.pt")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:200])
    elif damage == "garbage":
        path.write_bytes(b"not a checkpoint at all")
    else:  # a whole checkpoint of another run (another model), copied under this run's name
        other = tmp_path / "other"
        NodeClassification("mlp", config=FAST, checkpoint_dir=str(other), progress=False).fit(data)
        (foreign,) = other.rglob("*.pt")
        path.write_bytes(foreign.read_bytes())
    with pytest.warns(RuntimeWarning, match="set aside"):
        again = NodeClassification("gcn", config=FAST, checkpoint_dir=str(tmp_path), progress=False).fit(data)
    assert again.runs[0].test == fresh.runs[0].test
    assert len(list(path.parent.glob(f"{path.name}.unusable-*"))) == 1 and path.exists()


# ----------------------------------------------------------------------------- task input
def _csbm():
    return datasets.load("csbm", num_nodes=200, seed=4)


@pytest.mark.parametrize("change,error,match", [
    (lambda d: setattr(d, "train_mask", d.train_mask.long()), TypeError, "train_mask must be a bool tensor"),
    (lambda d: setattr(d, "val_mask", torch.zeros_like(d.val_mask)), ValueError, "no validation nodes"),
    (lambda d: setattr(d, "test_mask", d.train_mask.clone()), ValueError, "test nodes are also training nodes"),
    (lambda d: d.y.__setitem__(0, -1), ValueError, "negative labels"),
    (lambda d: setattr(d, "test_mask", d.test_mask[:10]), ValueError, "test_mask must have shape"),
])
def test_bad_node_splits_and_labels_are_named(change, error, match):
    data = _csbm()
    change(data)
    with pytest.raises(error, match=match):
        NodeClassification("gcn", config=FAST, progress=False).fit(data)


@pytest.mark.parametrize("config,error,match", [
    ({"epochs": 0}, ValueError, "epochs must be at least 1"),
    ({"epochs": -3}, ValueError, "epochs must be at least 1"),
    ({"epochs": 2.5}, TypeError, "epochs must be int"),
    ({"epochs": True}, TypeError, "epochs must be int"),
    ({"lr": "abc"}, TypeError, "lr must be int or float"),
    ({"lr": 0.0}, ValueError, "lr must be positive"),
    ({"patience": 1.5}, TypeError, "patience must be int or None"),
    ({"weight_decay": -1.0}, ValueError, "weight_decay"),
    ({"optimizer": "sgdd"}, ValueError, "unknown optimizer"),
])
def test_bad_training_config_is_named(config, error, match):
    with pytest.raises(error, match=match):
        TrainConfig(**config)
    with pytest.raises(error, match=match):
        NodeClassification("gcn", config=config, progress=False).fit(_csbm())


def test_runs_below_one_and_unknown_models_are_named():
    with pytest.raises(ValueError, match="runs must be at least 1"):
        NodeClassification("gcn", runs=0).fit(_csbm())
    with pytest.raises(TypeError, match="preset name, an nn.Module or a factory"):
        NodeClassification(42).fit(_csbm())


@pytest.mark.parametrize("num_edges", [1, 5, 19])
def test_link_prediction_on_too_few_edges_is_named(num_edges):
    """4 nodes and 1 edge (the reproducer), up to 19 undirected edges: the 5 % validation part
    would be empty, so the split refuses before any training."""
    from torch_geometric.data import Data

    from graphkit.tasks import LinkPrediction
    n = 30
    pairs = torch.combinations(torch.arange(n), 2)[:num_edges].t()
    data = Data(x=torch.randn(n, 3), edge_index=torch.cat([pairs, pairs.flip(0)], 1), num_nodes=n)
    with pytest.raises(ValueError, match=rf"the graph has {num_edges} undirected edge\(s\): too few for a link "
                                         r"split .* at least 20 edges"):
        LinkPrediction("gcn", config={"epochs": 1}, progress=False).fit(data)


# ----------------------------------------------------------------------------- files
def test_atomic_writes_take_the_umask_mode_and_clear_a_killed_writers_temporaries(tmp_path):
    target = tmp_path / "r.json"
    dead = tmp_path / f".r.json.{2 ** 22 + 12345}.abc.tmp"  # a pid no process has
    dead.write_text("half")
    mine = tmp_path / f".r.json.{os.getpid()}.xyz.tmp"  # this process's own: not touched
    mine.write_text("busy")
    old = os.umask(0o022)
    try:
        atomic_write_text("{}", target)
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert not dead.exists() and mine.exists() and target.read_text() == "{}"
    with pytest.raises(IsADirectoryError, match="is a directory"):
        atomic_write_text("{}", tmp_path)


_WRITER = """
import sys
import numpy as np
from graphkit.utils import atomic_save_npy
print("ready", flush=True)
version = 0
while True:  # 16 MB files, one after another, until killed
    atomic_save_npy(np.full(2_000_000, version, dtype=np.int64), sys.argv[1])
    version += 1
"""


def test_kill_9_during_atomic_writes_five_times_loses_nothing_and_leaves_no_temporaries(tmp_path):
    """A writer killed with SIGKILL while its temporary file is being written, five times: the
    target is always one whole version, never a torn one, and the next write succeeds and clears
    the dead writer's temporary."""
    import subprocess
    import sys

    import numpy as np
    target = tmp_path / "big.npy"
    env = {**os.environ, "PYTHONPATH": str(Path(graphkit.__file__).parents[1])}
    atomic_save_npy(np.arange(3), target)
    mid_write = 0
    for _ in range(5):
        writer = subprocess.Popen([sys.executable, "-c", _WRITER, str(target)], env=env, stdout=subprocess.PIPE,
                                  text=True)
        assert writer.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".big.npy.*.tmp")) and time.monotonic() < deadline:
            time.sleep(0.001)  # until a version is being written
        writer.kill()
        writer.wait()
        mid_write += bool(list(tmp_path.glob(".big.npy.*.tmp")))
        whole = np.load(target)  # the previous whole file (ours) or one of the writer's
        assert whole.tolist() == [0, 1, 2] or (whole.shape == (2_000_000,) and bool((whole == whole[0]).all()))
        atomic_save_npy(np.arange(3), target)
        assert np.load(target).tolist() == [0, 1, 2]
        assert list(tmp_path.glob(".*.tmp")) == []
    assert mid_write >= 1  # the kills did land inside writes


def test_fingerprints_see_values_dtypes_and_shapes():
    a = torch.arange(6)
    assert fingerprint(a) == fingerprint(torch.arange(6))
    assert len({fingerprint(a), fingerprint(a.float()), fingerprint(a.view(2, 3)), fingerprint(a + 1)}) == 4
    assert fingerprint({"x": a, "n": 1}) == fingerprint({"n": 1, "x": a}) != fingerprint({"x": a, "n": 2})


# ----------------------------------------------------------------------------- command line
@pytest.mark.parametrize("extra,message", [
    (["--json", "{tmp}"], "is a folder"),
    (["--plot", "{tmp}/curves.txt"], "unknown image format"),
    (["--checkpoint-dir", "{tmp}/file"], "is a file, not a folder"),
])
def test_bad_output_paths_are_refused_before_training(extra, message, tmp_path, capsys, monkeypatch):
    (tmp_path / "file").write_text("x")
    trained = []
    monkeypatch.setattr(NodeClassification, "fit", lambda *a, **k: trained.append(1))
    argv = ["train", "node-classification", "--dataset", "csbm", "--quiet"] + [e.format(tmp=tmp_path) for e in extra]
    start = time.monotonic()
    assert main(argv) == 2
    assert message in capsys.readouterr().err and not trained and time.monotonic() - start < 30


@pytest.mark.parametrize("method", ["fastrp", "node2vec"])
def test_embedding_out_at_a_folder_is_refused_before_computing(method, tmp_path, capsys, monkeypatch):
    from graphkit.embed import FastRP, Node2Vec
    computed = []
    for cls in (FastRP, Node2Vec):
        monkeypatch.setattr(cls, "fit", lambda *a, **k: computed.append(1))
    assert main(["embed", method, "--dataset", "csbm", "--out", str(tmp_path), "--quiet"]) == 2
    assert f"--out '{tmp_path}' is a folder; give a file name" in capsys.readouterr().err and not computed


def test_segfault_reproducer_is_a_clear_error():
    with pytest.raises(ValueError, match="col"):
        graphkit.ops.spmm(graphkit.Adj(torch.tensor([0, 1, 2]), torch.tensor([0, 1000000]), shape=(2, 2)),
                          torch.ones(2, 3))
