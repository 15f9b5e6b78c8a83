"""Command-line options shared by the ``graphkit train`` tasks, the one rule that turns them into
a config, and user models given as ``file.py:name``."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any, Dict, Optional

from ..train import layer, parse_assignments, read_toml


def add_run_arguments(p: argparse.ArgumentParser, runs_help: str, json_help: str, plot_help: str) -> None:
    """``--runs --seed --epochs --config --set --json --plot --checkpoint-dir --data-root --quiet``."""
    p.add_argument("--runs", type=int, default=1, help=runs_help)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epoch count")
    p.add_argument("--config", help="TOML file of hyperparameter overrides (flat keys, or a table named after "
                                    "the model or predictor)")
    p.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE",
                   help="hyperparameter overrides after --config, e.g. --set lr=0.005 hidden_channels=64 "
                        "patience=none (TOML values; none = unset)")
    p.add_argument("--json", help=json_help)
    p.add_argument("--plot", help=plot_help)
    p.add_argument("--checkpoint-dir", help="checkpoint every run here and resume from it")
    p.add_argument("--checkpoint-every", type=int, default=None,
                   help="epochs between checkpoints (default: the task's; also after any epoch ending a minute "
                        "or more after the last write)")
    p.add_argument("--data-root", help="folder holding the raw datasets (default: $GRAPHKIT_DATA)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def add_sampling_arguments(p: argparse.ArgumentParser) -> None:
    """``--fanouts --batch-size --num-workers``: mini-batch training on sampled neighbourhoods."""
    p.add_argument("--fanouts", type=int, nargs="+", default=None, metavar="N",
                   help="train by mini-batches of sampled neighbourhoods: neighbours per node at each hop from the "
                        "seeds, one hop per layer (-1: all), e.g. --fanouts 15 10")
    p.add_argument("--batch-size", type=int, default=None, help="seeds (or training edges) per mini-batch")
    p.add_argument("--num-workers", type=int, default=None, help="processes that sample the mini-batches")


def overrides(args: argparse.Namespace, table: str, base: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The one merge rule of every ``train`` command: ``base`` (a dataset's preset table), then
    the ``--config`` file (its flat keys, then its ``[table]``), then ``--set``, then the flags
    (``--epochs``, ``--fanouts``, ``--batch-size``, ``--num-workers``)."""
    from_file: Dict[str, Any] = {}
    if args.config:
        loaded = read_toml(args.config)
        from_file = layer({k: v for k, v in loaded.items() if not isinstance(v, dict)}, loaded.get(table))
        from_file = {k: (None if v == "none" else v) for k, v in from_file.items()}
    flags = {key: getattr(args, key, None) for key in ("epochs", "fanouts", "batch_size", "num_workers")}
    return layer(base, from_file, parse_assignments(args.set), {k: v for k, v in flags.items() if v is not None})


_PLOT_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg", ".eps", ".ps", ".tif", ".tiff", ".webp")


def check_outputs(args: argparse.Namespace) -> None:
    """Refuse output paths that cannot be written before any training starts: ``--json``,
    ``--plot`` or ``--out`` naming a folder, a plot format matplotlib does not write, a
    ``--checkpoint-dir`` that is a file."""
    for flag in ("json", "plot", "out"):
        value = getattr(args, flag, None)
        if value and Path(value).is_dir():
            raise ValueError(f"--{flag} {value!r} is a folder; give a file name")
    plot = getattr(args, "plot", None)
    if plot and Path(plot).suffix.lower() not in _PLOT_SUFFIXES:
        raise ValueError(f"--plot {plot!r}: unknown image format; use one of {', '.join(_PLOT_SUFFIXES)}")
    folder = getattr(args, "checkpoint_dir", None)
    if folder and Path(folder).exists() and not Path(folder).is_dir():
        raise ValueError(f"--checkpoint-dir {folder!r} is a file, not a folder")


def checkpoint_cadence(args: argparse.Namespace) -> Dict[str, Any]:
    """``--checkpoint-every`` as an estimator keyword, when given."""
    return {} if args.checkpoint_every is None else {"checkpoint_every": args.checkpoint_every}


def load_model(spec: str):
    """``spec`` as given: a preset name, or ``path/to/file.py:name`` naming an ``nn.Module``
    instance or a factory ``f(in_channels, out_channels) -> nn.Module`` in that file."""
    if ":" not in spec or not spec.split(":", 1)[0].endswith(".py"):
        return spec
    path, name = spec.rsplit(":", 1)
    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"model file {path!r} does not exist")
    module_name = f"graphkit_user_{file.stem}"
    spec_obj = importlib.util.spec_from_file_location(module_name, file)
    module = importlib.util.module_from_spec(spec_obj)
    sys.modules[module_name] = module
    spec_obj.loader.exec_module(module)
    if not hasattr(module, name):
        raise ValueError(f"{path} defines no {name!r}")
    return getattr(module, name)
