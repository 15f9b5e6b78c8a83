"""The building blocks of a link-prediction step at ogbl-ddi's batch shapes, graphkit's native ops
against the torch / torch-sparse code that PyG's and the NCN authors' models run for the same job:

- ``relu_dropout``: ``dropout(relu(x))`` forward + backward on a ``[24576, 224]`` batch (NCN's
  predictor width and batch) and ``[131072, 256]`` (OGB's SAGE + MLP: 2 x 65,536 pairs) against
  ``F.dropout(F.relu(x))``;
- ``common_neighbors``: the common neighbours of 24,576 training pairs of ogbl-ddi (381 per pair
  on average: a dense graph) with :func:`graphkit.ops.neighbor_sets` against the NCN authors'
  row blocks ``adj[i]``, ``adj[j]`` of a torch-sparse ``SparseTensor`` intersected by
  ``searchsorted`` on their sorted keys (when torch-sparse is installed);
- ``cn_sum``: the sum of 224-d node vectors over those sets, forward + backward, against
  ``torch.sparse.mm`` on the same sets as a COO tensor;
- ``pair_product``: ``h[i] * h[j]`` forward + backward for 131,072 pairs against torch indexing.

Every case runs interleaved with its peer, round after round, in one process with ``--threads``
threads; the figure is the median of ``--repeats`` rounds after one warm-up round.

    GRAPHKIT_DATA=... python benchmarks/bench_link_ops.py [--threads 2] [--repeats 5]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from graphkit import datasets, ops
from graphkit.loader import TrainGraph
from graphkit.transforms import link_split
from graphkit.utils import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "link_ops.json"


def cases(root: str):
    """``{case: {implementation: step}}`` on ogbl-ddi's training graph."""
    data = datasets.load("ogbl-ddi", root=root)
    split = link_split(data)
    graph = TrainGraph(split.train, split.num_nodes)
    g = torch.Generator().manual_seed(0)
    batch = torch.randperm(split.train.shape[1], generator=g)[:24576]
    adj = graph.without(batch)  # NCN's input: the graph without the batch's edges
    first, second = split.train[:, batch]
    out = {}

    def relu_dropout(rows, width):
        x = torch.randn(rows, width, generator=g, requires_grad=True)
        grad = torch.randn(rows, width, generator=g)
        return {"graphkit": lambda: torch.autograd.grad(ops.dropout(x, 0.5, relu=True), x, grad),
                "torch": lambda: torch.autograd.grad(F.dropout(F.relu(x), 0.5), x, grad)}

    out["relu_dropout 24576x224"] = relu_dropout(24576, 224)
    out["relu_dropout 131072x256"] = relu_dropout(131072, 256)

    def batch_sets():
        return ops.neighbor_sets(adj, first, second, "common")

    common = {"graphkit": batch_sets}
    try:
        from torch_sparse import SparseTensor
        sparse = SparseTensor(row=adj.row, col=adj.col, sparse_sizes=adj.shape)

        def ncn_overlap():  # the NCN authors' way: both pair-row blocks as sorted keys, searchsorted
            n = adj.shape[1]
            keys = []
            for ids in (first, second):
                rows = sparse[ids]
                keys.append(rows.storage.row() * n + rows.storage.col())
            big, small = sorted(keys, key=len, reverse=True)
            found = big[torch.searchsorted(big[:-1], small)] == small
            kept = small[found]
            return SparseTensor(row=kept // n, col=kept % n, sparse_sizes=(first.numel(), n))

        common["torch-sparse (NCN's overlap)"] = ncn_overlap
    except ImportError:
        pass
    out["common_neighbors"] = common

    sets = batch_sets()
    x = torch.randn(split.num_nodes, 224, generator=g, requires_grad=True)
    grad = torch.randn(sets.shape[0], 224, generator=g)
    coo = torch.sparse_coo_tensor(torch.stack([sets.row, sets.col]), torch.ones(sets.num_edges), sets.shape).coalesce()

    out["cn_sum (sets + spmm fwd/bwd)"] = {  # fresh sets each time, as in training
        "graphkit": lambda: torch.autograd.grad(ops.spmm(batch_sets(), x), x, grad),
        "torch.sparse.mm (+ graphkit sets)": lambda: (batch_sets(),
                                                      torch.autograd.grad(torch.sparse.mm(coo, x), x, grad))}

    h = torch.randn(split.num_nodes, 256, generator=g, requires_grad=True)
    i = torch.randint(0, split.num_nodes, (131072,), generator=g)
    j = torch.randint(0, split.num_nodes, (131072,), generator=g)
    pgrad = torch.randn(131072, 256, generator=g)
    out["pair_product 131072x256"] = {
        "graphkit": lambda: torch.autograd.grad(ops.pair_product(h, i, j), h, pgrad),
        "torch": lambda: torch.autograd.grad(h[i] * h[j], h, pgrad)}
    return out, {"cn_per_pair": sets.num_edges / sets.shape[0], "pairs": sets.shape[0]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--root", default=os.environ.get("GRAPHKIT_DATA"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    steps, info = cases(args.root)
    rows = []
    for case, impls in steps.items():
        times = {name: [] for name in impls}
        for round_ in range(args.repeats + 1):
            for name, step in impls.items():
                start = time.perf_counter()
                step()
                if round_:  # round 0 warms up
                    times[name].append(time.perf_counter() - start)
        medians = {name: statistics.median(t) * 1e3 for name, t in times.items()}
        for name, ms in medians.items():
            rows.append({"case": case, "impl": name, "ms": round(ms, 2),
                         "vs_graphkit": round(ms / medians["graphkit"], 2)})
    print(f"{'case':32s} {'implementation':36s} {'ms':>9s} {'x graphkit':>10s}")
    for r in rows:
        print(f"{r['case']:32s} {r['impl']:36s} {r['ms']:9.2f} {r['vs_graphkit']:10.2f}")
    result = {"threads": args.threads, "repeats": args.repeats, "torch": torch.__version__,
              "machine": platform.processor() or platform.machine(), **info, "rows": rows}
    atomic_write_text(json.dumps(result, indent=2), Path(args.out))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
