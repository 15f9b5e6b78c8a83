"""The ``graphkit`` command line: argument parsing, tables, JSON and plots — no maths here."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional

import torch

from .. import datasets
from ..nn.models import MODELS
from ..tasks import NodeClassification, presets
from ..utils.memory import retain_freed_memory
from .args import add_run_arguments, add_sampling_arguments, check_outputs, checkpoint_cadence, load_model, overrides
from .embed import add_embed_commands
from .graph import add_graph_commands
from .link import add_link_commands
from .plots import plot_training_curves, write_report
from .table import format_table

DEFAULT_DATASET = "cora"
FALLBACK_DATASET = "csbm"


def _cmd_datasets(args: argparse.Namespace) -> int:
    try:
        root = datasets.data_root(args.data_root)
    except datasets.DatasetNotFoundError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    rows = []
    named = set()
    for name in datasets.names():
        c = datasets.card(name)
        named.add((c.loader_name or "").lower())
        rows.append(_card_row(c, args.data_root))
    for key in sorted(datasets.tu_datasets()):  # TU sets without a card, if present
        c = datasets.card(key)
        if key not in named and (args.all or datasets.locate(c, args.data_root) is not None):
            rows.append(_card_row(c, args.data_root))
    print(f"data root: {root if root else 'none (GRAPHKIT_DATA unset)'}; cache: {datasets.cache_root()}")
    print(format_table(["dataset", "task", "graphs", "nodes", "edges", "features", "classes", "splits", "found at"],
                       rows))
    if not args.all:
        print(f"also by name: any of the {len(datasets.tu_datasets())} TU datasets (--all lists them) and any OGB "
              "dataset (ogbn-*, ogbl-*, ogbg-*)")
    return 0


def _card_row(c, data_root) -> list:
    where = "generated" if c.synthetic else (str(datasets.locate(c, data_root) or "not found (download)"))
    return [c.name, c.task, f"{c.graphs:,}" if c.graphs else "-", f"{c.nodes:,}" if c.nodes else "-",
            f"{c.edges:,}" if c.edges else "-", c.features or "-", c.classes or "-", "/".join(c.splits), where]


def _load_dataset(args: argparse.Namespace):
    if args.dataset is not None:
        return datasets.load(args.dataset, root=args.data_root, split=args.split)
    try:
        return datasets.load(DEFAULT_DATASET, root=args.data_root, split=args.split)
    except datasets.DatasetNotFoundError as err:
        print(f"note: {err}\nnote: no --dataset given and Cora is not available: running on the synthetic "
              f"'{FALLBACK_DATASET}' graph instead (3,000 nodes, 5 classes, homophily 0.8).", file=sys.stderr)
        return datasets.load(FALLBACK_DATASET)


def _tables(path) -> set:
    from ..train import read_toml
    return set(read_toml(path))


def _cmd_train_node(args: argparse.Namespace) -> int:
    check_outputs(args)
    main_rank = True
    if args.ddp:  # one process of torchrun's: every rank trains its shard, rank 0 reports
        from ..train import distributed
        rank, world = distributed.init_from_env()
        main_rank = rank == 0
        if main_rank:
            print(f"data-parallel: {world} processes ({torch.distributed.get_backend()})", file=sys.stderr)
    data = _load_dataset(args)
    model = load_model(args.model)
    base = None
    if isinstance(model, str):  # a preset: the paper's hyperparameters and the dataset's table, if any
        table = presets.dataset_table_path(data.name)
        base = presets.node_classification(model, data.name)
        source = f"the {model} preset" + (f" + [{model}] of {table}" if table and model in _tables(table) else "")
        if main_rank:
            print(f"hyperparameters: {source}", file=sys.stderr)
    trainer = NodeClassification(model, config=overrides(args, args.model, base), runs=args.runs, seed=args.seed,
                                 splits=args.split_index, checkpoint_dir=args.checkpoint_dir,
                                 progress=not args.quiet and main_rank, **checkpoint_cadence(args))
    try:
        report = trainer.fit(data)
    finally:
        if args.ddp:
            torch.distributed.destroy_process_group()
    if not main_rank:
        return 0
    rows = [[r.split_index, r.seed, r.epochs, r.best_epoch, f"{100 * r.valid['accuracy']:.2f}",
             f"{100 * r.test['accuracy']:.2f}", f"{r.seconds:.1f}"] for r in report.runs]
    print(f"{report.model} on {report.dataset} ({report.meta['split']} split), {len(report.runs)} run(s)")
    print(format_table(["split", "seed", "epochs", "best epoch", "valid acc %", "test acc %", "seconds"], rows))
    acc = report.test["accuracy"]
    print(f"test accuracy: {100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} %")
    write_report(report, args.json, args.plot, plot_training_curves)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="graphkit", description="graph learning on one message-passing core")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("datasets", help="list the known datasets and where each is found")
    p.add_argument("--data-root", help="folder holding the raw datasets (default: $GRAPHKIT_DATA)")
    p.add_argument("--all", action="store_true", help="also every TU dataset not found locally")
    p.set_defaults(func=_cmd_datasets)

    train = sub.add_parser("train", help="train a model on a task")
    tasks = train.add_subparsers(dest="task", required=True)
    p = tasks.add_parser("node-classification", help="node classification (full-batch, or by mini-batches)",
                         formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", default=None,
                   help=f"dataset name (default: {DEFAULT_DATASET}, or the synthetic {FALLBACK_DATASET} "
                        "graph when Cora is neither found nor downloadable)")
    p.add_argument("--model", default="gcn",
                   help=f"a preset ({', '.join(sorted(MODELS))}) or FILE.py:NAME, an nn.Module or a factory "
                        "f(in_channels, num_classes) -> nn.Module defined in FILE.py")
    p.add_argument("--split", default=None, help="public | geom-gcn | full | random (default: the dataset's)")
    p.add_argument("--split-index", type=int, nargs="+", default=None,
                   help="which of the fixed splits to run (default: all, e.g. the 10 geom-gcn splits)")
    add_run_arguments(p, runs_help="seeds per split", json_help="write the report as JSON here",
                      plot_help="draw the training curves into this image file (.png/.pdf/.svg)")
    add_sampling_arguments(p)
    p.add_argument("--ddp", action="store_true",
                   help="data-parallel training, one process of torchrun's: torchrun --standalone "
                        "--nproc-per-node=N -m graphkit train node-classification ... --ddp (mini-batches: "
                        "--fanouts 15 10 --batch-size 1024)")
    p.set_defaults(func=_cmd_train_node)

    evaluate = add_embed_commands(sub)
    add_link_commands(tasks, evaluate)
    add_graph_commands(tasks)
    return parser


def main(argv: Optional[List[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    retain_freed_memory()  # the command owns the process: reuse freed activations, no page-fault churn
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
