"""Mini-batch against full-batch GraphSAGE: the same model, epochs and seeds, trained on the whole
graph at every step or on sampled neighbourhoods (``fanouts``, evaluated by exact layer-wise
inference), on Coauthor CS, Amazon Photo and Squirrel (split 0 of each, 5 seeds). The acceptance:
the mini-batch test accuracy within 1 point of the full-batch one.

Every run is recorded in a ledger (``benchmarks/results/minibatch_accuracy_runs/<dataset>.json``),
so the benchmark carries on across sessions and machines; ``--progress-only`` reads how far it is.

    GRAPHKIT_DATA=../shared/datasets python benchmarks/bench_minibatch_accuracy.py
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from graphkit import datasets
from graphkit.tasks import NodeClassification
from graphkit.train import RunLedger
from graphkit.utils import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "minibatch_accuracy.json"
LEDGERS = RESULTS.with_name("minibatch_accuracy_runs")
DATASETS = ("cs", "photo", "squirrel")
# GraphSAGE's preset (2 layers, 64 channels, dropout 0.5, lr 0.01, weight decay 5e-4); a fixed
# number of epochs for both, no early stopping, so that the two differ only in what a step sees
CONFIG = {"epochs": 100, "patience": None}
MINIBATCH = {"fanouts": [15, 10], "batch_size": 512}


def fit(name: str, minibatch: bool, runs: int, ledgers: Path, progress: bool):
    config = dict(CONFIG, **(MINIBATCH if minibatch else {}))
    return NodeClassification("sage", config=config, runs=runs, splits=[0], progress=progress,
                              ledger=str(ledgers / f"{name}.json")).fit(datasets.load(name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=DATASETS)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--ledger-dir", default=str(LEDGERS))
    parser.add_argument("--progress-only", action="store_true", help="print how far each dataset is, train nothing")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    ledgers = Path(args.ledger_dir)
    if args.progress_only:
        for name in args.only or DATASETS:
            print(f"{name}: {len(RunLedger(ledgers / f'{name}.json'))}/{2 * args.runs} runs")
        return
    out = Path(args.out)
    for name in args.only or DATASETS:
        start = time.perf_counter()
        full, mini = (fit(name, m, args.runs, ledgers, not args.quiet) for m in (False, True))
        f, m = 100 * full.test["accuracy"]["mean"], 100 * mini.test["accuracy"]["mean"]
        row = {"dataset": name, "config": CONFIG, "minibatch": MINIBATCH, "runs": args.runs,
               "full_batch": {"mean": round(f, 2), "std": round(100 * full.test["accuracy"]["std"], 2),
                              "seconds_per_epoch": full.epoch_seconds_median},
               "mini_batch": {"mean": round(m, 2), "std": round(100 * mini.test["accuracy"]["std"], 2),
                              "seconds_per_epoch": mini.epoch_seconds_median},
               "gap": round(m - f, 2), "within_one_point": abs(m - f) <= 1.0,
               "seconds": round(time.perf_counter() - start)}
        rows = {r["dataset"]: r for r in (json.loads(out.read_text())["rows"] if out.exists() else [])}
        rows[name] = row
        atomic_write_text(json.dumps({"benchmark": "minibatch_accuracy", "rows": list(rows.values())}, indent=2)
                          + "\n", out)
        print(f"{name}: full-batch {f:.2f} ± {row['full_batch']['std']:.2f}, mini-batch {m:.2f} ± "
              f"{row['mini_batch']['std']:.2f} (gap {m - f:+.2f}; within 1 point: {row['within_one_point']})",
              flush=True)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
