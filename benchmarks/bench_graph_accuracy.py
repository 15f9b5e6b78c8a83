"""Graph-level accuracy against the papers, the acceptance runs of ``GraphPrediction``:

* GIN under Errica et al.'s protocol ("A Fair Comparison of Graph Neural Networks for Graph
  Classification", ICLR 2020) on PROTEINS, NCI1 and IMDB-BINARY: stratified 10-fold
  cross-validation, model selection on a 10 % holdout of each fold's training part, the selected
  configuration retrained 3 times per fold; mean ± std over the folds. Their figures are those of
  the updated tables in ``diningphil/gnn-comparison``'s README (commit c524e97): GIN 73.3 ± 4.0
  (PROTEINS), 80.0 ± 1.4 (NCI1) and, with node degrees as features, 71.2 ± 3.9 (IMDB-BINARY).
* OGB's GIN-virtual on ogbg-molhiv, 3 seeds, test ROC-AUC by OGB's Evaluator at the epoch of best
  validation ROC-AUC (leaderboard: GIN-virtual 77.07 ± 1.49, GIN 75.58 ± 1.40).

Every run is checkpointed under ``--checkpoint-dir`` (default ``runs/``), so an interrupted run
resumes where it stopped, and each finished run is recorded in a ledger
(``benchmarks/results/graph_accuracy_runs/<dataset>.json``, a few kilobytes a run, kept in the
repository): on another machine the benchmark reads the finished runs back from it and trains only
the rest, so the whole benchmark (some 15 hours on two CPU cores) carries on across sessions.
``--progress-only`` prints how far each dataset is without training.

**The grid.** Errica et al.'s grid is 128 configurations of up to 1000 epochs (patience 500), per
fold: about 160 hours for PROTEINS alone on two CPU cores. ``--grid errica`` runs it; the default,
``--grid reduced``, keeps their four architectures (``hidden_units`` 4×64, 4×32, 1×64, 2×32) with
the rest at their first values (batch 32, no learnt eps, sum pooling, dropout 0.5, early stopping
on validation accuracy), and 500 epochs with patience 100. The note and the JSON say which ran.

    GRAPHKIT_DATA=../shared/datasets python benchmarks/bench_graph_accuracy.py --only proteins
    python benchmarks/bench_graph_accuracy.py --only ogbg-molhiv
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from pathlib import Path

from graphkit import datasets
from graphkit.tasks import GraphPrediction
from graphkit.train import RunLedger
from graphkit.utils import atomic_write_text

RESULTS = Path(__file__).resolve().parent / "results" / "graph_accuracy.json"
LEDGERS = RESULTS.with_name("graph_accuracy_runs")
PAPER = {"proteins": ("gin", 73.3, 4.0), "nci1": ("gin", 80.0, 1.4), "imdb-binary": ("gin", 71.2, 3.9),
         "ogbg-molhiv": ("gin-virtual", 77.07, 1.49)}
REDUCED = {"hidden_channels,num_layers": [[64, 4], [32, 4], [64, 1], [32, 2]]}
REDUCED_CONFIG = {"epochs": 500, "patience": 100}


def run(name: str, grid: str, checkpoint_dir: str, ledgers: Path, progress: bool) -> dict:
    model, paper_mean, paper_std = PAPER[name]
    data = datasets.load(name)
    start = time.perf_counter()
    ledger = str(ledgers / f"{name}.json")
    if name.startswith("ogbg-"):
        est = GraphPrediction(model, runs=3, seed=0, checkpoint_dir=checkpoint_dir, progress=progress, ledger=ledger)
        report = est.fit(data)
        summary, metric = report.test["rocauc"], "rocauc"
    else:
        config, points = (None, None) if grid == "errica" else (REDUCED_CONFIG, REDUCED)
        est = GraphPrediction(model, config=config, grid=points, folds=10, runs=3, seed=0,
                              checkpoint_dir=checkpoint_dir, progress=progress, ledger=ledger)
        report = est.fit(data)
        summary, metric = report.folds["accuracy"], "accuracy"
    mean, std = 100 * summary["mean"], 100 * summary["std"]
    return {"dataset": name, "model": model, "metric": metric, "protocol": report.meta["protocol"],
            "grid": None if name.startswith("ogbg-") else grid, "mean": round(mean, 2), "std": round(std, 2),
            "paper_mean": paper_mean, "paper_std": paper_std, "within_one_std": abs(mean - paper_mean) <= paper_std,
            "runs": len(report.runs), "selection": report.meta.get("selection"),
            "epoch_seconds_median": report.epoch_seconds_median, "seconds": round(time.perf_counter() - start),
            "report": report.to_dict()}


def progress_of(name: str, ledgers: Path) -> str:
    """How far ``name``'s runs are, from its ledger alone; for cross-validation also the mean ±
    std over the folds finished so far (each fold: its best grid point by validation accuracy,
    ties to the lower loss, and that point's two further seeds)."""
    runs = {e["label"]: e["result"] for e in RunLedger(ledgers / f"{name}.json").entries().values()}
    if name.startswith("ogbg-"):
        tests = [100 * r["test"]["rocauc"] for r in runs.values()]
        mean = f", test ROC-AUC so far {statistics.mean(tests):.2f} over {len(tests)}" if tests else ""
        return f"{name}: {len(runs)}/3 seeds{mean}"
    folds = []
    for f in range(10):
        grid = [r for label, r in runs.items() if re.fullmatch(rf"fold {f} grid \d+/\d+", label)]
        finals = [runs.get(f"fold {f} seed {s}") for s in (1, 2)]
        if len(grid) == len(REDUCED["hidden_channels,num_layers"]) and all(finals):
            best = max(grid, key=lambda r: (r["valid"]["accuracy"], -r["valid"]["loss"]))
            folds.append(100 * statistics.mean(r["test"]["accuracy"] for r in [best] + finals))
    summary = (f", accuracy over the finished folds {statistics.mean(folds):.2f} ± {statistics.pstdev(folds):.2f}"
               if folds else "")
    return f"{name}: {len(runs)}/60 runs, {len(folds)}/10 folds{summary}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=list(PAPER), help="datasets to run (default: all)")
    parser.add_argument("--grid", choices=["reduced", "errica"], default="reduced")
    parser.add_argument("--checkpoint-dir", default="runs")
    parser.add_argument("--ledger-dir", default=str(LEDGERS), help="where each dataset's ledger of finished runs is")
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--progress-only", action="store_true", help="print how far each dataset is, train nothing")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    out = Path(args.out)
    if args.progress_only:
        for name in args.only or list(PAPER):
            print(progress_of(name, Path(args.ledger_dir)))
        return
    for name in args.only or list(PAPER):
        row = run(name, args.grid, args.checkpoint_dir, Path(args.ledger_dir), not args.quiet)
        # read the file again: another dataset's run (another process) may have written it since
        rows = {r["dataset"]: r for r in (json.loads(out.read_text())["rows"] if out.exists() else [])}
        rows[name] = row
        print(f"{name}: {row['model']} {row['metric']} {row['mean']:.2f} ± {row['std']:.2f} "
              f"(paper {row['paper_mean']} ± "
              f"{row['paper_std']}; within one std: {row['within_one_std']})", flush=True)
        text = json.dumps({"benchmark": "graph_accuracy", "rows": list(rows.values())}, indent=2)
        atomic_write_text(text + "\n", out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
