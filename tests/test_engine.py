"""The engine every task runs on: selection and patience, user-built models through both tasks and
the CLI, scikit-learn's clone, and kill -9 / rerun of the command giving the uninterrupted report."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from sklearn.base import clone
from torch import nn

from graphkit import datasets, ops
from graphkit.nn import GCNConv, SAGEConv
from graphkit.tasks import LinkPrediction, NodeClassification
from graphkit.train import Selection, TrainConfig

from conftest import REPO, need_dataset, same_runs


class TwoLayer(nn.Module):
    """A model a user builds from graphkit.nn blocks: SAGE then GCN, with dropout."""

    def __init__(self, in_channels: int, out_channels: int, hidden: int = 32):
        super().__init__()
        self.conv1, self.conv2 = SAGEConv(in_channels, hidden), GCNConv(hidden, out_channels)

    def forward(self, x, adj):
        h = ops.dropout(self.conv1(ops.dropout(x, 0.5, self.training), adj), 0.5, self.training, relu=True)
        return self.conv2(h, adj)


# ----------------------------------------------------------------------------- selection, config
def test_selection_is_lexicographic_strict_and_keeps_the_earliest_tie():
    sel = Selection((("accuracy", "max"), ("loss", "min")))
    best = {"accuracy": 0.8, "loss": 0.5}
    assert sel.improves({"accuracy": 0.8, "loss": 0.4}, best)        # tie on accuracy, lower loss
    assert not sel.improves({"accuracy": 0.8, "loss": 0.5}, best)    # equal: the earlier one stays
    assert not sel.improves({"accuracy": 0.79, "loss": 0.1}, best)
    assert Selection((("loss", "min"),)).improves({"loss": 0.4}, {"loss": 0.5})
    with pytest.raises(KeyError, match="no \\['auc'\\]"):
        Selection((("auc", "max"),)).improves({"loss": 1.0}, None)
    with pytest.raises(ValueError, match="'max' or 'min'"):
        Selection((("auc", "up"),))


def test_train_config_rejects_bad_values_by_name():
    for kwargs, message in [({"epochs": 0}, "epochs"), ({"lr": -1.0}, "lr"), ({"optimizer": "lbfgs"}, "optimizer"),
                            ({"eval_every": 0}, "eval_every"), ({"clip_grad_norm": 0.0}, "clip_grad_norm")]:
        with pytest.raises(ValueError, match=message):
            TrainConfig(**kwargs)
    assert not TrainConfig(patience=None).early_stopping and not TrainConfig(patience=0).early_stopping


def test_engine_takes_the_models_parameter_groups_and_clips_each():
    from graphkit.train import build_optimizer
    model = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    model.parameter_groups = lambda wd: [{"params": model[0].parameters(), "weight_decay": wd},
                                         {"params": model[1].parameters(), "lr": 0.5}, {"params": []}]
    opt = build_optimizer(model, TrainConfig(lr=0.1, weight_decay=0.01))
    assert [(g["lr"], g["weight_decay"]) for g in opt.param_groups] == [(0.1, 0.01), (0.5, 0.01)]
    plain = build_optimizer(nn.Linear(2, 2), TrainConfig(lr=0.1))
    assert len(plain.param_groups) == 1 and plain.member_counts() == [2]  # one flat buffer of both


def _tanh_mlp():
    return nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Linear(8, 5), nn.Tanh(), nn.Linear(5, 2))


def _groups(model):
    return [{"params": list(model[0].parameters()) + list(model[4].parameters()), "weight_decay": 0.1},
            {"params": list(model[2].parameters()), "weight_decay": 0.0}]


def _gap(a, b):
    return max(float((p - q).detach().abs().max()) for p, q in zip(a.parameters(), b.parameters()))


def test_flat_optimizer_follows_torchs_and_reads_its_state(tmp_path):
    """One fused update over a flat buffer per group gives the parameters torch's fused AdamW gives
    them (the parameters' data are views of the buffer); it loads the per-parameter state torch's
    optimizer saved (a run checkpointed before) and goes on the same; its own state round-trips;
    frozen parameters are left out, a parameter listed twice is refused."""
    from graphkit.train import RunCheckpoint
    from graphkit.train.flat import flat_optimizer
    torch.manual_seed(0)
    ours, theirs = _tanh_mlp(), _tanh_mlp()
    theirs.load_state_dict(ours.state_dict())
    frozen = nn.Parameter(torch.ones(3), requires_grad=False)
    opt = flat_optimizer(torch.optim.AdamW, _groups(ours) + [{"params": [frozen]}], lr=0.01, fused=True)
    ref = torch.optim.AdamW(_groups(theirs), lr=0.01, fused=True)
    assert opt.member_counts() == [4, 2] and len(opt.param_groups) == 2 and opt.flat
    assert ours[0].weight.data_ptr() == opt.param_groups[0]["params"][0].data_ptr()
    x = torch.randn(16, 3)

    def steps(n):
        for _ in range(n):
            for model, optimizer in ((ours, opt), (theirs, ref)):
                optimizer.zero_grad()
                model(x).pow(2).sum().backward()
                optimizer.step()
    steps(5)
    assert _gap(ours, theirs) < 1e-6 and _gap(ours, _tanh_mlp()) > 1e-3
    assert ours[0].weight.grad is not None and ours[0].weight.grad.data_ptr() != 0  # torch's .grad, kept
    path = tmp_path / "run.pt"  # the per-parameter state of a plain optimizer, as a checkpoint holds it
    RunCheckpoint(path).save(theirs, ref, {"epoch": 5})
    ours.load_state_dict(theirs.state_dict())
    result, state = RunCheckpoint(path).resume(ours, opt)
    assert result is None and state == {"epoch": 5} and opt.flat
    steps(3)
    assert _gap(ours, theirs) < 1e-6
    assert torch.equal(frozen, torch.ones(3)) and frozen.grad is None
    flat_state = opt.state_dict()  # its own state round-trips
    again = flat_optimizer(torch.optim.AdamW, _groups(_tanh_mlp()), lr=0.01, fused=True)
    again.load_state_dict(flat_state)
    assert torch.equal(again.state_dict()["state"][0]["exp_avg"], flat_state["state"][0]["exp_avg"])
    with pytest.raises(ValueError, match="groups hold \\[4, 3\\] parameters, this optimizer's \\[4, 2\\]"):
        bad = {"state": {}, "param_groups": [dict(g, params=list(range(4))) for g in flat_state["param_groups"]]}
        bad["param_groups"][1]["params"] = [4, 5, 6]
        again.load_state_dict(bad)
    model = _tanh_mlp()
    with pytest.raises(ValueError, match="appear more than once"):
        flat_optimizer(torch.optim.Adam, [{"params": list(model.parameters())}, {"params": [model[0].weight]}], lr=0.1)


def test_flat_optimizer_becomes_torchs_when_a_parameter_gets_no_gradient():
    """torch's optimizer skips a parameter without a gradient (no momentum, no weight decay): at the
    first such step the flat one turns into the per-tensor optimizer, its state carried over, and
    the parameters keep following torch's; the gradients it clips are the ones it steps with."""
    from graphkit.train.flat import flat_optimizer
    torch.manual_seed(1)
    ours, theirs = _tanh_mlp(), _tanh_mlp()
    theirs.load_state_dict(ours.state_dict())
    opt = flat_optimizer(torch.optim.AdamW, _groups(ours), lr=0.01, weight_decay=0.1, fused=True)
    ref = torch.optim.AdamW(_groups(theirs), lr=0.01, weight_decay=0.1, fused=True)
    x = torch.randn(16, 3)
    for step in range(6):
        for model, optimizer in ((ours, opt), (theirs, ref)):
            optimizer.zero_grad()
            out = model(x) if step < 3 else model[:2](x)  # from step 3 on, the last layers get no gradient
            out.pow(2).sum().backward()
            if hasattr(optimizer, "sync_grads"):
                optimizer.sync_grads()
            for group in optimizer.param_groups:
                nn.utils.clip_grad_norm_(group["params"], 0.5)
            optimizer.step()
        assert opt.flat == (step < 3)
        assert _gap(ours, theirs) < 1e-6, step
    assert len(opt.param_groups[0]["params"]) == 4 and opt.state_dict()["param_groups"][0]["params"] == [0, 1, 2, 3]


# ----------------------------------------------------------------------------- user models
def test_a_user_model_trains_through_node_classification(cora):
    module = TwoLayer(cora.num_features, 7)
    before = [p.detach().clone() for p in module.parameters()]
    task = NodeClassification(module, config={"epochs": 60, "lr": 0.01, "weight_decay": 5e-4}, runs=2,
                              progress=False)
    report = task.fit(cora)
    assert all(torch.equal(a, b) for a, b in zip(before, module.parameters()))  # the given module is untouched
    assert report.model == "TwoLayer" and report.test["accuracy"]["mean"] > 0.7
    assert isinstance(task.model_, TwoLayer) and task.get_params()["model"] is module
    again = NodeClassification(module, config={"epochs": 60, "lr": 0.01, "weight_decay": 5e-4}, runs=2,
                               progress=False).fit(cora)
    assert [r.test for r in again.runs] == [r.test for r in report.runs]  # seeded re-initialisation
    factory = NodeClassification(lambda i, o: TwoLayer(i, o), config={"epochs": 60}, progress=False).fit(cora)
    assert factory.runs[0].test["accuracy"] > 0.7


def test_a_user_encoder_and_head_train_through_link_prediction():
    from test_link_prediction import _community_graph

    class Dot(nn.Module):
        def forward(self, h, adj, pairs):
            return (h[pairs[0]] * h[pairs[1]]).sum(-1)

    config = {"epochs": 15, "hidden_channels": 32, "batch_size": 256, "metric": "hits@20", "lr": 0.01}
    report = LinkPrediction(lambda i, o: TwoLayer(i, o, hidden=32), Dot(), config=config, progress=False).fit(
        _community_graph())
    assert report.test["auc"]["mean"] > 0.8 and report.meta["predictor"] == "Dot"


def test_a_user_model_trains_through_the_cli(tmp_path):
    need_dataset("Cora")
    from graphkit.cli import main
    models = tmp_path / "my_models.py"
    models.write_text("from graphkit.nn import GCN\n\n"
                      "def build(in_channels, out_channels):\n"
                      "    return GCN(in_channels, 32, num_layers=2, out_channels=out_channels, dropout=0.5)\n")
    out = tmp_path / "r.json"
    assert main(["train", "node-classification", "--dataset", "cora", "--model", f"{models}:build", "--set",
                 "epochs=50", "lr=0.01", "weight_decay=5e-4", "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "build" and report["test"]["accuracy"]["mean"] > 0.7
    assert report["config"]["epochs"] == 50
    # the same factory as a link-prediction encoder (its out_channels: the hidden width)
    assert main(["train", "link-prediction", "--dataset", "cora", "--model", f"{models}:build", "--predictor", "dot",
                 "--set", "epochs=5", "hidden_channels=64", "--json", str(out), "--quiet"]) == 0
    report = json.loads(out.read_text())
    assert report["model"] == "build" and report["test"]["auc"]["mean"] > 0.7


# ----------------------------------------------------------------------------- sklearn contract
def test_every_estimator_clones_and_fit_leaves_its_parameters_alone():
    from graphkit.embed import FastRP, Node2Vec
    for est in (NodeClassification("gat", config={"epochs": 3}, runs=2), LinkPrediction("gcn", "ncn", runs=3),
                NodeClassification(TwoLayer(4, 2)), FastRP(dim=32, seed=3), Node2Vec(dim=16, p=0.5)):
        twin = clone(est)
        assert type(twin) is type(est)
        params, twin_params = est.get_params(), twin.get_params()
        assert params.keys() == twin_params.keys()
        for key, value in params.items():
            if isinstance(value, nn.Module):  # clone deep-copies non-estimator objects
                assert type(twin_params[key]) is type(value)
            else:
                assert twin_params[key] == value, key
    est = NodeClassification("gcn", config={"epochs": 5}, progress=False)
    before = est.get_params()
    est.fit(datasets.load("csbm", num_nodes=300))
    assert est.get_params() == before and est.config_["epochs"] == 5 and est.config_["lr"] == 0.01


# ----------------------------------------------------------------------------- kill -9 and rerun
def _cli(args, env):
    return subprocess.Popen([sys.executable, "-m", "graphkit", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill_after_first_checkpoint(args, ckpt: Path, env) -> None:
    proc = _cli(args, env)
    deadline = time.monotonic() + 120
    while not list(ckpt.rglob("*.pt")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("task,args", [
    ("node-classification", ["--dataset", "csbm", "--model", "gcn", "--set", "epochs=300", "patience=none"]),
    ("link-prediction", ["--dataset", "csbm", "--model", "gcn", "--predictor", "mlp", "--set", "epochs=12",
                         "hidden_channels=32", "batch_size=2048", "metric='hits@20'"]),
])
def test_kill_9_and_rerun_gives_the_uninterrupted_report(task, args, tmp_path):
    env = dict(os.environ, OMP_NUM_THREADS="1")
    base = ["train", task, *args, "--runs", "2", "--quiet"]
    assert subprocess.run([sys.executable, "-m", "graphkit", *base, "--json", str(tmp_path / "plain.json")],
                          cwd=REPO, env=env, capture_output=True).returncode == 0
    ckpt = tmp_path / "ckpt"
    resumable = [*base, "--checkpoint-dir", str(ckpt), "--checkpoint-every", "1", "--json", str(tmp_path / "r.json")]
    _kill_after_first_checkpoint(resumable, ckpt, env)
    assert not (tmp_path / "r.json").exists()
    rerun = subprocess.run([sys.executable, "-m", "graphkit", *resumable], cwd=REPO, env=env, capture_output=True,
                           text=True)
    assert rerun.returncode == 0, rerun.stderr
    same_runs(json.loads((tmp_path / "r.json").read_text()), json.loads((tmp_path / "plain.json").read_text()))


def test_one_merge_rule_for_command_line_overrides(tmp_path):
    import argparse

    from graphkit.cli.args import overrides
    from graphkit.train import parse_assignments
    assert parse_assignments(["lr=0.005", "act=elu", "patience=none", "jk='cat'", "heads=8"]) == \
        {"lr": 0.005, "act": "elu", "patience": None, "jk": "cat", "heads": 8}
    with pytest.raises(ValueError, match="KEY=VALUE"):
        parse_assignments(["lr"])
    config = tmp_path / "c.toml"
    config.write_text('lr = 0.1\nepochs = 7\ndropout = 0.2\n[gat]\nlr = 0.2\nheads = 4\npatience = "none"\n')
    args = argparse.Namespace(config=str(config), set=["heads=2"], epochs=9)
    merged = overrides(args, "gat", base={"lr": 0.01, "hidden_channels": 64})
    assert merged == {"lr": 0.2, "hidden_channels": 64, "epochs": 9, "dropout": 0.2, "heads": 2, "patience": None}
