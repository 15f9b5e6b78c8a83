"""Random search for a sheaf model's hyperparameters on a dataset's geom-gcn splits, in the space of
the authors' sweep (``config/orth_webkb_sweep.yml`` of twitter-research/neural-sheaf-diffusion):
d in {2, 3, 4}, 2-6 layers, 8/16/32 channels, weight decay log-uniform in [e^-9.2, e^-6.8], sheaf
decay in [e^-11, e^-6.8], input and inner dropout in {0, 0.1, ..., 0.9}, add_lp/add_hp, lr 0.02.

Trials are scored by the mean validation accuracy over ``--splits`` splits (the test accuracy is
recorded, never used to choose); every trial is appended to
``benchmarks/results/sweeps/<model>-<dataset>.jsonl`` so an interrupted sweep resumes, and
``--write`` stores the best trial's hyperparameters as the model's table in
``benchmarks/configs/<dataset>.toml``::

    python benchmarks/sweep_sheaf.py --dataset film --model nsd-diag --trials 30 --write
"""
from __future__ import annotations

import argparse
import json
import math
import random
import statistics
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SPACE = {"d": [2, 3, 4], "num_layers": [2, 3, 4, 5, 6], "hidden_channels": [8, 16, 32],
         "input_dropout": [round(0.1 * i, 1) for i in range(10)], "dropout": [round(0.1 * i, 1) for i in range(10)],
         "add_lp": [True, False], "add_hp": [True, False]}


def sample(rng: random.Random, epochs: int) -> dict:
    config = {k: rng.choice(v) for k, v in SPACE.items()}
    config.update(weight_decay=math.exp(rng.uniform(-9.2, -6.8)), sheaf_decay=math.exp(rng.uniform(-11.0, -6.8)),
                  lr=0.02, epochs=epochs, patience=200)
    return config


def trial(dataset: str, model: str, config: dict, splits: int, data_root) -> dict:
    from graphkit import datasets
    from graphkit.tasks import NodeClassification
    data = datasets.load(dataset, root=data_root, split="geom-gcn")
    report = NodeClassification(model, splits=list(range(splits)), config=config, progress=False).fit(data)
    return {"config": config, "val": statistics.fmean(r.valid["accuracy"] for r in report.runs),
            "test": statistics.fmean(r.test["accuracy"] for r in report.runs),
            "seconds": sum(r.seconds for r in report.runs)}


def write_config(dataset: str, model: str, best: dict, trials: int, splits: int) -> Path:
    """Replace ``[model]`` in ``benchmarks/configs/<dataset>.toml`` by the best trial's values."""
    path = ROOT / "configs" / f"{dataset}.toml"
    lines = path.read_text().splitlines() if path.exists() else []
    kept, skipping = [], False
    for line in lines:  # drop the old table of this model and the sweep's comment above it
        if line.startswith("["):
            skipping = line.strip() == f"[{model}]"
            while skipping and kept and kept[-1].startswith(f"# {model}: best of"):
                kept.pop()
        if not skipping:
            kept.append(line)
    block = [f"# {model}: best of {trials} trials of benchmarks/sweep_sheaf.py (mean validation accuracy "
             f"{100 * best['val']:.2f} over {splits} splits)", f"[{model}]"]
    for key, value in best["config"].items():
        block.append(f"{key} = {str(value).lower() if isinstance(value, bool) else repr(value)}")
    text = "\n".join([*kept, *([""] if kept and kept[-1] else []), *block]) + "\n"
    path.write_text(text)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--model", required=True, choices=["nsd-diag", "nsd-bundle", "nsd-general"])
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--splits", type=int, default=10, help="geom-gcn splits per trial (the first ones)")
    parser.add_argument("--epochs", type=int, default=500)
    parser.add_argument("--seed", type=int, default=0, help="seed of the sampler")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--write", action="store_true", help="store the best trial in benchmarks/configs")
    args = parser.parse_args()

    log = ROOT / "results" / "sweeps" / f"{args.model}-{args.dataset}.jsonl"
    log.parent.mkdir(parents=True, exist_ok=True)
    done = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    rng = random.Random(args.seed)
    configs = [sample(rng, args.epochs) for _ in range(args.trials)]
    for index, config in enumerate(configs):
        if index < len(done):  # the same sampler sequence: trials already logged are skipped
            continue
        result = {"trial": index, **trial(args.dataset, args.model, config, args.splits, args.data_root)}
        with open(log, "a") as f:
            f.write(json.dumps(result) + "\n")
        done.append(result)
        print(f"trial {index:3d}  val {100 * result['val']:6.2f}  test {100 * result['test']:6.2f}  "
              f"{result['seconds']:6.0f} s  {config}", flush=True)
    best = max(done[:args.trials], key=lambda r: r["val"])
    print(f"best: trial {best['trial']} val {100 * best['val']:.2f} test {100 * best['test']:.2f}\n{best['config']}")
    if args.write:
        print(f"wrote {write_config(args.dataset, args.model, best, args.trials, args.splits)}")


if __name__ == "__main__":
    main()
