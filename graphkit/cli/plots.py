"""Training-curve plots (matplotlib, headless)."""
from __future__ import annotations

from pathlib import Path


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
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.stem}.tmp{out.suffix}")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    tmp.replace(out)
    return out
