"""Accuracy on real data with the paper defaults: the acceptance runs of the node-classification
trainer, written to ``benchmarks/results/accuracy.json`` (the README's accuracy table is made from it).

    GRAPHKIT_DATA=../shared/datasets python benchmarks/bench_accuracy.py
    python benchmarks/bench_accuracy.py --only gcn:cora   # a subset

Public Planetoid split: 10 seeds. geom-gcn splits (Film, Cornell): all 10 splits, one seed each.
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from graphkit import datasets
from graphkit.tasks import NodeClassification
from graphkit.utils import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "accuracy.json"
CONFIGS = [("gcn", "cora", "public", 10), ("gat", "cora", "public", 10),
           ("gcn", "citeseer", "public", 10), ("gat", "citeseer", "public", 10)]
CONFIGS += [(m, d, "geom-gcn", 1) for d in ("film", "cornell") for m in ("gcn", "sage", "gat", "mlp")]
PAPER = {("gcn", "cora"): 81.5, ("gcn", "citeseer"): 70.3, ("gat", "cora"): 83.0, ("gat", "citeseer"): 72.5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", help="model:dataset pairs to run")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    out = Path(args.out)
    previous = json.loads(out.read_text())["rows"] if out.exists() else []
    rows = {(r["model"], r["dataset"], r["split"]): r for r in previous}
    for model, name, split, runs in CONFIGS:
        if args.only and f"{model}:{name}" not in args.only:
            continue
        start = time.perf_counter()
        report = NodeClassification(model, runs=runs, seed=0, progress=False).fit(datasets.load(name, split=split))
        acc = report.test["accuracy"]
        rows[(model, name, split)] = {
            "model": model, "dataset": name, "split": split, "runs": len(report.runs),
            "test_accuracy_mean": 100 * acc["mean"], "test_accuracy_std": 100 * acc["std"],
            "paper": PAPER.get((model, name)), "seconds": round(time.perf_counter() - start, 1),
            "per_run": [round(100 * r.test["accuracy"], 2) for r in report.runs]}
        print(f"{model:>4} {name:>9} {split:>9}: {100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} "
              f"({len(report.runs)} runs, {time.perf_counter() - start:.0f} s)", flush=True)
    order = lambda r: (r["split"] != "public", r["dataset"], r["model"])
    atomic_write_text(json.dumps({"benchmark": "accuracy", "metric": "test accuracy %",
                                  "command": "python benchmarks/bench_accuracy.py",
                                  "rows": sorted(rows.values(), key=order)}, indent=2) + "\n", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
