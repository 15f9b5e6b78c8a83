"""What the content check of tensor-keyed caches costs: forward + backward steps of a model called
with a raw ``edge_index`` (the ``Adj`` taken from the cache kept with the tensor, whose checksum is
verified at every call so that writes through ``edge_index.numpy()`` are seen), with the check as
shipped (whole for small edge lists, sampled for large ones), with the whole-tensor checksum
(``--whole``, what debug mode does) and with none, alternating in one process. GCN (Kipf & Welling) on
Cora, and one GCNConv on the 100k-node, 2M-edge uniform graph of ``bench_aggregation.py``.
Passing an ``Adj`` (what the tasks do) skips the check entirely.

Prints a table and writes ``benchmarks/results/content_check.json``::

    python benchmarks/bench_content_check.py
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "content_check.json"


def _timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


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
    parser.add_argument("--blocks", type=int, default=8, help="alternating blocks per variant")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per block")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    import graphkit.adj as adj_module
    from graphkit import datasets, ops
    from graphkit.nn import GCN, GCNConv
    from graphkit.utils import atomic_write_text
    ops.backend()
    shipped = adj_module._content_state
    variants = {"shipped": shipped, "whole": adj_module.checksum, "none": lambda t: None}
    rows = []
    for case in ("cora-gcn", "uniform100k-gcnconv"):
        torch.manual_seed(0)
        if case.startswith("cora"):
            data = datasets.load("cora")
            model = GCN(data.num_features, 16, 2, out_channels=7, dropout=0.5).train()
        else:
            data = datasets.load("random", num_nodes=100_000, num_edges=2_000_000, num_features=64, seed=0)
            model = GCNConv(64, 64)
        ei = data.edge_index
        _steps(model, data.x, ei, 5)  # warm-up: kernels, caches
        times = {label: [] for label in variants}
        try:
            for _ in range(args.blocks):
                for label, state in variants.items():
                    adj_module._content_state = state
                    times[label] += _steps(model, data.x, ei, args.steps)
        finally:
            adj_module._content_state = shipped
        check = {label: min(_timed(lambda state=state, ei=ei: state(ei)) for _ in range(20)) * 1000
                 for label, state in variants.items() if label != "none"}
        med = {k: statistics.median(v) * 1000 for k, v in times.items()}
        rows.append({"case": case, "num_edges": int(ei.size(1)), "steps": len(times["none"]),
                     **{f"{k}_ms": round(v, 3) for k, v in med.items()},
                     **{f"{k}_vs_none": round(med[k] / med["none"], 3) for k in ("shipped", "whole")},
                     **{f"{k}_check_ms": round(v, 4) for k, v in check.items()}})
        print(f"{case:>20}: step {med['shipped']:7.2f} ms as shipped (x{med['shipped'] / med['none']:.3f}, check "
              f"{check['shipped']:.4f} ms), {med['whole']:7.2f} ms whole (x{med['whole'] / med['none']:.3f}, check "
              f"{check['whole']:.3f} ms), {med['none']:7.2f} ms unchecked", flush=True)
    atomic_write_text(json.dumps({"benchmark": "content_check", "torch": torch.__version__,
                                  "threads": torch.get_num_threads(), "machine": platform.machine(),
                                  "command": "python benchmarks/bench_content_check.py", "rows": rows},
                                 indent=2) + "\n", args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
