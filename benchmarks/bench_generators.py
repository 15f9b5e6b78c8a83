"""How long the synthetic generators take to build large graphs, and their peak memory: R-MAT and
CSBM at 1M and 10M nodes (10 edges a node, 128 features), each in a fresh process (its peak RSS
is its own), the edges in CSR order so that the ``Adj`` is built without a sort (that build is
timed too).

    python benchmarks/bench_generators.py                    # 1M-node graphs
    python benchmarks/bench_generators.py --nodes 1000000 10000000
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from graphkit.utils import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "generators.json"
CHILD = """
import json, resource, sys, time
from graphkit import datasets, to_adj
kind, n = sys.argv[1], int(sys.argv[2])
start = time.perf_counter()
args = dict(num_nodes=n, num_features=128, seed=0)
data = datasets.load(kind, num_edges=10 * n, **args) if kind == "rmat" else datasets.load(kind, avg_degree=10, **args)
made = time.perf_counter() - start
adj = to_adj(data.edge_index, data.num_nodes)
print(json.dumps({"graph": kind, "nodes": n, "edges": adj.num_edges, "seconds": round(made, 2),
                  "adj_seconds": round(time.perf_counter() - start - made, 2),
                  "peak_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20, 2)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--graphs", nargs="+", default=["rmat", "csbm"], choices=["rmat", "csbm"])
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    rows = []
    for n in args.nodes:
        for kind in args.graphs:
            done = subprocess.run([sys.executable, "-c", CHILD, kind, str(n)], capture_output=True, text=True)
            if done.returncode:
                raise SystemExit(f"{kind} at {n} nodes failed:\n{done.stderr}")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
            r = rows[-1]
            print(f"{r['graph']:5} {r['nodes']:>11,} nodes {r['edges']:>12,} edges: {r['seconds']:6.1f} s, "
                  f"Adj {r['adj_seconds']:5.1f} s, peak {r['peak_gib']:5.2f} GiB", flush=True)
    out = Path(args.out)
    atomic_write_text(json.dumps({"benchmark": "generators", "features": 128, "rows": rows}, indent=2) + "\n", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
