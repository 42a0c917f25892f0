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
EMPTY = "not logged by these runs\n(a math model's held-out measures:\nthe figure math_curves)"
PANELS = {
    "loss": "training loss",
    "held_out_loss": "answer loss, held-out people (QA or task)",
    "lr": "learning rate",
    "grad_norm": "gradient norm (before clipping)",
}


def run_names(logs: pd.DataFrame) -> pd.Series:
    """Each row's run as text, from the identity columns ("variant single, regime pretrain, seed 0")."""
    identity = [c for c in logs.columns if c not in LOG_COLUMNS]
    named = logs[identity].astype(str).apply(lambda column: f"{column.name} " + column)
    return named.agg(", ".join, axis=1) if identity else pd.Series("run", logs.index)


def plot_training(logs: pd.DataFrame, outputs: list[Path]) -> None:
    """One line per model in each panel: training loss and, at each checkpoint, held-out loss (log
    scale; a knowledge training with QA has one), learning rate and gradient norm against the
    optimizer step. A run that has not logged a measure is left out of that panel only (math models'
    held-out measures are their learning curves, figure math_curves)."""
    sns.set_theme(style="whitegrid", context="paper")
    logs = logs.assign(run=run_names(logs))
    runs = sorted(logs["run"].unique())
    colors = dict(zip(runs, sns.color_palette("husl", len(runs)), strict=True))  # one color per run
    fig, axes = plt.subplots(1, len(PANELS), figsize=(4.2 * len(PANELS), 3.8))
    for (column, label), ax in zip(PANELS.items(), axes, strict=True):
        shown = logs.dropna(subset=[column]) if column in logs else logs.iloc[:0]  # e.g. no held-out set
        if shown.empty:
            ax.text(0.5, 0.5, EMPTY, transform=ax.transAxes, ha="center", fontsize=8)
        for run, part in shown.groupby("run"):
            ax.plot(
                part["step"],
                part[column],
                color=colors[run],
                label=run,
                marker="." if len(part) < 8 else None,
            )
        if column.endswith("loss") and not shown.empty:
            ax.set_yscale("log")
            for axis in (ax.yaxis.set_major_formatter, ax.yaxis.set_minor_formatter):
                axis(ticker.FormatStrFormatter("%.2g"))
        ax.set(xlabel="optimizer step", ylabel=label)
    handles = [plt.Line2D([], [], color=colors[run]) for run in runs]
    fig.legend(handles, runs, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.suptitle(f"Training of {len(runs)} model{'s' * (len(runs) > 1)}, one line each", fontsize=10)
    save_figure(fig, outputs)
