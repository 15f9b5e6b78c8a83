"""What graphkit's input validation costs a training step, measured in one process (alternating
blocks of steps, so machine noise hits every variant alike):

* ``shipped``: everything on, as released;
* ``no-content-check``: the checksum that tensor-keyed caches compare at every call (so that a
  write through ``edge_index.numpy()`` is seen) replaced by nothing;
* ``no-checks``: also the argument checks of the ops (``graphkit.ops._check_*``) and of the conv
  layers (``check_input``, ``check_edge_values``) replaced by no-ops.

Cases: GCN (Kipf & Welling) on Cora given an ``Adj`` (what the tasks pass) and given the raw
``edge_index``, and one GCNConv on the 100k-node, 2M-edge uniform graph of ``bench_aggregation.py``
given the raw ``edge_index`` (what that benchmark passes). Prints a table and writes
``benchmarks/results/validation_cost.json``::

    python benchmarks/bench_validation_cost.py
"""
from __future__ import annotations

import argparse
import contextlib
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "validation_cost.json"
VARIANTS = ("shipped", "no-content-check", "no-checks")


@contextlib.contextmanager
def _variant(name: str):
    """Patch graphkit's checks away for ``name`` (module attributes, restored afterwards)."""
    import graphkit.adj as adj_module
    import graphkit.ops as ops_module
    from graphkit.nn.conv import gat, gcn, gin, sage
    patches = []
    if name in ("no-content-check", "no-checks"):
        patches.append((adj_module, "_content_state", lambda t: None))
    if name == "no-checks":
        patches += [(ops_module, n, lambda *a, **k: a[0] if a else None) for n in
                    ("_check_adj", "_check_float", "_check_device", "_check_rows", "_check_reduce", "_check_weight")]
        patches += [(m, n, lambda *a, **k: None) for m in (gat, gcn, gin, sage)
                    for n in ("check_input", "check_edge_values") if hasattr(m, n)]
    saved = [(m, n, getattr(m, n)) for m, n, _ in patches]
    try:
        for m, n, f in patches:
            setattr(m, n, f)
        yield
    finally:
        for m, n, f in saved:
            setattr(m, n, f)


def _steps(model, x, graph, count: int) -> list:
    times = []
    for _ in range(count):
        start = time.perf_counter()
        model.zero_grad(set_to_none=True)
        model(x, graph).sum().backward()
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=16, help="alternating blocks per variant")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per block")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    from graphkit import datasets, ops, to_adj
    from graphkit.nn import GCN, GCNConv
    from graphkit.utils import atomic_write_text
    ops.backend()
    rows = []
    for case in ("cora-gcn-adj", "cora-gcn-edge_index", "uniform100k-gcnconv-edge_index"):
        torch.manual_seed(0)
        if case.startswith("cora"):
            data = datasets.load("cora")
            model = GCN(data.num_features, 16, 2, out_channels=7, dropout=0.5).train()
        else:
            data = datasets.load("random", num_nodes=100_000, num_edges=2_000_000, num_features=64, seed=0)
            model = GCNConv(64, 64)
        graph = to_adj(data.edge_index, data.num_nodes) if case.endswith("adj") else data.edge_index
        _steps(model, data.x, graph, 5)  # warm-up: kernels, caches
        times = {name: [] for name in VARIANTS}
        for _ in range(args.blocks):
            for name in VARIANTS:
                with _variant(name):
                    times[name] += _steps(model, data.x, graph, args.steps)
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        rows.append({"case": case, "steps": len(times["shipped"]), **{f"{k}_ms": round(v, 3) for k, v in med.items()},
                     "shipped_vs_no_checks": round(med["shipped"] / med["no-checks"], 4),
                     "content_check_share": round(med["shipped"] / med["no-content-check"], 4)})
        print(f"{case:>31}: shipped {med['shipped']:7.3f} ms, no content check {med['no-content-check']:7.3f} ms, "
              f"no checks {med['no-checks']:7.3f} ms; shipped / no checks {med['shipped'] / med['no-checks']:.4f}",
              flush=True)
    atomic_write_text(json.dumps({"benchmark": "validation_cost", "torch": torch.__version__,
                                  "threads": torch.get_num_threads(), "machine": platform.machine(),
                                  "command": "python benchmarks/bench_validation_cost.py", "unit":
                                  "ms per forward+backward step (median over alternating blocks)", "rows": rows},
                                 indent=2) + "\n", args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
