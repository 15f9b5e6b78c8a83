"""The graphkit command line: tables, JSON, plots, checkpoints and clear errors."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from graphkit.cli import main

from conftest import need_dataset


def test_datasets_lists_cards(capsys):
    assert main(["datasets"]) == 0
    out = capsys.readouterr().out
    for name in ("cora", "citeseer", "film", "cornell", "ogbl-ddi", "blogcatalog", "csbm", "rmat"):
        assert name in out


def test_train_writes_json_plot_and_checkpoints(tmp_path, capsys):
    need_dataset("cornell")
    out_json, out_png = tmp_path / "r.json", tmp_path / "curves.png"
    argv = ["train", "node-classification", "--dataset", "cornell", "--model", "mlp", "--split", "geom-gcn",
            "--epochs", "30", "--json", str(out_json), "--plot", str(out_png),
            "--checkpoint-dir", str(tmp_path / "ckpt"), "--quiet"]
    assert main(argv) == 0
    report = json.loads(out_json.read_text())
    assert report["task"] == "node-classification" and report["dataset"] == "cornell"
    assert report["split"] == "geom-gcn" and len(report["runs"]) == 10
    assert set(report["test"]["accuracy"]) == {"mean", "std"} and report["metric"] == "accuracy"
    assert out_png.stat().st_size > 10_000
    assert "test accuracy" in capsys.readouterr().out
    assert len(list((tmp_path / "ckpt").rglob("*.pt"))) == 10


def test_default_dataset_falls_back_to_synthetic(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRAPHKIT_DATA", str(tmp_path))
    monkeypatch.setenv("GRAPHKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr("torch_geometric.io.fs.cp", lambda *a, **k: (_ for _ in ()).throw(OSError("offline")))
    assert main(["train", "node-classification", "--epochs", "5", "--quiet"]) == 0
    captured = capsys.readouterr()
    assert "synthetic 'csbm' graph" in captured.err and "gcn on csbm" in captured.out


def test_minibatch_flags_reach_the_config(tmp_path):
    out = tmp_path / "r.json"
    argv = ["train", "node-classification", "--dataset", "csbm", "--model", "sage", "--epochs", "3", "--fanouts", "5",
            "-1", "--batch-size", "128", "--num-workers", "0", "--json", str(out), "--quiet"]
    assert main(argv) == 0
    config = json.loads(out.read_text())["config"]
    assert config["fanouts"] == [5, -1] and config["batch_size"] == 128 and config["num_workers"] == 0


@pytest.mark.parametrize("argv,message", [
    (["train", "node-classification", "--dataset", "csbm", "--fanouts", "5", "0"], "positive int or -1"),
    (["train", "node-classification", "--dataset", "csbm", "--fanouts", "5", "--batch-size", "0"],
     "batch_size must be a positive int"),
    (["train", "node-classification", "--dataset", "coraa"], "unknown dataset 'coraa'"),
    (["train", "node-classification", "--dataset", "cora", "--data-root", "/no/such/dir"], "does not exist"),
    (["train", "node-classification", "--dataset", "csbm", "--config", "/no/such.toml"], "does not exist"),
])
def test_errors_are_one_clear_line(argv, message, capsys):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_unknown_model_is_one_clear_line():
    result = subprocess.run([sys.executable, "-m", "graphkit", "train", "node-classification", "--model", "xyz",
                             "--dataset", "csbm"], capture_output=True, text=True)
    assert result.returncode == 2 and "unknown model preset 'xyz'" in result.stderr
    result = subprocess.run([sys.executable, "-m", "graphkit", "train", "node-classification", "--model",
                             "/no/such/models.py:build", "--dataset", "csbm"], capture_output=True, text=True)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_the_command_line_keeps_freed_memory_for_reuse(monkeypatch):
    """On glibc the malloc thresholds are accepted; the CLI applies them before any command."""
    import importlib
    import sys

    from graphkit.utils import retain_freed_memory
    cli_main = importlib.import_module("graphkit.cli.main")
    if sys.platform.startswith("linux"):
        assert retain_freed_memory() is True
    called = []
    monkeypatch.setattr(cli_main, "retain_freed_memory", lambda: called.append(True))
    assert cli_main.main(["datasets"]) == 0 and called == [True]
