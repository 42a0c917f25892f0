"""Figures of the math domain (Part 2.1): accuracy by op, and V-probe accuracy per task."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from physlm.paper import MATH_ACCURACY_IN_DISTRIBUTION
from physlm.plots.save import save_figure

TASK_LABELS = {  # in the order of physlm.vprobe.TASKS (not imported: a figure needs no torch)
    "nece": "nece(A)\nend of question",
    "dep": "dep(A, B)\nend of problem",
    "known": "known(A)\nsentence starts",
    "value": "value(A)\nsentence starts",
    "can_next": "can_next(A)\nsentence starts",
    "nece_next": "nece_next(A)\nsentence starts",
}


def plot_accuracy_by_op(accuracy: pd.DataFrame, outputs: list[Path]) -> None:
    """Share of held-out problems solved (checker: every step right, the answer right) and of shortest
    solutions, per op; the shaded side is out of distribution (more operations than any training
    problem); mean over seeds with sd."""
    stats = (
        accuracy.groupby(["op", "in_distribution"])[["accuracy", "shortest"]]
        .agg(["mean", "std"])
        .reset_index()
    )
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for column, marker, label in (("accuracy", "o", "correct"), ("shortest", "s", "correct and shortest")):
        ax.errorbar(
            stats["op"],
            stats[(column, "mean")],
            yerr=stats[(column, "std")].fillna(0),
            marker=marker,
            capsize=3,
            label=label,
        )
    beyond = stats.loc[~stats["in_distribution"], "op"]
    if len(beyond):
        ax.axvspan(
            beyond.min() - 0.5, beyond.max() + 0.5, color="grey", alpha=0.15, label="out of distribution"
        )
    ax.axhline(
        MATH_ACCURACY_IN_DISTRIBUTION,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"paper, in distribution (iGSM-med, op <= 15): {MATH_ACCURACY_IN_DISTRIBUTION:.1%}",
    )
    ax.set(xlabel="operations in the solution (op)", ylabel="share of held-out problems", ylim=(0, 1.05))
    ax.set_xticks(sorted(stats["op"].unique()))
    n_seeds = accuracy["seed"].nunique()
    ax.set_title(
        "Part 2.1: held-out problems solved, by number of operations"
        + (f" (sd over {n_seeds} seeds)" if n_seeds > 1 else ""),
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2, frameon=False)
    save_figure(fig, outputs)


def plot_vprobes(vprobes: pd.DataFrame, outputs: list[Path]) -> None:
    """Per V-probe task: held-out accuracy of the probe on the trained model and on a random-init
    model of the same shape, and the majority class (black dash); mean over seeds with sd."""
    tasks = [t for t in TASK_LABELS if t in set(vprobes["task"])]
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    sns.barplot(
        data=vprobes,
        x="task",
        y="accuracy",
        hue="model",
        hue_order=["trained", "random init"],
        order=tasks,
        errorbar="sd",
        ax=ax,
    )
    majority = vprobes.groupby("task")["majority"].mean()
    for i, task in enumerate(tasks):
        ax.hlines(
            majority[task],
            i - 0.4,
            i + 0.4,
            color="black",
            linewidth=2,
            label="majority class" if i == 0 else None,
        )
        for model, shift in (("trained", -0.2), ("random init", 0.2)):
            value = vprobes[(vprobes.task == task) & (vprobes.model == model)]["accuracy"].mean()
            ax.text(i + shift, value + 0.02, f"{value:.2f}", ha="center", fontsize=6)
    ax.set_xticks(range(len(tasks)), [TASK_LABELS[t] for t in tasks], fontsize=7)
    ax.set(xlabel="", ylabel="held-out probe accuracy", ylim=(0, 1.08))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=3, frameon=False)
    ax.set_title(
        "Finding 4 (Part 2.1): what a frozen math model knows about each quantity, read by V-probes",
        fontsize=9,
    )
    save_figure(fig, outputs)
