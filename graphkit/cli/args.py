"""Command-line options shared by the ``graphkit train`` tasks."""
from __future__ import annotations

import argparse


def add_run_arguments(p: argparse.ArgumentParser, runs_help: str, json_help: str, plot_help: str) -> None:
    """``--runs --seed --epochs --config --json --plot --checkpoint-dir --data-root --quiet``."""
    p.add_argument("--runs", type=int, default=1, help=runs_help)
    p.add_argument("--seed", type=int, default=0, help="first seed")
    p.add_argument("--epochs", type=int, default=None, help="override the preset's epoch count")
    p.add_argument("--config", help="TOML file of hyperparameter overrides")
    p.add_argument("--json", help=json_help)
    p.add_argument("--plot", help=plot_help)
    p.add_argument("--checkpoint-dir", help="checkpoint every run here and resume from it")
    p.add_argument("--data-root", help="folder holding the raw datasets (default: $GRAPHKIT_DATA)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
