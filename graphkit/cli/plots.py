"""Training-curve plots (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path


def write_report(report, json_path, plot_path, plot) -> None:
    """Write ``report`` as JSON (atomically) and draw it with ``plot(report, path)``, as asked."""
    from ..utils import atomic_write_text
    if json_path:
        atomic_write_text(report.to_json() + "\n", json_path)
        print(f"wrote {json_path}")
    if plot_path:
        plot(report, plot_path)
        print(f"wrote {plot_path}")


def _save(fig, path: str) -> Path:
    import matplotlib.pyplot as plt
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(out)
    return out


def plot_training_curves(report, path: str) -> Path:
    """Any task's report: the training loss per epoch (and the validation loss, dashed, where the
    task reports one) and the selecting validation metric per evaluation, one colour per run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("tab10")
    every, metric = report.config.get("eval_every", 1), report.metric
    for i, run in enumerate(report.runs):
        color = cmap(i % 10)
        label = f"seed {run.seed}" if run.split_index is None else f"split {run.split_index} seed {run.seed}"
        loss = run.history.get("loss", [])
        ax_loss.plot(range(1, len(loss) + 1), loss, color=color, lw=1, label=label)
        if metric != "loss" and "valid_loss" in run.history:
            ax_loss.plot([every * (k + 1) for k in range(len(run.history["valid_loss"]))], run.history["valid_loss"],
                         color=color, lw=1, ls="--")
        values = run.history.get(f"valid_{metric}", [])
        ax_val.plot([every * (k + 1) for k in range(len(values))], values, color=color, lw=1, label=label)
        ax_val.axvline(run.best_epoch, color=color, lw=0.6, ls=":")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="training loss (dashed: validation)")
    ax_val.set(xlabel="epoch", ylabel=metric, title=f"validation {metric} (dotted: selected epoch)")
    if len(report.runs) <= 10:
        ax_val.legend(fontsize=7, loc="best")
    test = report.test.get(metric)
    what = " + ".join(str(report.meta[k]) for k in ("model", "predictor") if k in report.meta)
    figure = "" if test is None else f": test {metric} {100 * test['mean']:.2f} ± {100 * test['std']:.2f} %"
    fig.suptitle(f"{what} on {report.dataset}{figure}")
    fig.tight_layout()
    return _save(fig, path)
