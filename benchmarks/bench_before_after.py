"""The same forward + backward steps timed on an earlier revision of graphkit and on this tree, in
one run: GCN and GAT (the papers' models, training mode) on Cora, and one GCNConv / GATConv layer on
the 100k-node, 2M-edge uniform graph of ``bench_aggregation.py`` (64 channels). The graph is passed
as a prebuilt ``Adj``, and in the ``-edge_index`` cases as the raw ``edge_index``, as PyG users
call layers (the ``Adj`` then comes from the cache kept with the tensor, checked at every call).

The earlier revision is checked out into a temporary git worktree (and ``--after REV``, when given,
into a second one instead of this working tree: ``--ref HEAD --after HEAD`` is a control that
measures the harness's own bias). For each case, each tree runs in a process of its own (its own
kernels, built once into a cache folder of its own, so that the two trees never rebuild each
other's); the trees alternate for ``--rounds`` rounds (the one that goes first alternating too) of
``--repeats`` timed steps after a warm-up, and the figure is the median over all of a tree's steps.
Prints a table and writes ``benchmarks/results/before_after.json``::

    python benchmarks/bench_before_after.py --ref 71d10b9
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "before_after.json"
CASES = ("cora-gcn", "cora-gat", "uniform100k-gcn", "uniform100k-gat", "cora-gcn-edge_index",
         "uniform100k-gcn-edge_index")

# Runs inside a tree (PYTHONPATH); uses only API both revisions have.
STEP = r'''
import json, sys, time, torch
torch.manual_seed(0)
from graphkit import datasets, to_adj
from graphkit.nn import GAT, GCN, GATConv, GCNConv
case, repeats, warmup = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
if case.startswith("cora"):
    data = datasets.load("cora")
    model = (GCN(data.num_features, 16, 2, out_channels=7, dropout=0.5) if "gcn" in case else
             GAT(data.num_features, 64, 2, out_channels=7, heads=8, dropout=0.6, attn_dropout=0.6, act="elu"))
else:
    data = datasets.load("random", num_nodes=100_000, num_edges=2_000_000, num_features=64, seed=0)
    model = GCNConv(64, 64) if "gcn" in case else GATConv(64, 64, heads=1)
adj = data.edge_index if case.endswith("edge_index") else to_adj(data.edge_index, data.num_nodes)
x = data.x
model.train()
times = []
for i in range(warmup + repeats):
    start = time.perf_counter()
    model.zero_grad(set_to_none=True)
    model(x, adj).sum().backward()
    if i >= warmup:
        times.append(time.perf_counter() - start)
print(json.dumps(times))
'''


def worktree(ref: str, where: Path) -> Path:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(where), ref], check=True,
                   capture_output=True)
    return where


def time_tree(tree: Path, case: str, repeats: int, warmup: int, cache: Path = None) -> list:
    env = dict(os.environ, PYTHONPATH=str(tree))
    if cache is not None:
        env["XDG_CACHE_HOME"] = str(cache)
    out = subprocess.run([sys.executable, "-c", STEP, case, str(repeats), str(warmup)], cwd=tree, env=env,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"{case} on {tree} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ref", required=True, help="the earlier revision (commit, tag or branch)")
    parser.add_argument("--after", default=None, help="a revision to time instead of this working tree")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=CASES)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.ref], check=True, capture_output=True,
                         text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory(prefix="graphkit-before-") as tmp:
        before = worktree(args.ref, Path(tmp) / "before")
        after = worktree(args.after, Path(tmp) / "after") if args.after else ROOT
        caches = {"before": Path(tmp) / "cache-before", "after": Path(tmp) / "cache-after" if args.after else None}
        try:
            for case in args.cases:
                times = {"before": [], "after": []}
                for round_ in range(args.rounds):
                    order = (("before", before), ("after", after))
                    for label, tree in (order if round_ % 2 == 0 else order[::-1]):  # who goes first alternates
                        times[label] += time_tree(tree, case, args.repeats, args.warmup, caches[label])
                med = {k: statistics.median(v) * 1000 for k, v in times.items()}
                rows.append({"case": case, "before_ms": round(med["before"], 2), "after_ms": round(med["after"], 2),
                             "after_vs_before": round(med["after"] / med["before"], 3),
                             "steps": len(times["after"])})
                print(f"{case:>26}: before {med['before']:8.2f} ms   after {med['after']:8.2f} ms   "
                      f"after/before {med['after'] / med['before']:.3f}", flush=True)
        finally:
            for tree in {before, after} - {ROOT}:
                subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                               capture_output=True)
    import torch

    from graphkit.utils import atomic_write_text
    atomic_write_text(json.dumps({"benchmark": "before_after", "ref": sha, "torch": torch.__version__,
                                  "threads": torch.get_num_threads(), "machine": platform.machine(),
                                  "after": args.after or "working tree",
                                  "command": f"python benchmarks/bench_before_after.py --ref {sha}"
                                             + (f" --after {args.after}" if args.after else "")
                                             + (f" --rounds {args.rounds}" if args.rounds != 3 else ""),
                                  "rows": rows}, indent=2) + "\n", args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
