"""``graphkit train graph-classification`` and ``graphkit train graph-regression``: parsing and
printing only."""
from __future__ import annotations

import argparse
import sys

from .. import datasets
from ..nn.graph_models import GRAPH_MODELS
from ..train import read_toml
from .args import add_run_arguments, check_outputs, checkpoint_cadence, load_model, overrides
from .plots import plot_training_curves, write_report
from .table import format_table


def _grid(args: argparse.Namespace):
    """``--grid FILE`` (a TOML table of lists, or ``[[point]]`` tables), ``--no-grid`` (none), else
    the preset's."""
    if args.grid and args.no_grid:
        raise ValueError("--grid and --no-grid contradict each other; give one")
    if args.no_grid:
        return [{}]
    if args.grid is None:
        return None
    table = read_toml(args.grid)
    if "point" in table and isinstance(table["point"], list):
        return table["point"]
    return table


def _cmd_train_graph(args: argparse.Namespace) -> int:
    from ..tasks import GraphPrediction
    check_outputs(args)
    data = datasets.load(args.dataset, root=args.data_root, node_features=args.node_features)
    regression = args.task == "graph-regression"
    if regression != (data.kind == "regression"):
        want = "graph-regression" if data.kind == "regression" else "graph-classification"
        raise ValueError(f"dataset {data.name!r} has {data.kind} targets: use `graphkit train {want}`")
    if (args.grid or args.no_grid) and (args.protocol == "official" or
                                        (args.protocol == "auto" and data.split_idx is not None)):
        raise ValueError(f"--grid/--no-grid choose the model selection of the cross-validation; {data.name!r} runs "
                         "its official split (give --protocol cv to cross-validate it)")
    model = load_model(args.model)
    trainer = GraphPrediction(model, config=overrides(args, args.model), grid=_grid(args), protocol=args.protocol,
                              folds=args.folds, runs=args.runs, seed=args.seed, checkpoint_dir=args.checkpoint_dir,
                              progress=not args.quiet, **checkpoint_cadence(args))
    report = trainer.fit(data)
    metric = data.metric
    scale, unit = (1, "") if metric == "mae" else (100, " %")
    rows = [[r.split_index if report.meta["protocol"] == "cv" else "-", r.seed, r.epochs, r.best_epoch,
             f"{scale * r.valid[metric]:.2f}", f"{scale * r.test[metric]:.2f}", f"{r.seconds_per_epoch:.2f}",
             f"{r.seconds:.0f}"] for r in report.runs]
    print(f"{report.model} on {report.dataset} ({report.meta['split']}), {len(report.runs)} run(s)")
    print(format_table(["fold", "seed", "epochs", "best epoch", f"valid {metric}{unit}", f"test {metric}{unit}",
                        "s / epoch", "seconds"], rows))
    if report.meta["protocol"] == "cv":
        for chosen in report.meta["selection"]:
            print(f"fold {chosen['fold']}: grid point {chosen['grid_index']} {chosen['config']}", file=sys.stderr)
        summary, over = report.folds[metric], f"the {args.folds} folds (each the mean of its runs)"
    else:
        summary, over = report.test[metric], f"{len(report.runs)} run(s)"
    print(f"test {metric}: {scale * summary['mean']:.2f} ± {scale * summary['std']:.2f}{unit} over {over}")
    write_report(report, args.json, args.plot, plot_training_curves)
    return 0


def add_graph_commands(train_tasks) -> None:
    """Register ``train graph-classification`` and ``train graph-regression``."""
    for name, what in (("graph-classification", "one class (or binary labels) per graph"),
                       ("graph-regression", "one or more real targets per graph")):
        p = train_tasks.add_parser(name, help=f"graph-level prediction: {what}",
                                   formatter_class=argparse.ArgumentDefaultsHelpFormatter)
        p.add_argument("--dataset", required=True,
                       help="a dataset of many graphs: a TU name (proteins, nci1, imdb-binary, ENZYMES, ...) or "
                            "ogbg-* (official scaffold split)")
        p.add_argument("--model", default="gin",
                       help=f"a preset ({', '.join(sorted(GRAPH_MODELS))}) or FILE.py:NAME, an nn.Module "
                            "model(x, adj, batch[, edge_attr]) -> [B, out] or a factory f(in_channels, out_channels)")
        p.add_argument("--protocol", choices=["auto", "official", "cv"], default="auto",
                       help="official split, or Errica et al.'s stratified cross-validation (auto: official when "
                            "the dataset has a split)")
        p.add_argument("--folds", type=int, default=10, help="outer folds of the cross-validation")
        p.add_argument("--grid", help="TOML file of the model selection: lists per key (every combination) or "
                                      "[[point]] tables (default: the preset's grid)")
        p.add_argument("--no-grid", action="store_true", help="no model selection: the preset (and --set) only")
        p.add_argument("--node-features", choices=list(datasets.NODE_FEATURES), default=None,
                       help="features of featureless graphs (IMDB-BINARY, ...; default: the dataset card's)")
        add_run_arguments(p, runs_help="seeds (official split) or final runs per fold (cv; default 3)",
                          json_help="write the report (runs, folds, selection) as JSON here",
                          plot_help="draw the training curves into this image file")
        p.set_defaults(func=_cmd_train_graph, runs=None)
