"""Forward + backward of one graph layer: graphkit (native and reference ops) against PyG 2.8's own
layers (with ``edge_index``, with a torch CSR ``adj_t`` and, when torch-sparse is installed, with a
cached ``SparseTensor``), and the bare aggregation with ``torch.sparse.mm`` and (when installed)
torch-scatter, on 100k-node / 2M-edge graphs (uniform and R-MAT power-law), 64 and 256 channels.

Timing: for each (graph, channels) one process builds every (layer, implementation) on the same
graph and runs them interleaved, round after round (same process, same threads); the figure is
the median of ``--repeats`` rounds after ``--warmup``. Memory: each (graph, channels, layer,
implementation) runs again in a process of its own, whose peak RSS above the state before the
first step is its peak extra memory. The ratios compare graphkit with PyG's fastest configuration
of the same layer.

Layers: ``gcn`` (GCNConv, normalised weighted sum), ``sage`` (SAGEConv, mean), ``gat`` (GATConv,
one head of ``C`` channels) and ``gat8`` (eight heads of ``C / 8``).

On a GPU (``--device cuda``) every graph and layer is moved there, the timings synchronise the
device, and the peak memory is the peak of CUDA allocations above the state before the first step.

    python benchmarks/bench_aggregation.py                          # everything (about 30 minutes)
    python benchmarks/bench_aggregation.py --graphs uniform --channels 64 --layers gcn sage
    python benchmarks/bench_aggregation.py --device cuda --graphs uniform --channels 64 --no-memory
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
RESULTS_CUDA = RESULTS.with_name("aggregation-cuda.json")
LAYERS = ("gcn", "sage", "gat", "gat8")
IMPLS = ("graphkit-native", "graphkit-reference", "pyg-edge_index", "pyg-csr", "pyg-sparsetensor",
         "torch.sparse", "torch-scatter")
# the bare aggregation (no linear map, no normalisation): a floor, not a layer
AGGREGATION_ONLY = ("torch.sparse", "torch-scatter")


def make_graph(kind: str, channels: int):
    from graphkit import datasets
    name = "random" if kind == "uniform" else "rmat"
    return datasets.load(name, num_nodes=100_000, num_edges=2_000_000, num_features=channels, seed=0)


def _graphkit_module(layer: str, channels: int):
    from graphkit.nn import GATConv, GCNConv, SAGEConv
    return {"gcn": lambda: GCNConv(channels, channels), "sage": lambda: SAGEConv(channels, channels),
            "gat": lambda: GATConv(channels, channels, heads=1),
            "gat8": lambda: GATConv(channels, channels // 8, heads=8)}[layer]()


def _pyg_module(layer: str, channels: int, cached: bool):
    import torch_geometric.nn as pyg
    return {"gcn": lambda: pyg.GCNConv(channels, channels, cached=cached),
            "sage": lambda: pyg.SAGEConv(channels, channels),
            "gat": lambda: pyg.GATConv(channels, channels, heads=1),
            "gat8": lambda: pyg.GATConv(channels, channels // 8, heads=8)}[layer]()


def make_step(impl: str, layer: str, data, channels: int, device: str = "cpu"):
    """A closure running forward + backward once (gradients reset first) on ``device`` (where
    ``data`` is), or None when the pair does not exist (the implementation is not installed, or
    does not do this layer)."""
    import torch
    x = data.x.clone().requires_grad_()
    edge_index, n = data.edge_index, data.num_nodes
    module = None
    if impl.startswith("graphkit"):
        from graphkit import ops
        backend = impl.split("-")[1]
        module = _graphkit_module(layer, channels).to(device)

        def run():
            ops.use_backend(backend)  # both graphkit backends live in one process
            return module(x, edge_index)
    elif impl.startswith("pyg"):
        from torch_geometric.utils import to_torch_csr_tensor
        if impl == "pyg-edge_index":
            graph = edge_index
        elif impl == "pyg-csr":
            graph = to_torch_csr_tensor(edge_index.flip(0), size=(n, n))
        else:
            try:
                from torch_sparse import SparseTensor
            except ImportError:
                return None
            graph = SparseTensor(row=edge_index[1], col=edge_index[0], sparse_sizes=(n, n))
        if layer.startswith("gat") and impl == "pyg-csr":
            return None  # PyG's GATConv takes edge_index or SparseTensor, not a torch CSR tensor
        module = _pyg_module(layer, channels, cached=impl != "pyg-edge_index").to(device)

        def run():
            return module(x, graph)
    elif layer in ("gcn", "sage") and impl == "torch.sparse":
        from torch_geometric.utils import to_torch_csr_tensor
        adj = to_torch_csr_tensor(edge_index.flip(0), size=(n, n))

        def run():
            return torch.sparse.mm(adj, x)
    elif layer in ("gcn", "sage") and impl == "torch-scatter":
        try:
            import torch_scatter
        except ImportError:
            return None
        src, dst = edge_index
        reduce = "sum" if layer == "gcn" else "mean"

        def run():
            return torch_scatter.scatter(x[src], dst, dim=0, dim_size=n, reduce=reduce)
    else:
        return None

    def step():
        x.grad = None
        if module is not None:
            module.zero_grad(set_to_none=True)
        run().sum().backward()
        if device == "cuda":
            torch.cuda.synchronize()  # the step's kernels have finished when it returns
    return step


def time_case(graph: str, channels: int, layers, impls, warmup: int, repeats: int, threads: int,
              device: str = "cpu"):
    """Median ms of every (layer, impl) of one graph, the runs interleaved round by round."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = make_graph(graph, channels).to(device)
    steps = {}
    for layer in layers:
        for impl in impls:
            step = make_step(impl, layer, data, channels, device)
            if step is not None:
                step()  # builds caches (CSR, normalisation) and, for native, loads the kernels
                steps[(layer, impl)] = step
    times = {key: [] for key in steps}
    for r in range(warmup + repeats):
        for key, step in steps.items():
            start = time.perf_counter()
            step()
            if r >= warmup:
                times[key].append(time.perf_counter() - start)
    return [{"graph": graph, "channels": channels, "layer": layer, "impl": impl,
             "median_ms": 1000 * statistics.median(t), "min_ms": 1000 * min(t), "repeats": repeats}
            for (layer, impl), t in times.items()]


def memory_case(graph: str, channels: int, layer: str, impl: str, threads: int, device: str = "cpu"):
    """Peak RSS (MiB; on a GPU: peak CUDA allocations) above the state before the first step, over
    three steps."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    data = make_graph(graph, channels).to(device)
    step = make_step(impl, layer, data, channels, device)
    if step is None:
        return None
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
    else:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the graph and layer exist; nothing ran
    for _ in range(3):
        step()
    if device == "cuda":
        return (torch.cuda.max_memory_allocated() - base) / 2 ** 20
    return (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 1024


def _child(args, *what) -> object:
    cmd = [sys.executable, __file__, "--threads", str(args.threads), "--warmup", str(args.warmup),
           "--repeats", str(args.repeats), "--device", args.device, *what]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        print(f"  {' '.join(what)}: failed\n{done.stderr[-3000:]}", file=sys.stderr)
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def add_ratios(rows) -> None:
    """Speed-up and memory ratio of every row against PyG's fastest configuration of its case."""
    for r in rows:
        peers = [p for p in rows if p["impl"].startswith("pyg") and
                 (p["graph"], p["channels"], p["layer"]) == (r["graph"], r["channels"], r["layer"])]
        if not peers:
            continue
        best = min(peers, key=lambda p: p["median_ms"])
        r["pyg_fastest"] = best["impl"]
        r["speedup_vs_pyg_fastest"] = best["median_ms"] / r["median_ms"]
        if r.get("peak_extra_mib") is not None and best.get("peak_extra_mib"):
            r["memory_vs_pyg_fastest"] = r["peak_extra_mib"] / best["peak_extra_mib"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--graphs", nargs="+", default=["uniform", "rmat"], choices=["uniform", "rmat"])
    parser.add_argument("--channels", nargs="+", type=int, default=[64, 256])
    parser.add_argument("--layers", nargs="+", default=list(LAYERS), choices=LAYERS)
    parser.add_argument("--impls", nargs="+", default=list(IMPLS), choices=IMPLS)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--no-memory", action="store_true", help="skip the per-process peak-memory runs")
    parser.add_argument("--out", help=f"JSON results (default {RESULTS}, or {RESULTS_CUDA.name} with --device cuda)")
    parser.add_argument("--time-child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_child:
        graph, channels = args.time_child
        print(json.dumps(time_case(graph, int(channels), args.layers, args.impls, args.warmup, args.repeats,
                                   args.threads, args.device)))
        return
    if args.memory_child:
        graph, channels, layer, impl = args.memory_child
        print(json.dumps(memory_case(graph, int(channels), layer, impl, args.threads, args.device)))
        return

    from tqdm import tqdm
    rows, failed = [], []
    cases = [(g, c) for g in args.graphs for c in args.channels]
    for graph, channels in tqdm(cases, desc="timing (interleaved)", unit="case"):
        timed = _child(args, "--time-child", graph, str(channels), "--layers", *args.layers, "--impls", *args.impls)
        if timed is None:
            failed.append(f"{graph}/{channels}")
        rows += timed or []
    if not args.no_memory:
        for r in tqdm(rows, desc="peak memory (one process each)", unit="run"):
            r["peak_extra_mib"] = _child(args, "--memory-child", r["graph"], str(r["channels"]), r["layer"], r["impl"])
    add_ratios(rows)

    from graphkit.cli.table import format_table

    def fmt(value, pattern):
        return "-" if value is None else pattern.format(value)
    print(format_table(["graph", "ch", "layer", "impl", "median ms", "vs PyG fastest", "peak extra MiB",
                        "memory vs PyG fastest"],
                       [[r["graph"], r["channels"], r["layer"],
                         r["impl"] + (" (aggregation only)" if r["impl"] in AGGREGATION_ONLY else ""),
                         f"{r['median_ms']:.1f}", fmt(r.get("speedup_vs_pyg_fastest"), "{:.2f}x"),
                         fmt(r.get("peak_extra_mib"), "{:.0f}"), fmt(r.get("memory_vs_pyg_fastest"), "{:.2f}x")]
                        for r in rows]))
    import torch
    import torch_geometric
    peers = {}
    for name in ("torch_scatter", "torch_sparse"):
        try:
            peers[name] = __import__(name).__version__
        except ImportError:
            peers[name] = None
    out = Path(args.out or (RESULTS_CUDA if args.device == "cuda" else RESULTS))
    out.parent.mkdir(parents=True, exist_ok=True)
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    if args.device == "cuda":
        machine += f", {torch.cuda.get_device_name()}"
    tmp = out.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({
        "benchmark": "aggregation", "unit": "ms per forward+backward of one layer (median, interleaved runs)",
        "device": args.device, "threads": args.threads, "warmup": args.warmup, "repeats": args.repeats,
        "torch": torch.__version__, "torch_geometric": torch_geometric.__version__, **peers,
        "machine": machine, "rows": rows}, indent=2) + "\n")
    tmp.replace(out)
    print(f"wrote {out}")
    if failed:
        sys.exit(f"timing failed for {', '.join(failed)} (see above)")


if __name__ == "__main__":
    main()
