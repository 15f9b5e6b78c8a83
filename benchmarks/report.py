"""Render the README's result tables from the JSON under ``benchmarks/results/`` (never typed by hand).

    python benchmarks/report.py          # rewrites the marked sections of README.md
"""
from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def markdown(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def accuracy_table() -> str:
    data = json.loads((RESULTS / "accuracy.json").read_text())
    rows = [[r["dataset"], r["split"], r["model"], r["runs"] if r["split"] == "public" else f"{r['runs']} splits",
             f"{r['test_accuracy_mean']:.2f} ± {r['test_accuracy_std']:.2f}", r["paper"] or "-", f"{r['seconds']:.0f}"]
            for r in data["rows"]]
    return markdown(["dataset", "split", "model", "runs", "test accuracy %", "paper", "seconds"], rows) + \
        f"\n\nProduced by `{data['command']}` (`benchmarks/results/accuracy.json`)."


def models_table() -> str:
    data = json.loads((RESULTS / "models.json").read_text())
    rows = [[r["dataset"], r["model"], r["impl"], f"{1000 * r['median_s']:.1f}", f"{r['speedup_vs_pyg']:.2f}x",
             f"{r['peak_extra_mib']:.0f}",
             "-" if r["memory_ratio_vs_pyg"] is None else f"{r['memory_ratio_vs_pyg']:.2f}x"] for r in data["rows"]]
    return markdown(["graph", "model", "implementation", "ms / epoch", "speed-up vs PyG", "peak extra MiB",
                     "memory vs PyG"], rows) + \
        (f"\n\nProduced by `python benchmarks/bench_models.py` (`benchmarks/results/models.json`): "
         f"torch {data['torch']}, PyG {data['torch_geometric']}, {data['threads']} threads, {data['machine']}.")


def aggregation_table() -> str:
    data = json.loads((RESULTS / "aggregation.json").read_text())

    def fmt(value, pattern):
        return "-" if value is None else pattern.format(value)
    rows = [[r["graph"], r["channels"], r["layer"], r["impl"], f"{r['median_ms']:.1f}",
             fmt(r.get("speedup_vs_pyg_fastest"), "{:.2f}x"), fmt(r.get("peak_extra_mib"), "{:.0f}"),
             fmt(r.get("memory_vs_pyg_fastest"), "{:.2f}x")]
            for r in data["rows"] if r["impl"].startswith(("graphkit", "pyg"))]
    return markdown(["graph", "channels", "layer", "implementation", "ms (fwd+bwd)", "speed-up vs PyG fastest",
                     "peak extra MiB", "memory vs PyG fastest"], rows) + \
        (f"\n\nProduced by `python benchmarks/bench_aggregation.py` (`benchmarks/results/aggregation.json`, which "
         f"also has the bare torch.sparse.mm and torch-scatter aggregations): torch {data['torch']}, "
         f"PyG {data['torch_geometric']}, torch-sparse {data.get('torch_sparse')}, {data['threads']} threads, "
         f"{data['machine']}. `gat` is one head of 64 channels, `gat8` eight heads of 8.")


def main() -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    for name, render in (("accuracy", accuracy_table), ("models", models_table), ("aggregation", aggregation_table)):
        if not (RESULTS / f"{name}.json").exists():
            continue
        pattern = re.compile(rf"(<!-- results:{name} -->\n)(?:.*?\n)?(<!-- /results:{name} -->)", re.S)
        text = pattern.sub(lambda m: m.group(1) + render() + "\n" + m.group(2), text)
    readme.write_text(text)
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
