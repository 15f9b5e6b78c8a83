"""Training epochs of graph-level models, graphkit against PyG's own implementation at equal model
and batch size: GIN (Errica et al.'s architecture: input MLP, GIN layers with
Linear-BN-ReLU-Linear-BN-ReLU, a sum-pooled readout of every layer) on PROTEINS and NCI1, and OGB's
GIN-virtual (AtomEncoder, GINE layers with BondEncoders, virtual node, mean pooling) on
ogbg-molhiv.

* graphkit: the epoch ``GraphPrediction`` runs: the engine's loop and optimizer (Adam, fused, over
  one flat buffer), the task's step, ``GraphLoader`` over a ``GraphStore`` (each batch sliced out
  of the concatenated graphs by one kernel, its block-diagonal ``Adj`` built without a sort) and
  ``graphkit.nn.GraphGIN`` / ``MolGNN`` on graphkit's kernels.
* PyG: the loop of PyG's examples: ``torch_geometric.loader.DataLoader`` over the same dataset,
  ``torch.optim.Adam`` at its defaults, ``torch_geometric.nn.GINConv`` / ``GINEConv`` and
  ``global_add_pool`` / ``global_mean_pool``, the same modules, parameters and widths (the readout
  maps through ``F.linear`` on the model's stacked head weights).

An epoch is one shuffled pass over the training graphs: loading each batch, forward, backward and
the optimizer's step. Timing: both run in one process, epochs interleaved (graphkit, PyG, graphkit,
...); the figure is the median of ``--epochs`` epochs after ``--warmup``. Memory: each
(dataset, implementation) runs again in a process of its own for two epochs, whose peak RSS during
the epochs above the RSS before them (dataset, loader and model built) is its peak extra memory.

    python benchmarks/bench_graph_level.py                      # PROTEINS, NCI1, ogbg-molhiv
    python benchmarks/bench_graph_level.py --datasets nci1 --batch-size 128
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

RESULTS = Path(__file__).resolve().parent / "results" / "graph_level.json"
MODELS = {"proteins": "gin", "nci1": "gin", "ogbg-molhiv": "gin-virtual"}
IMPLS = ("graphkit", "pyg")


def _setup(dataset: str, impl: str, batch_size: int, hidden: int, layers: int, train_graphs: int):
    """``(epoch function, model)`` of one implementation on one dataset."""
    import torch

    from graphkit import datasets
    from graphkit.nn import GraphGIN, MolGNN
    data = datasets.load(dataset)
    index = torch.as_tensor(data.split_idx["train"]) if data.split_idx is not None else torch.arange(len(data))
    index = index[:train_graphs] if train_graphs else index
    torch.manual_seed(0)
    if MODELS[dataset] == "gin":
        model = GraphGIN(data.num_features, data.num_tasks, hidden_channels=hidden, num_layers=layers)
    else:
        model = MolGNN(None, data.num_tasks, hidden_channels=hidden, num_layers=layers, virtual_node=True)
    binary = data.kind == "binary"
    if impl == "graphkit":  # what GraphPrediction runs: the engine's epoch, its optimizer, the task's step
        from graphkit.loader import GraphLoader, GraphStore
        from graphkit.tasks import GraphPredictionTask
        from graphkit.train import Engine, TrainConfig, build_optimizer
        loader = GraphLoader(GraphStore(data), index, batch_size, shuffle=True)
        engine = Engine(TrainConfig(lr=0.001), progress=False)
        task = GraphPredictionTask(data.kind, data.metric)
        optimizer = build_optimizer(model, engine.config)
        return (lambda: engine._train_epoch(task, model, model, optimizer, loader)), model
    from torch_geometric.loader import DataLoader  # PyG's own loop, as its examples write it
    loader = DataLoader(data.dataset[index], batch_size=batch_size, shuffle=True)
    forward = _pyg_forward(model, binary)
    loss_fn = torch.nn.BCEWithLogitsLoss() if binary else torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

    def epoch():
        model.train()
        for batch in loader:
            optimizer.zero_grad()
            out = forward(batch)
            y = batch.y.float().view(out.shape) if binary else batch.y.view(-1)
            loss_fn(out, y).backward()
            optimizer.step()
    return epoch, model


def _pyg_forward(model, binary: bool):
    """The same modules run through PyG's layers and pools (``model``'s weights shared)."""
    import torch
    import torch.nn.functional as F
    import torch_geometric.nn as pyg
    if not binary:  # Errica et al.'s GIN
        pool = {"sum": pyg.global_add_pool, "mean": pyg.global_mean_pool}[model.pooling]
        convs = [pyg.GINConv(conv.nn, train_eps=False) for conv in model.convs]

        def head(layer, h, batch):  # nn.Linear of layer l's readout, on the same parameters (views)
            return F.dropout(F.linear(pool(h, batch), model.head_weight[layer].t(), model.head_bias[layer, 0]),
                             model.dropout, model.training)

        def forward(batch):
            h = model.first(batch.x)
            out = head(0, h, batch.batch)
            for layer, conv in enumerate(convs, 1):
                h = conv(h, batch.edge_index)
                out = out + head(layer, h, batch.batch)
            return out
        return forward
    convs = [pyg.GINEConv(conv.nn, train_eps=True) for conv in model.convs]  # OGB's GIN-virtual
    for ours, theirs in zip(model.convs, convs):
        theirs.eps = ours.eps

    def forward(batch):
        vn = model.virtual_init.expand(batch.num_graphs, -1)
        h = model.encoder(batch.x)
        for i, conv in enumerate(convs):
            h = h + vn[batch.batch]
            out = model.norms[i](conv(h, batch.edge_index, model.edge_encoders[i](batch.edge_attr)))
            out = F.dropout(torch.relu(out) if i < len(convs) - 1 else out, model.dropout, model.training)
            if i < len(convs) - 1:
                vn = F.dropout(model.virtual_nodes[i].mlp(pyg.global_add_pool(h, batch.batch) + vn), model.dropout,
                               model.training)
            h = out
        return model.head(pyg.global_mean_pool(h, batch.batch))
    return forward


def time_case(dataset: str, args) -> list:
    import torch
    torch.set_num_threads(args.threads)
    runs = {impl: _setup(dataset, impl, args.batch_size, args.hidden, args.layers, args.train_graphs)[0]
            for impl in IMPLS}
    times = {impl: [] for impl in IMPLS}
    for i in range(args.warmup + args.epochs):
        for impl in (IMPLS if i % 2 == 0 else IMPLS[::-1]):  # alternate who goes first
            start = time.perf_counter()
            runs[impl]()
            if i >= args.warmup:
                times[impl].append(time.perf_counter() - start)
    return [{"dataset": dataset, "model": MODELS[dataset], "impl": impl, "median_s": statistics.median(t),
             "min_s": min(t), "epochs": len(t), "batch_size": args.batch_size} for impl, t in times.items()]


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def memory_case(dataset: str, impl: str, args) -> float:
    """Peak RSS during two epochs above the RSS before them (MiB). The peak is reset first
    (``/proc/self/clear_refs``), so building the dataset and loader, whose own peak may be higher,
    does not hide the epochs'; without that file, the peak of the whole process above the state
    before the epochs."""
    import gc

    import torch
    torch.set_num_threads(args.threads)
    epoch, _ = _setup(dataset, impl, args.batch_size, args.hidden, args.layers, args.train_graphs)
    gc.collect()
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        base, peak = _status_kib("VmRSS"), lambda: _status_kib("VmHWM")
    except OSError:
        base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # noqa: E731
    for _ in range(2):
        epoch()
    return (peak() - base) / 1024


def _child(args, *what):
    cmd = [sys.executable, __file__, "--threads", str(args.threads), "--warmup", str(args.warmup), "--epochs",
           str(args.epochs), "--batch-size", str(args.batch_size), "--train-graphs", str(args.train_graphs), *what]
    cmd += [] if args.hidden is None else ["--hidden", str(args.hidden)]
    cmd += [] if args.layers is None else ["--layers", str(args.layers)]
    done = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(what)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--hidden", type=int, default=None, help="width (default: 64 for GIN, 300 for GIN-virtual)")
    parser.add_argument("--layers", type=int, default=None, help="layers (default: 4 for GIN, 5 for GIN-virtual)")
    parser.add_argument("--train-graphs", type=int, default=0, help="use the first N training graphs (0: all)")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--no-memory", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--time-child", help=argparse.SUPPRESS)
    parser.add_argument("--memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.time_child or args.memory_child:
        dataset = args.time_child or args.memory_child[0]
        args.hidden = args.hidden or (64 if MODELS[dataset] == "gin" else 300)
        args.layers = args.layers or (4 if MODELS[dataset] == "gin" else 5)
        result = time_case(dataset, args) if args.time_child else memory_case(dataset, args.memory_child[1], args)
        print(json.dumps(result))
        return
    rows = []
    for dataset in args.datasets:
        timed = _child(args, "--time-child", dataset)
        if not args.no_memory:
            for r in timed:
                r["peak_extra_mib"] = _child(args, "--memory-child", dataset, r["impl"])
        pyg = next(r for r in timed if r["impl"] == "pyg")
        for r in timed:
            r["speedup_vs_pyg"] = pyg["median_s"] / r["median_s"]
            if r.get("peak_extra_mib") is not None and pyg.get("peak_extra_mib"):
                r["memory_vs_pyg"] = r["peak_extra_mib"] / pyg["peak_extra_mib"]
        rows += timed
        print(f"{dataset}: " + ", ".join(f"{r['impl']} {r['median_s']:.3f} s/epoch" for r in timed), flush=True)

    from graphkit.cli.table import format_table
    from graphkit.utils import atomic_write_text

    def fmt(value, pattern):
        return "-" if value is None else pattern.format(value)
    print(format_table(["dataset", "model", "impl", "median s / epoch", "vs PyG", "peak extra MiB", "memory vs PyG"],
                       [[r["dataset"], r["model"], r["impl"], f"{r['median_s']:.3f}", f"{r['speedup_vs_pyg']:.2f}x",
                         fmt(r.get("peak_extra_mib"), "{:.0f}"), fmt(r.get("memory_vs_pyg"), "{:.2f}x")]
                        for r in rows]))
    import torch
    import torch_geometric
    command = "python benchmarks/bench_graph_level.py " + " ".join(sys.argv[1:])
    for r in rows:
        r["command"] = command.strip()
    if Path(args.out).exists():  # keep the rows of datasets this invocation did not run
        kept = [r for r in json.loads(Path(args.out).read_text())["rows"] if r["dataset"] not in args.datasets]
        rows = kept + rows
    atomic_write_text(json.dumps({"benchmark": "graph_level", "torch": torch.__version__,
                                  "torch_geometric": torch_geometric.__version__, "threads": args.threads,
                                  "machine": f"{platform.machine()}, {os.cpu_count()} cores",
                                  "command": command.strip(),
                                  "rows": rows}, indent=2) + "\n", args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
