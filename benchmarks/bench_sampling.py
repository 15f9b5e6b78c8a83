"""Neighbour-sampling throughput: graphkit's sampler (C++ kernels) against its pure-torch
reference and, when torch-sparse is installed, PyG's ``NeighborLoader`` on its torch-sparse backend,
in one run on one graph.

The graph is an R-MAT graph of 1M nodes and 10M edges (``datasets.load("rmat", ...)``), the sample
3 hops of 15-10-5 neighbours from batches of 1,024 seeds (GraphSAGE's setting). Throughput is
sampled edges per second: every block's edges for graphkit (its message-flow graphs re-expand each
target at every hop, as DGL's), the subgraph's edges for PyG (each node expanded once); both are
reported, with the medians of ``--batches`` timed batches after ``--warmup``.

    python benchmarks/bench_sampling.py                      # table + benchmarks/results/sampling.json
    pip install --no-build-isolation torch-sparse            # PyG's backend, built from source (~15 min)
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from graphkit import datasets, ops, to_adj
from graphkit.utils import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "sampling.json"


def _graphkit(adj, batches, fanouts, backend: str):
    """Seconds and sampled edges per batch of ``ops.sample_neighbors`` on ``backend``."""
    times, edges = [], []
    before = ops.backend()
    ops.use_backend(backend)
    try:
        for b, seeds in enumerate(batches):
            start = time.perf_counter()
            blocks = ops.sample_neighbors(adj, seeds, fanouts, seed=b)
            times.append(time.perf_counter() - start)
            edges.append(sum(block.num_edges for block, _, _ in blocks))
    finally:
        ops.use_backend(before)
    return times, edges


def _pyg(data, batches, fanouts):
    """Seconds and sampled edges per batch of PyG's ``NeighborLoader`` (torch-sparse backend)."""
    from torch_geometric.loader import NeighborLoader
    times, edges = [], []
    for seeds in batches:
        loader = NeighborLoader(data, num_neighbors=fanouts, batch_size=seeds.numel(), input_nodes=seeds)
        start = time.perf_counter()
        batch = next(iter(loader))
        times.append(time.perf_counter() - start)
        edges.append(batch.edge_index.shape[1])
    return times, edges


def _has_pyg_sampler() -> bool:
    try:
        import torch_sparse  # noqa: F401
        return hasattr(torch.ops.torch_sparse, "neighbor_sample")
    except ImportError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=1_000_000)
    parser.add_argument("--edges", type=int, default=10_000_000)
    parser.add_argument("--fanouts", type=int, nargs="+", default=[15, 10, 5])
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--reference-batches", type=int, default=3, help="the pure-torch reference is slow")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    start = time.perf_counter()
    data = datasets.load("rmat", num_nodes=args.nodes, num_edges=args.edges, num_features=1)
    made = time.perf_counter() - start
    adj = to_adj(data.edge_index, data.num_nodes)
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randperm(args.nodes, generator=gen)[:args.batch_size]
               for _ in range(args.warmup + args.batches)]
    rows = []
    runs = [("graphkit (C++)", lambda bs: _graphkit(adj, bs, args.fanouts, "native"), args.batches),
            ("graphkit reference (pure torch)", lambda bs: _graphkit(adj, bs, args.fanouts, "reference"),
             args.reference_batches)]
    if _has_pyg_sampler():
        runs.append(("PyG NeighborLoader (torch-sparse)", lambda bs: _pyg(data, bs, args.fanouts), args.batches))
    for name, fn, count in runs:
        times, edges = fn(batches[:args.warmup + count])
        times, edges = times[args.warmup:], edges[args.warmup:]
        rate = statistics.median(e / t for e, t in zip(edges, times))
        rows.append({"sampler": name, "batches": count, "median_seconds": round(statistics.median(times), 5),
                     "median_edges": int(statistics.median(edges)), "edges_per_second": round(rate)})
    base = rows[0]["edges_per_second"]
    for row in rows:
        row["graphkit_speedup"] = round(base / row["edges_per_second"], 2)
    print(f"R-MAT {args.nodes:,} nodes, {args.edges:,} edges (made in {made:.1f} s); fanouts {args.fanouts}, "
          f"batches of {args.batch_size}")
    print(f"{'sampler':36} {'s/batch':>9} {'edges/batch':>12} {'edges/s':>12} {'graphkit x':>10}")
    for row in rows:
        print(f"{row['sampler']:36} {row['median_seconds']:9.4f} {row['median_edges']:12,} "
              f"{row['edges_per_second']:12,} {row['graphkit_speedup']:10.2f}")
    if not _has_pyg_sampler():
        print("PyG's NeighborLoader needs torch-sparse (or pyg-lib): not installed, not measured")
    payload = {"benchmark": "sampling", "graph": {"kind": "rmat", "nodes": args.nodes, "edges": args.edges,
                                                  "seconds_to_make": round(made, 2)},
               "fanouts": args.fanouts, "batch_size": args.batch_size, "threads": torch.get_num_threads(),
               "rows": rows}
    atomic_write_text(json.dumps(payload, indent=2) + "\n", Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
