"""Figure for finding 5: knowledge manipulation accuracy per task, on held-out people."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from physlm.engine.figures import save_figure
from physlm.knowledge.manipulation import TASKS
from physlm.knowledge.paper import MANIPULATION_ACCURACY


def plot_manipulation(metrics: pd.DataFrame, outputs: list[Path]) -> None:
    """Bars: held-out accuracy per task and pretraining variant (mean over seeds, sd as error bar).
    Black ticks: chance (the best constant answer); dots: QA-train accuracy (did fine-tuning fit?);
    diamonds: the paper."""
    tasks = [t for t in TASKS if t in set(metrics.task)]
    variants = sorted(metrics.variant.unique())
    width = 0.8 / len(variants)
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(max(7, 1.1 * len(tasks) + 2), 4.6))
    colors = sns.color_palette("deep", len(variants))
    for j, (variant, color) in enumerate(zip(variants, colors, strict=True)):
        offset = (j - (len(variants) - 1) / 2) * width
        _variant_bars(ax, metrics[metrics.variant == variant], tasks, offset, width, color, first=j == 0)
    # The paper's values belong to the multi5_permute bars.
    shift = (
        (variants.index("multi5_permute") - (len(variants) - 1) / 2) * width
        if "multi5_permute" in variants
        else 0
    )
    paper = [(i + shift, MANIPULATION_ACCURACY[t]) for i, t in enumerate(tasks) if t in MANIPULATION_ACCURACY]
    ax.scatter(
        [i for i, _ in paper],
        [v for _, v in paper],
        marker="D",
        s=40,
        color="black",
        zorder=6,
        label="paper (multi5+permute; parity after ~10K fine-tuning people)",
    )
    ax.set_xticks(range(len(tasks)), [t.replace("_cot", "\n+ hint (CoT)") for t in tasks], fontsize=7)
    ax.set(ylim=(0, 1.08), ylabel="exact-match accuracy of the final answer")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), ncols=2, frameon=False)
    n_seeds = metrics["seed"].nunique()
    ax.set_title(
        "Finding 5 (Part 3.2): fine-tuned to manipulate knowledge from pretraining, tested on held-out people"
        + (f" (sd over {n_seeds} seeds)" if n_seeds > 1 else ""),
        fontsize=9,
    )
    save_figure(fig, outputs)


def _variant_bars(ax, rows: pd.DataFrame, tasks: list[str], offset: float, width: float, color, first: bool):
    """One pretraining variant's bars (held-out), dots (QA-train) and chance ticks, per task."""
    stats = rows.groupby(["task", "split"])[["accuracy", "chance"]].agg(["mean", "std"])
    present = [t for t in tasks if (t, "test") in stats.index]
    xs = [tasks.index(t) + offset for t in present]
    variant = rows.variant.iloc[0]
    test = stats.xs("test", level="split").loc[present]
    train = stats.xs("train", level="split").loc[present]
    ax.bar(
        xs,
        test[("accuracy", "mean")],
        width,
        yerr=test[("accuracy", "std")].fillna(0),
        color=color,
        label=f"pretrained on {variant}: held-out people",
    )
    ax.scatter(
        xs,
        train[("accuracy", "mean")],
        color=color,
        edgecolor="black",
        s=18,
        zorder=4,
        label=f"pretrained on {variant}: QA-train people",
    )
    ax.hlines(
        test[("chance", "mean")],
        np.array(xs) - width / 2,
        np.array(xs) + width / 2,
        color="black",
        linewidth=2,
        zorder=5,
        label="chance (best constant answer)" if first else None,
    )
    for x, value in zip(xs, test[("accuracy", "mean")], strict=True):
        ax.text(x, value + 0.02, f"{value:.2f}", ha="center", fontsize=6)
