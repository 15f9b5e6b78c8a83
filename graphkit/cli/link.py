"""``graphkit train link-prediction`` and ``graphkit evaluate link-prediction``: parsing and
printing only."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from .. import datasets
from ..nn.models import MODELS
from ..utils import atomic_write_text
from .args import add_run_arguments, add_sampling_arguments, check_outputs, checkpoint_cadence, load_model, overrides
from .plots import plot_training_curves, write_report
from .table import format_table


def _cmd_train_link(args: argparse.Namespace) -> int:
    from ..tasks import LinkPrediction
    check_outputs(args)
    data = datasets.load(args.dataset, root=args.data_root)
    report = LinkPrediction(load_model(args.model), load_model(args.predictor),
                            config=overrides(args, args.predictor), runs=args.runs, seed=args.seed,
                            checkpoint_dir=args.checkpoint_dir, progress=not args.quiet,
                            runs_from=args.runs_from, **checkpoint_cadence(args)).fit(data)
    metric = report.metric
    rows = [[r.seed, r.epochs, r.best_epoch, f"{100 * r.valid[metric]:.2f}", f"{100 * r.test[metric]:.2f}",
             f"{r.seconds_per_epoch:.2f}", f"{r.seconds:.0f}"] for r in report.runs]
    print(f"{report.model} + {report.meta['predictor']} on {report.dataset}, {len(report.runs)} run(s)")
    print(format_table(["seed", "epochs", "best epoch", f"valid {metric} %", f"test {metric} %", "s / epoch",
                        "seconds"], rows))
    test = report.test[metric]
    print(f"test {metric}: {100 * test['mean']:.2f} ± {100 * test['std']:.2f} %")
    write_report(report, args.json, args.plot, plot_training_curves)
    return 0


def _load_scores(path: Path):
    if not path.is_file():
        raise FileNotFoundError(f"scores file not found: {path}")
    with np.load(path) as scores:
        missing = {"pos", "neg"} - set(scores.files)
        if missing:
            raise ValueError(f"{path} must hold arrays 'pos' and 'neg' (np.savez), missing {sorted(missing)}")
        return scores["pos"], scores["neg"]


def _cmd_evaluate_link(args: argparse.Namespace) -> int:
    from ..evaluate import link_prediction
    data = datasets.load(args.dataset, root=args.data_root)
    split_edge = getattr(data, "split_edge", None)
    if split_edge is None:
        raise ValueError(f"dataset {args.dataset!r} has no official link split, so scores cannot be matched to "
                         "pairs: score your own pairs with graphkit.evaluate.link_prediction(pos, neg)")
    pos, neg = _load_scores(Path(args.scores))
    expected_pos = split_edge[args.part]["edge"].shape[0]
    expected_neg = split_edge[args.part]["edge_neg"].shape[0] if "edge_neg" in split_edge[args.part] else None
    if pos.shape[0] != expected_pos or (expected_neg is not None and neg.shape[0] != expected_neg):
        raise ValueError(f"{args.dataset} {args.part} has {expected_pos} positive and {expected_neg} negative pairs; "
                         f"the scores file has {pos.shape[0]} and {neg.shape[0]}")
    result = link_prediction(pos, neg, args.metrics, dataset=args.dataset)
    print(format_table(["metric", "value %"], [[k, f"{100 * v:.2f}"] for k, v in result.items()]))
    if args.json:
        atomic_write_text(json.dumps({"dataset": args.dataset, "part": args.part, "scores": args.scores,
                                      "metrics": result}, indent=2) + "\n", args.json)
        print(f"wrote {args.json}")
    return 0


def add_link_commands(train_tasks, evaluate_what) -> None:
    """Register ``train link-prediction`` and ``evaluate link-prediction``."""
    from ..tasks.link_prediction import PREDICTORS
    p = train_tasks.add_parser("link-prediction", help="link prediction (GAE/MLP/NCN/NCNC heads)",
                               formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", required=True, help="ogbl-* (official split) or any graph (RandomLinkSplit 85/5/10)")
    p.add_argument("--model", default="sage",
                   help=f"encoder: a preset ({', '.join(sorted(MODELS))}) or FILE.py:NAME, an nn.Module or a "
                        "factory f(in_channels, hidden_channels) -> nn.Module defined in FILE.py")
    p.add_argument("--predictor", default="mlp",
                   help=f"predictor head: {', '.join(PREDICTORS)} or FILE.py:NAME (an nn.Module head(h, adj, "
                        "pairs) -> logits, or a factory f(hidden_channels, 1))")
    add_run_arguments(p, runs_help="runs (seeds seed, seed + 1, ...)",
                      json_help="write the report (per-run valid/test metrics, mean ± std) here",
                      plot_help="draw loss and validation curves into this image file")
    p.add_argument("--runs-from", nargs="+", default=[], metavar="JSON",
                   help="reports (--json) of earlier invocations, e.g. one seed each from other machines: "
                        "their seeds are read from them, not trained (same model, predictor, dataset, config)")
    add_sampling_arguments(p)
    p.set_defaults(func=_cmd_train_link)

    p = evaluate_what.add_parser("link-prediction", help="Hits@K / MRR / AUC / AP of scores made elsewhere",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", required=True, help="a dataset with an official split (ogbl-*)")
    p.add_argument("--scores", required=True, help=".npz with 'pos' [P] and 'neg' [Q] (or [P, K]) scores")
    p.add_argument("--part", choices=["valid", "test"], default="test")
    p.add_argument("--metrics", nargs="+", default=["hits@20", "hits@50", "hits@100", "mrr", "auc", "ap"])
    p.add_argument("--json", help="write the metrics as JSON here")
    p.add_argument("--data-root", help="folder holding the raw datasets (default: $GRAPHKIT_DATA)")
    p.set_defaults(func=_cmd_evaluate_link)
