"""Forward + backward of one graph layer: graphkit (native and reference ops) against PyG 2.8's own
layers (with ``edge_index`` and with a CSR ``adj_t``), ``torch.sparse.mm`` and, when installed,
torch-scatter, on 100k-node / 2M-edge graphs (uniform and R-MAT power-law), 64 and 256 channels.

Each (graph, channels, layer, implementation) runs in its own process, so its peak memory is its
own; the implementations of one case run back to back with the same threads; the figure is the
median of ``--repeats`` runs after ``--warmup``.

    python benchmarks/bench_aggregation.py                       # everything (about 15 minutes)
    python benchmarks/bench_aggregation.py --graphs uniform --channels 64
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

RESULTS = Path(__file__).resolve().parent / "results" / "aggregation.json"
LAYERS = ("gcn", "sage", "gat")
IMPLS = ("graphkit-native", "graphkit-reference", "pyg-edge_index", "pyg-csr", "torch.sparse", "torch-scatter")


def make_graph(kind: str, channels: int):
    from graphkit import datasets
    name = "random" if kind == "uniform" else "rmat"
    return datasets.load(name, num_nodes=100_000, num_edges=2_000_000, num_features=channels, seed=0)


def make_step(impl: str, layer: str, data, channels: int):
    """A closure running forward + backward once, or None when the pair does not exist."""
    import torch
    x = data.x.clone().requires_grad_()
    edge_index, n = data.edge_index, data.num_nodes
    if impl.startswith("graphkit"):
        from graphkit import ops
        from graphkit.nn import GATConv, GCNConv, SAGEConv
        ops.use_backend(impl.split("-")[1])
        module = {"gcn": lambda: GCNConv(channels, channels), "sage": lambda: SAGEConv(channels, channels),
                  "gat": lambda: GATConv(channels, channels // 8, heads=8)}[layer]()
        return lambda: module(x, edge_index).sum().backward()
    if impl.startswith("pyg"):
        import torch_geometric.nn as pyg
        from torch_geometric.utils import to_torch_csr_tensor
        graph = edge_index if impl == "pyg-edge_index" else to_torch_csr_tensor(edge_index.flip(0), size=(n, n))
        if layer == "gat" and impl == "pyg-csr":
            return None  # PyG's GATConv needs edge_index for its edge softmax
        module = {"gcn": lambda: pyg.GCNConv(channels, channels, cached=impl == "pyg-csr"),
                  "sage": lambda: pyg.SAGEConv(channels, channels),
                  "gat": lambda: pyg.GATConv(channels, channels // 8, heads=8)}[layer]()
        return lambda: module(x, graph).sum().backward()
    if layer == "gat":
        return None
    if impl == "torch.sparse":  # the aggregation alone (sum for gcn, mean via row scaling for sage)
        from torch_geometric.utils import to_torch_csr_tensor
        adj = to_torch_csr_tensor(edge_index.flip(0), size=(n, n))
        return lambda: torch.sparse.mm(adj, x).sum().backward()
    try:
        import torch_scatter
    except ImportError:
        return None
    src, dst = edge_index
    reduce = "sum" if layer == "gcn" else "mean"
    return lambda: torch_scatter.scatter(x[src], dst, dim=0, dim_size=n, reduce=reduce).sum().backward()


def measure(graph: str, channels: int, layer: str, impl: str, warmup: int, repeats: int, threads: int):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = make_graph(graph, channels)
    step = make_step(impl, layer, data, channels)
    if step is None:
        return None
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the graph and layer exist; nothing ran
    step()  # builds caches (CSR, normalisation) and, for native, loads the kernels
    times = []
    for i in range(warmup + repeats):
        start = time.perf_counter()
        step()
        if i >= warmup:
            times.append(time.perf_counter() - start)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"graph": graph, "channels": channels, "layer": layer, "impl": impl,
            "median_ms": 1000 * statistics.median(times), "repeats": repeats,
            "peak_extra_mib": (peak - base) / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", nargs="+", default=["uniform", "rmat"])
    parser.add_argument("--channels", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--layers", nargs="+", default=list(LAYERS))
    parser.add_argument("--impls", nargs="+", default=list(IMPLS))
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        graph, channels, layer, impl = args.child
        print(json.dumps(measure(graph, int(channels), layer, impl, args.warmup, args.repeats, args.threads)))
        return
    rows = []
    for graph in args.graphs:
        for channels in args.channels:
            for layer in args.layers:
                for impl in args.impls:
                    cmd = [sys.executable, __file__, "--child", graph, str(channels), layer, impl,
                           "--warmup", str(args.warmup), "--repeats", str(args.repeats), "--threads", str(args.threads)]
                    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
                    if done.returncode != 0:
                        print(f"  {graph} {channels} {layer} {impl}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
                        continue
                    row = json.loads(done.stdout.strip().splitlines()[-1])
                    if row is None:
                        continue
                    rows.append(row)
                    print(f"  {graph:>7} {channels:>3} {layer:>4} {impl:>18}: {row['median_ms']:8.1f} ms "
                          f"+{row['peak_extra_mib']:7.1f} MiB", flush=True)
    for r in rows:  # ratios against PyG's fastest configuration of the same case
        peers = [p for p in rows if p["impl"].startswith("pyg") and
                 (p["graph"], p["channels"], p["layer"]) == (r["graph"], r["channels"], r["layer"])]
        if peers:
            best = min(peers, key=lambda p: p["median_ms"])
            r["speedup_vs_pyg_fastest"] = best["median_ms"] / r["median_ms"]
            r["memory_vs_pyg_fastest"] = r["peak_extra_mib"] / best["peak_extra_mib"] if best["peak_extra_mib"] else None
    from graphkit.cli.table import format_table
    print(format_table(["graph", "ch", "layer", "impl", "ms", "vs PyG fastest", "peak extra MiB"],
                       [[r["graph"], r["channels"], r["layer"], r["impl"], f"{r['median_ms']:.1f}",
                         f"{r.get('speedup_vs_pyg_fastest', float('nan')):.2f}x", f"{r['peak_extra_mib']:.0f}"]
                        for r in rows]))
    import torch
    import torch_geometric
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps({
        "benchmark": "aggregation", "unit": "ms per forward+backward of one layer (median)",
        "threads": args.threads, "torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "rows": rows}, indent=2) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
