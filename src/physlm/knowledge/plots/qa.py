"""Figure for finding 2: QA accuracy on held-out people per training setting."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt  # picks the non-interactive Agg backend when there is no display
import pandas as pd
import seaborn as sns

from physlm.engine.figures import save_figure
from physlm.knowledge.bios import Variant
from physlm.knowledge.paper import QA_ACCURACY
from physlm.knowledge.templates import ATTRIBUTES

REGIME_NAMES = {"mixed": "mixed training", "finetune": "pretrain + finetune"}


def _setting(regime: str, variant: str) -> str:
    return f"{REGIME_NAMES[regime]}\n{variant.replace('_', '+')}"


def _order(metrics: pd.DataFrame) -> list[str]:
    """Mixed training first, then variants from least to most augmented, as in the paper."""
    pairs = sorted(
        set(zip(metrics.regime, metrics.variant, strict=True)),
        key=lambda rv: (rv[0] != "mixed", *map(int, Variant.parse(rv[1]).__dict__.values())),
    )
    return [_setting(*rv) for rv in pairs]


def plot_extraction(metrics: pd.DataFrame, outputs: list[Path]) -> None:
    """Left: held-out QA accuracy per attribute, with the paper's mean. Right: QA on QA-train people
    (did fine-tuning fit?), QA on held-out people, and bio recall of held-out people (is the knowledge
    stored at all?) after pretraining and after fine-tuning: extraction fails when recall is high and
    held-out QA low; recall that falls from the first to the second means fine-tuning erased it."""
    before = metrics[metrics.regime == "pretrain"]
    metrics = metrics[metrics.regime != "pretrain"]
    data = metrics.assign(
        setting=[_setting(r, v) for r, v in zip(metrics.regime, metrics.variant, strict=True)]
    )
    order = _order(metrics)
    sns.set_theme(style="whitegrid", context="paper")
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), width_ratios=[2.2, 1])
    _held_out_panel(left, data, order)
    _stored_panel(right, data, before, order)
    n_seeds = metrics["seed"].nunique()
    fig.suptitle(
        "Finding 2 (Part 3.1): can QA fine-tuning extract knowledge of people seen only in pretraining?"
        + (f"  (error bars: sd over {n_seeds} seeds)" if n_seeds > 1 else "")
    )
    save_figure(fig, outputs)


def _held_out_panel(ax, data: pd.DataFrame, order: list[str]) -> None:
    """Held-out QA accuracy per setting and attribute, the paper's mean as black diamonds."""
    test = data[data.split == "test"]
    sns.barplot(
        test,
        x="setting",
        y="accuracy",
        hue="attribute",
        order=order,
        hue_order=ATTRIBUTES,
        errorbar="sd",
        ax=ax,
    )
    for bars in ax.containers:  # a value on every bar: a bar at zero is otherwise invisible
        ax.bar_label(bars, fmt="%.2f", fontsize=5, padding=1)
    paper = {_setting(r, v): acc for (r, v), acc in QA_ACCURACY.items()}
    xs = [i for i, s in enumerate(order) if s in paper]
    ax.scatter(
        xs,
        [paper[order[i]] for i in xs],
        marker="D",
        s=40,
        color="black",
        zorder=5,
        label="paper (mean of attributes)",
    )
    ax.set(
        ylim=(0, 1.02), xlabel="", ylabel="exact-match accuracy", title="QA on held-out people (QA-test half)"
    )
    ax.legend(fontsize=7, ncols=4, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
    ax.tick_params(axis="x", labelsize=7)


def _stored_panel(ax, data: pd.DataFrame, before: pd.DataFrame, order: list[str]) -> None:
    """Stored (bio recall) vs extractable (QA) knowledge, averaged over attributes."""
    means = data.groupby(["setting", "split", "seed"], as_index=False)[["accuracy", "bio_recall"]].mean()
    pretrained = (
        before[before.split == "test"]
        .groupby(["variant", "seed"], as_index=False)["bio_recall"]
        .mean()
        .assign(setting=lambda d: [_setting("finetune", v) for v in d.variant], value=lambda d: d.bio_recall)
    )
    bars = {
        "QA, QA-train people": means[means.split == "train"].assign(value=lambda d: d.accuracy),
        "QA, held-out people": means[means.split == "test"].assign(value=lambda d: d.accuracy),
        "in biography, held-out people, after pretraining": pretrained,
        "in biography, held-out people, final model": means[means.split == "test"].assign(
            value=lambda d: d.bio_recall
        ),
    }
    summary = pd.concat([frame.assign(measure=name) for name, frame in bars.items()])
    sns.barplot(
        summary,
        x="setting",
        y="value",
        hue="measure",
        order=order,
        hue_order=list(bars),
        errorbar="sd",
        ax=ax,
    )
    for container in ax.containers:
        ax.bar_label(container, fmt="%.2f", fontsize=6, padding=1)
    ax.set(
        ylim=(0, 1.08),
        xlabel="",
        ylabel="mean over attributes",
        title="Stored (in biography) vs extractable (QA)",
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.28), ncols=1, frameon=False)
    ax.tick_params(axis="x", labelsize=6, rotation=30)
