"""Data-parallel training on torch.distributed: two processes on loopback (gloo), a small graph,
seconds. One DDP step on two shards equals one single-process step on their union; through the
engine, every rank holds the same parameters after every step and every rank trains its own
shard of each pass (as many batches each); 2-process accuracy is within a point of 1-process; under
torchrun, a worker killed with SIGKILL is restarted and the run ends as an uninterrupted one."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn.functional as F

from graphkit import Adj, datasets, ops
from graphkit.nn.models import GraphSAGE

from conftest import REPO, same_runs

WORLD = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _graph():
    data = datasets.load("csbm", num_nodes=600, num_classes=3, num_features=12, avg_degree=8, homophily=0.8,
                         feature_snr=1.0, seed=4)
    return data, Adj.from_edge_index(data.edge_index, 600)


def _one_step(rank: int, world: int, seeds: torch.Tensor):
    """One SGD step of GraphSAGE on ``seeds`` (whole neighbourhoods), under DDP when ``world > 1``;
    the parameters after it."""
    data, adj = _graph()
    torch.manual_seed(0)
    model = GraphSAGE(12, 16, 2, 3)
    step_model = torch.nn.parallel.DistributedDataParallel(model) if world > 1 else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    blocks = ops.sample_neighbors(adj, seeds, [-1, -1])
    out = step_model(data.x[blocks[0][1]], [b for b, _, _ in blocks])
    F.cross_entropy(out, data.y[seeds]).backward()
    optimizer.step()
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def _fit(world: int):
    """NodeClassification by mini-batches; with a hook after every optimizer step that compares the
    parameters of all ranks. ``(report, steps, mismatched steps, batches per pass)``."""
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from graphkit.tasks import NodeClassification
    data, _ = _graph()
    counts = {"steps": 0, "mismatched": 0}

    def compare(optimizer, args, kwargs):
        flat = torch.cat([p.detach().reshape(-1) for g in optimizer.param_groups for p in g["params"]])
        counts["steps"] += 1
        if world > 1:
            gathered = [torch.empty_like(flat) for _ in range(world)]
            dist.all_gather(gathered, flat)
            counts["mismatched"] += int(any(not torch.equal(gathered[0], g) for g in gathered[1:]))
    handle = register_optimizer_step_post_hook(compare)
    try:
        config = {"epochs": 30, "fanouts": [5, 5], "batch_size": 32, "patience": None}
        report = NodeClassification("sage", config=config, progress=False).fit(data)
    finally:
        handle.remove()
    return report, counts["steps"], counts["mismatched"]


def _worker(rank: int, world: int, port: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=world)
    try:
        union = torch.arange(0, 600, 7)  # 86 seeds: each rank takes every other one (43 each)
        params = _one_step(rank, world, union[rank::world])
        report, steps, mismatched = _fit(world)
        torch.save({"params": params, "accuracy": report.test["accuracy"]["mean"], "steps": steps,
                    "mismatched": mismatched}, os.path.join(out, f"rank{rank}.pt"))
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp")
    mp.start_processes(_worker, args=(WORLD, _free_port(), str(out)), nprocs=WORLD, start_method="spawn")
    return [torch.load(out / f"rank{r}.pt") for r in range(WORLD)]


def test_one_ddp_step_on_two_shards_equals_one_step_on_their_union(two_ranks):
    single = _one_step(0, 1, torch.arange(0, 600, 7))
    for rank in two_ranks:
        torch.testing.assert_close(rank["params"], single, atol=1e-6, rtol=0)


def test_engine_keeps_the_ranks_identical_and_shards_the_batches(two_ranks):
    one_process_report, one_process_steps, _ = _fit(1)
    for rank in two_ranks:
        assert rank["mismatched"] == 0 and rank["steps"] > 0
        # 360 training seeds: 12 batches of 32 a pass in one process, 6 per rank in two
        assert rank["steps"] * WORLD == one_process_steps
    assert two_ranks[0]["accuracy"] == two_ranks[1]["accuracy"]
    assert abs(two_ranks[0]["accuracy"] - one_process_report.test["accuracy"]["mean"]) <= 0.01


def _torchrun(args, env, restarts: int = 0):
    return subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={WORLD}",
                             f"--max-restarts={restarts}", "-m", "graphkit", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc, timeout: float = 300):
    """The process's output once it ends; killed with its workers when it hangs."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        for child in _children(proc.pid):
            os.kill(child, signal.SIGKILL)
        proc.kill()
        raise


def _children(pid: int):
    tasks = Path(f"/proc/{pid}/task")
    return [int(c) for t in tasks.iterdir() for c in (t / "children").read_text().split()] if tasks.exists() else []


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs /proc to find torchrun's workers")
def test_torchrun_restarts_a_killed_worker_and_the_run_ends_as_an_uninterrupted_one(tmp_path):
    """The command line under torchrun (--ddp): a worker killed with SIGKILL mid-run is restarted
    (--max-restarts) with the others, the run resumes from rank 0's last checkpoint, and its
    report is the uninterrupted run's."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    base = ["train", "node-classification", "--dataset", "csbm", "--model", "sage", "--quiet", "--ddp", "--set",
            "epochs=60", "patience=none", "fanouts=[5, 5]", "batch_size=256"]
    plain = _torchrun([*base, "--json", str(tmp_path / "plain.json")], env)
    out, err = _finish(plain)
    assert plain.returncode == 0, err
    assert out.count("test accuracy:") == 1  # rank 0 alone reports
    ckpt = tmp_path / "ckpt"
    run = _torchrun([*base, "--checkpoint-dir", str(ckpt), "--checkpoint-every", "1", "--json",
                     str(tmp_path / "r.json")], env, restarts=1)
    deadline = time.monotonic() + 120
    while not list(ckpt.rglob("*.pt")) and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    workers = _children(run.pid)
    assert run.poll() is None and workers, "the run ended before a worker could be killed"
    os.kill(workers[-1], signal.SIGKILL)
    out, err = _finish(run)
    assert run.returncode == 0, err
    assert "restart" in err.lower() or "failed" in err.lower()  # torchrun saw the failure and restarted
    same_runs(json.loads((tmp_path / "r.json").read_text()), json.loads((tmp_path / "plain.json").read_text()))
