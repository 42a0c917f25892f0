"""Figure of a domain's training: every model's loss, learning rate and gradient norm by step."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib import ticker

from physlm.engine.figures import save_figure

# The columns a training log has; every other column of the collected table names the run.
LOG_COLUMNS = {"step", "loss", "lr", "grad_norm", "tokens_per_s", "model_tflops_per_s", "held_out_loss"}
WHY_NO_HELD_OUT = (
    "\n(a capacity model is measured on its own training data;\n"
    "a math model's held-out measures: the figure math_curves)"
)
PANELS = {
    "loss": "training loss",
    "held_out_loss": "held-out answer loss (QA or task)",
    "lr": "learning rate",
    "grad_norm": "gradient norm (before clipping)",
}


class _PlainMinorLabels(ticker.LogFormatter):
    """Matplotlib's choice of which minor ticks to label, written as plain numbers (0.3, not 3e-01)."""

    def __call__(self, x, pos=None):
        return f"{x:.2g}" if super().__call__(x, pos) else ""


def run_names(logs: pd.DataFrame) -> pd.Series:
    """Each row's model as text, from the identity columns but the seed ("variant single, regime
    pretrain"): the seeds of one model share a colour and a legend entry."""
    identity = [c for c in logs.columns if c not in LOG_COLUMNS | {"seed"}]
    named = logs[identity].astype(str).apply(lambda column: f"{column.name} " + column)
    return named.agg(", ".join, axis=1) if identity else pd.Series("run", logs.index)


def plot_training(logs: pd.DataFrame, outputs: list[Path]) -> None:
    """One line per model and seed in each panel: training loss and, at each checkpoint, held-out
    loss (log scale; a knowledge training with QA has one), learning rate and gradient norm against
    the optimizer step. A run that has not logged a measure is left out of that panel only (math
    models' held-out measures are their learning curves, figure math_curves)."""
    sns.set_theme(style="whitegrid", context="paper")
    seeds = logs["seed"] if "seed" in logs else pd.Series(0, logs.index)
    logs = logs.assign(run=run_names(logs), seed=seeds)
    runs = sorted(logs["run"].unique())
    colors = dict(zip(runs, sns.color_palette("husl", len(runs)), strict=True))  # one color per model
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.4))
    for (column, label), ax in zip(PANELS.items(), axes.flat, strict=True):
        shown = logs.dropna(subset=[column]) if column in logs else logs.iloc[:0]  # e.g. no held-out set
        if shown.empty:
            why = WHY_NO_HELD_OUT if column == "held_out_loss" else ""
            ax.text(
                0.5, 0.5, "not logged by these runs" + why, transform=ax.transAxes, ha="center", fontsize=8
            )
        for (run, _), part in shown.groupby(["run", "seed"]):
            ax.plot(part["step"], part[column], color=colors[run], marker="." if len(part) < 8 else None)
        if column.endswith("loss") and not shown.empty:
            ax.set_yscale("log")
            # Plain numbers; minor ticks are labelled only where the axis spans about a decade or less.
            ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2g"))
            ax.yaxis.set_minor_formatter(_PlainMinorLabels(labelOnlyBase=False, minor_thresholds=(1, 0.4)))
        ax.set(xlabel="optimizer step", ylabel=label)
    handles = [plt.Line2D([], [], color=colors[run]) for run in runs]
    fig.legend(
        handles, runs, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=2, frameon=False
    )
    n_seeds = logs["seed"].nunique()
    fig.suptitle(
        f"Training of {len(runs)} model{'s' * (len(runs) > 1)}"
        + (f" x {n_seeds} seeds, one line per seed" if n_seeds > 1 else ", one line each"),
        fontsize=10,
    )
    save_figure(fig, outputs)
