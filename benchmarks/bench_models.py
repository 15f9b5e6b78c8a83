"""Seconds per training epoch and peak memory: graphkit's GCN, GraphSAGE and GAT against PyG's own
models of the same sizes, on Cora and on a synthetic graph (100k nodes, 2M uniform random edges).

Every (dataset, model, implementation) runs in its own process (so peak memory is its own), the
implementations of one model back to back; an epoch is forward + loss + backward + Adam step on
the full graph; the figure is the median over ``--repeats`` epochs after ``--warmup`` epochs.
Dropout is 0 in both so the epoch measures the graph layers, not the random-number generator.

    python benchmarks/bench_models.py            # prints a table, writes benchmarks/results/models.json
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "models.json"
MODELS = ("gcn", "sage", "gat")
IMPLS = ("graphkit", "pyg")


def build(impl: str, model: str, in_channels: int, out_channels: int):
    kwargs = dict(in_channels=in_channels, hidden_channels=64, num_layers=2, out_channels=out_channels, dropout=0.0)
    if impl == "graphkit":
        from graphkit.nn import build_model
        extra = {"heads": 8} if model == "gat" else {}
        return build_model(model, **kwargs, **extra)
    import torch_geometric.nn as pyg
    if model == "gat":
        return pyg.GAT(**kwargs, heads=8)
    return {"gcn": pyg.GCN, "sage": pyg.GraphSAGE}[model](**kwargs)


def load(dataset: str):
    from graphkit import datasets
    if dataset == "cora":
        return datasets.load("cora")
    return datasets.load("random", num_nodes=100_000, num_edges=2_000_000, num_features=64, seed=0)


def measure(dataset: str, model: str, impl: str, warmup: int, repeats: int, threads: int) -> dict:
    """Runs inside the child process."""
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = load(dataset)
    net = build(impl, model, data.num_features, int(data.y.max()) + 1)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01)
    mask, y, x, edge_index = data.train_mask, data.y, data.x, data.edge_index
    base_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        optimizer.zero_grad(set_to_none=True)
        loss = F.cross_entropy(net(x, edge_index)[mask], y[mask])
        loss.backward()
        optimizer.step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"dataset": dataset, "model": model, "impl": impl, "median_s": statistics.median(times),
            "min_s": min(times), "repeats": repeats, "peak_extra_mib": (peak_kib - base_kib) / 1024,
            "peak_rss_mib": peak_kib / 1024}


def run_child(args, dataset, model, impl) -> dict:
    cmd = [sys.executable, __file__, "--child", dataset, model, impl, "--warmup", str(args.warmup),
           "--repeats", str(args.repeats if dataset != "cora" else args.repeats * 3), "--threads", str(args.threads)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=["cora", "synthetic-100k-2m"])
    parser.add_argument("--models", nargs="+", default=list(MODELS))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", nargs=3, metavar=("DATASET", "MODEL", "IMPL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(*args.child, args.warmup, args.repeats, args.threads)))
        return
    import torch
    import torch_geometric
    rows = []
    for dataset in args.datasets:
        for model in args.models:
            for impl in IMPLS:
                rows.append(run_child(args, dataset, model, impl))
                r = rows[-1]
                print(f"  {dataset:>18} {model:>4} {impl:>8}: {1000 * r['median_s']:9.1f} ms/epoch, "
                      f"+{r['peak_extra_mib']:7.1f} MiB", flush=True)
    for r in rows:
        peer = next(p for p in rows if p["dataset"] == r["dataset"] and p["model"] == r["model"] and p["impl"] == "pyg")
        r["speedup_vs_pyg"] = peer["median_s"] / r["median_s"]
        r["memory_ratio_vs_pyg"] = r["peak_extra_mib"] / peer["peak_extra_mib"] if peer["peak_extra_mib"] > 0 else None
    print(format_rows(rows))
    result = {"benchmark": "models", "unit": "seconds per training epoch (median)", "threads": args.threads,
              "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
              "machine": f"{platform.machine()}, {os.cpu_count()} cores", "rows": rows}
    from graphkit.utils import atomic_write_text
    atomic_write_text(json.dumps(result, indent=2) + "\n", args.out)
    print(f"wrote {args.out}")


def format_rows(rows) -> str:
    from graphkit.cli.table import format_table
    return format_table(
        ["dataset", "model", "impl", "ms/epoch", "speed-up vs PyG", "peak extra MiB", "memory vs PyG"],
        [[r["dataset"], r["model"], r["impl"], f"{1000 * r['median_s']:.1f}", f"{r['speedup_vs_pyg']:.2f}x",
          f"{r['peak_extra_mib']:.0f}",
          "-" if r["memory_ratio_vs_pyg"] is None else f"{r['memory_ratio_vs_pyg']:.2f}x"] for r in rows])


if __name__ == "__main__":
    main()
