"""Where a graph-level training step's time goes, part by part, graphkit against what PyG's loop
uses for the same part, on batches of NCI1 graphs (the figures behind ``bench_graph_level.py``'s
epochs):

* batch: building a batch of ``--batch-size`` graphs: graphkit's ``GraphStore.batch`` (one kernel,
  ``ops.batch_graphs``, then the feature gathers), the same with the pure-torch reference op, and
  PyG's collation (``Batch.from_data_list`` of the dataset's graphs, as its ``DataLoader`` does);
* optimizer: one Adam step over Errica et al.'s GIN (42 tensors): the engine's flat fused Adam
  (``graphkit.train.flat``), torch's fused Adam per tensor, and torch's Adam at its defaults (PyG's
  examples);
* aggregation: GIN's ``(1 + eps) h_i + sum_j h_j``, forward and backward, 64 features:
  graphkit's ``ops.spmm(..., self_weight=1)`` and PyG's ``GINConv`` propagation (gather and
  scatter-add, then the self term).

Each figure is the median over ``--repeats`` timings of ``--calls`` calls, the parts interleaved.

    python benchmarks/bench_graph_parts.py
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "graph_parts.json"


def _time(fn, calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()

    import torch
    import torch_geometric
    import torch_geometric.nn as pyg
    from torch_geometric.data import Batch as PyGBatch

    from graphkit import datasets, ops
    from graphkit.loader import GraphStore
    from graphkit.nn import GraphGIN
    from graphkit.ops import reference
    from graphkit.train.flat import flat_optimizer
    from graphkit.utils import atomic_write_text
    torch.set_num_threads(args.threads)
    data = datasets.load("nci1")
    store = GraphStore(data)
    index = torch.randperm(len(store), generator=torch.Generator().manual_seed(0))[:args.batch_size]
    graphs = [data.dataset[int(i)] for i in index]
    args_store = (store.node_ptr, store.edge_ptr, store.in_degree, store.col, index)

    def reference_batch():
        _, _, node_index, edge_index, _, _ = reference.batch_graphs(*args_store)
        return store.x.index_select(0, node_index), store.y.index_select(0, index)

    models = {}
    for name in ("flat", "fused", "default"):
        torch.manual_seed(0)
        model = GraphGIN(data.num_features, data.num_tasks, hidden_channels=64, num_layers=4)
        for p in model.parameters():
            p.grad = torch.randn_like(p)
        params = list(model.parameters())
        models[name] = (flat_optimizer(torch.optim.Adam, [{"params": params}], lr=1e-3, fused=True)
                        if name == "flat" else
                        torch.optim.Adam(params, lr=1e-3, **({"fused": True} if name == "fused" else {})))
    flat = models["flat"]

    batch = store.batch(index)
    x = torch.randn(batch.adj.shape[0], 64, requires_grad=True)
    grad = torch.randn_like(x)
    pyg_batch = PyGBatch.from_data_list(graphs)
    conv = pyg.GINConv(torch.nn.Identity(), train_eps=False)

    def ours_aggregation():
        ops.spmm(batch.adj, x, "sum", self_weight=1.0).backward(grad)

    def pyg_aggregation():
        conv(x, pyg_batch.edge_index).backward(grad)

    def flat_step():  # as in a training step: the gradients gathered into the buffer, then the update
        flat._synced = False
        flat.step()

    parts = [("batch", "graphkit (batch_graphs kernel)", lambda: store.batch(index)),
             ("batch", "graphkit, pure-torch reference op", reference_batch),
             ("batch", "PyG Batch.from_data_list", lambda: PyGBatch.from_data_list(graphs)),
             ("optimizer", "graphkit flat fused Adam", flat_step),
             ("optimizer", "torch fused Adam, per tensor", models["fused"].step),
             ("optimizer", "torch Adam, defaults (PyG's examples)", models["default"].step),
             ("aggregation", "graphkit spmm(self_weight=1), fwd+bwd", ours_aggregation),
             ("aggregation", "PyG GINConv propagate, fwd+bwd", pyg_aggregation)]
    for _, _, fn in parts:  # warm up
        for _ in range(20):
            fn()
    samples = {label: [] for _, label, _ in parts}
    for r in range(args.repeats):
        for _, label, fn in (parts if r % 2 == 0 else parts[::-1]):
            samples[label].append(_time(fn, args.calls))
    rows = []
    for part, label, _ in parts:
        base = next(lab for p, lab, _ in parts if p == part)
        median = statistics.median(samples[label])
        rows.append({"part": part, "implementation": label, "median_us": round(median, 1),
                     "vs_graphkit": round(median / statistics.median(samples[base]), 2)})
    print(f"{'part':<12} {'implementation':<42} {'median us':>10} {'x graphkit':>10}")
    for row in rows:
        print(f"{row['part']:<12} {row['implementation']:<42} {row['median_us']:>10.1f} {row['vs_graphkit']:>10.2f}")
    out = Path(args.out)
    atomic_write_text(json.dumps({"benchmark": "graph_parts", "torch": torch.__version__,
                               "torch_geometric": torch_geometric.__version__, "threads": args.threads,
                               "machine": f"{platform.machine()}, {torch.get_num_threads()} threads",
                               "batch_size": args.batch_size, "batch_nodes": int(batch.adj.shape[0]),
                               "command": "python benchmarks/bench_graph_parts.py", "rows": rows}, indent=2) + "\n",
                      out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
