"""``graphkit embed ...`` and ``graphkit evaluate embedding``: argument parsing and printing only."""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from .. import datasets
from ..utils import atomic_save_npy, atomic_write_text
from .args import check_outputs
from .table import format_table


def _cmd_fastrp(args: argparse.Namespace) -> int:
    import torch

    from ..embed import FastRP
    check_outputs(args)
    data = datasets.load(args.dataset, root=args.data_root)
    density = args.density if args.density == "auto" else float(args.density)
    model = FastRP(dim=args.dim, weights=args.weights, normalization_strength=args.normalization_strength,
                   projection=args.projection, density=density, input_matrix=args.input_matrix,
                   normalize_powers=not args.no_normalize_powers, self_influence=args.self_influence,
                   memory_budget=args.memory_budget, seed=args.seed,
                   dtype=torch.float64 if args.float64 else torch.float32, progress=not args.quiet)
    start = time.perf_counter()
    embedding = model.fit_transform(data)
    seconds = time.perf_counter() - start
    atomic_save_npy(embedding, args.out)
    print(f"FastRP on {data.name}: {embedding.shape[0]:,} nodes x {embedding.shape[1]} dims in {seconds:.2f} s "
          f"({'two-pass, ' if model.two_pass_ else ''}density {model.density_:.4g}); wrote {args.out}")
    return 0


def _cmd_node2vec(args: argparse.Namespace) -> int:
    from ..embed import Node2Vec
    check_outputs(args)
    model = Node2Vec(dim=args.dim, walk_length=args.walk_length, walks_per_node=args.walks_per_node, p=args.p,
                     q=args.q, window=args.window, negative=args.negative, epochs=args.epochs, seed=args.seed,
                     workers=args.workers, progress=not args.quiet)
    model._check_params()  # a bad --p (inf: walks that never end) fails before the dataset is loaded
    data = datasets.load(args.dataset, root=args.data_root)
    embedding = model.fit_transform(data)
    atomic_save_npy(embedding, args.out)
    print(f"node2vec on {data.name}: {embedding.shape[0]:,} nodes x {embedding.shape[1]} dims; walks "
          f"{model.walk_seconds_:.1f} s, skip-gram {model.train_seconds_:.1f} s; wrote {args.out}")
    return 0


def _cmd_evaluate_embedding(args: argparse.Namespace) -> int:
    from ..evaluate import node_classification_f1
    path = Path(args.embedding)
    if not path.is_file():
        raise FileNotFoundError(f"embedding file not found: {path}")
    embedding = np.load(path)
    data = datasets.load(args.dataset, root=args.data_root)
    if getattr(data, "y", None) is None:
        raise ValueError(f"dataset {data.name!r} has no node labels to evaluate an embedding on")
    start = time.perf_counter()
    report = node_classification_f1(embedding, data.y, train_ratios=args.train_ratio, repeats=args.repeats,
                                    seed=args.seed, C=args.C, intercept=args.intercept,
                                    standardize=args.standardize, solver=args.solver, n_jobs=args.jobs,
                                    progress=not args.quiet)
    seconds = time.perf_counter() - start
    rows = [[f"{100 * r['train_ratio']:g} %", f"{r['micro_f1']['mean']:.4f} ± {r['micro_f1']['std']:.4f}",
             f"{r['macro_f1']['mean']:.4f} ± {r['macro_f1']['std']:.4f}"] for r in report["results"]]
    print(f"{path.name} on {data.name}: one-vs-rest logistic regression (C = {args.C}, {args.intercept} intercept"
          f"{', standardised columns' if args.standardize else ''}), {args.repeats} shuffles, {seconds:.1f} s")
    print(format_table(["train ratio", "Micro-F1", "Macro-F1"], rows))
    if args.json:
        report.update(dataset=data.name, embedding=str(path), seconds=seconds)
        atomic_write_text(json.dumps(report, indent=2) + "\n", args.json)
        print(f"wrote {args.json}")
    return 0


def add_embed_commands(sub):
    """Register ``embed`` and ``evaluate`` on the top-level subparsers; returns the ``evaluate``
    subparsers for other tasks' evaluations."""
    embed = sub.add_parser("embed", help="compute node embeddings")
    methods = embed.add_subparsers(dest="method", required=True)
    p = methods.add_parser("fastrp", help="FastRP (Chen et al., CIKM 2019)",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--weights", type=float, nargs="+", default=[0.0, 1.0, 1.0], help="weight of each power")
    p.add_argument("--normalization-strength", type=float, default=0.0, help="beta of the degree re-weighting")
    p.add_argument("--projection", choices=["sparse", "gaussian"], default="sparse")
    p.add_argument("--density", default="auto", help="'auto' (1/sqrt(N)) or a number")
    p.add_argument("--input-matrix", choices=["transition", "adjacency"], default="transition")
    p.add_argument("--no-normalize-powers", action="store_true")
    p.add_argument("--self-influence", type=float, default=0.0)
    p.add_argument("--memory-budget", default=None, help="e.g. 2GiB: process column blocks to stay within it")
    p.add_argument("--float64", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="embedding file (.npy), written atomically")
    p.add_argument("--data-root", help="folder holding the raw datasets (default: $GRAPHKIT_DATA)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_fastrp)

    p = methods.add_parser("node2vec", help="node2vec (Grover & Leskovec, KDD 2016)",
                           formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--walk-length", type=int, default=80, help="nodes per walk")
    p.add_argument("--walks-per-node", type=int, default=10)
    p.add_argument("--p", type=float, default=1.0, help="return parameter, in [0.01, 100]")
    p.add_argument("--q", type=float, default=1.0, help="in-out parameter, in [0.01, 100]")
    p.add_argument("--window", type=int, default=10)
    p.add_argument("--negative", type=int, default=5)
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--workers", type=int, default=None, help="skip-gram threads (1: reproducible, -1: all cores)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="embedding file (.npy), written atomically")
    p.add_argument("--data-root", help="folder holding the raw datasets (default: $GRAPHKIT_DATA)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_node2vec)

    evaluate = sub.add_parser("evaluate", help="evaluate embeddings or scores made anywhere")
    what = evaluate.add_subparsers(dest="what", required=True)
    p = what.add_parser("embedding", help="node classification F1 (DeepWalk protocol)",
                        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--embedding", required=True, help=".npy file [N, d]")
    p.add_argument("--train-ratio", type=float, nargs="+", default=[0.1, 0.5, 0.9])
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--C", type=float, default=1.0, help="inverse regularisation strength")
    p.add_argument("--intercept", choices=["penalized", "free"], default="penalized",
                   help="penalized: liblinear's objective (DeepWalk/node2vec/FastRP scoring); free: lbfgs's")
    p.add_argument("--standardize", action="store_true",
                   help="centre and scale the embedding columns first (the FastRP authors' set-up, with --C 0.1)")
    p.add_argument("--solver", choices=["torch", "sklearn"], default="torch")
    p.add_argument("--jobs", type=int, default=None, help="cores for --solver sklearn")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="write the results as JSON here")
    p.add_argument("--data-root", help="folder holding the raw datasets (default: $GRAPHKIT_DATA)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=_cmd_evaluate_embedding)
    return what
