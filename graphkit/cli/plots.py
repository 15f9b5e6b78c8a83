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


def plot_link_curves(report, path: str) -> Path:
    """Training loss per epoch and the validation metric per evaluation, one line per run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_val) = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("tab10")
    every = report.config.get("eval_every", 1)
    for i, run in enumerate(report.runs):
        color = cmap(i % 10)
        ax_loss.plot(range(1, len(run.history["loss"]) + 1), run.history["loss"], color=color, lw=1,
                     label=f"seed {run.seed}")
        ax_val.plot([every * (k + 1) for k in range(len(run.history["valid"]))], run.history["valid"], color=color,
                    lw=1, label=f"seed {run.seed}")
        ax_val.axvline(run.best_epoch, color=color, lw=0.6, ls=":")
    ax_loss.set(xlabel="epoch", ylabel="binary cross-entropy", title="training loss")
    ax_val.set(xlabel="epoch", ylabel=report.metric, title=f"validation {report.metric} (dotted: selected epoch)")
    if len(report.runs) <= 10:
        ax_val.legend(fontsize=7, loc="lower right")
    test = report.test[report.metric]
    fig.suptitle(f"{report.model} + {report.predictor} on {report.dataset}: test {report.metric} "
                 f"{100 * test['mean']:.2f} ± {100 * test['std']:.2f} %")
    fig.tight_layout()
    return _save(fig, path)


def plot_training_curves(report, path: str) -> Path:
    """Train/validation loss and validation accuracy per epoch, one line per run."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    cmap = plt.get_cmap("tab10")
    for i, run in enumerate(report.runs):
        color = cmap(i % 10)
        label = f"split {run.split_index} seed {run.seed}"
        epochs = range(1, len(run.history.get("train_loss", [])) + 1)
        ax_loss.plot(epochs, run.history["train_loss"], color=color, lw=1, label=f"{label} train")
        ax_loss.plot(epochs, run.history["val_loss"], color=color, lw=1, ls="--")
        ax_acc.plot(epochs, run.history["val_accuracy"], color=color, lw=1, label=label)
        ax_acc.axvline(run.best_epoch, color=color, lw=0.6, ls=":")
    ax_loss.set(xlabel="epoch", ylabel="cross-entropy", title="loss (solid: train, dashed: validation)")
    ax_acc.set(xlabel="epoch", ylabel="accuracy", title="validation accuracy (dotted: selected epoch)")
    if len(report.runs) <= 10:
        ax_acc.legend(fontsize=7, loc="lower right")
    acc = report.test_accuracy
    fig.suptitle(f"{report.model} on {report.dataset} ({report.split}): test accuracy "
                 f"{100 * acc['mean']:.2f} ± {100 * acc['std']:.2f} %")
    fig.tight_layout()
    return _save(fig, path)
