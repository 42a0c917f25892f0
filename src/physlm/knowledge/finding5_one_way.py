"""Finding 5, knowledge access is one-way (Part 3.2): forward questions work, inverse search stays
at chance unless the biographies are reversed. The paper's numbers and conditions, the claims'
thresholds, their builder, the figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from physlm.engine.artifacts import require_columns
from physlm.engine.config_types import FromSection
from physlm.engine.figures import save_figure
from physlm.engine.verdict import claim_row, judge, scale_columns, scale_of, spread_of
from physlm.knowledge.bios import Variant
from physlm.knowledge.manipulation import TASKS

# The paper's numbers and the conditions it reports them at.

# Part 3.2, held-out accuracy of knowledge manipulation after fine-tuning a multi5+permute model.
# forward: Part 3.1's QA on multi5+permute; parity without a hint needs ~10K fine-tuning samples
# for 75%; with the month stated first it reaches ~94%; inverse search is ~0% under every setting
# except reversed pretraining data. Tasks without a headline number are not drawn.
MANIPULATION_ACCURACY = {
    "forward": 0.966,
    "parity": 0.75,
    "parity_cot": 0.94,
    "inverse1": 0.0,
    "inverse2": 0.0,
}

# Part 3.2: the Part 3.1 model (N = 100K) fine-tuned for 50K steps on 2.5K-50K people per task.
MANIPULATION_CONDITIONS = {
    "people": 100_000,
    "qa_train_people": 2_500,
    "pretrain_steps": 80_000,
    "finetune_steps": 50_000,
    "n_layer": 12,
}


# The claim's thresholds (the config's `claims` section; fixed before any run).


@dataclass(frozen=True)
class ManipulationThresholds(FromSection):
    SCHEMA = "#/properties/claims/properties/manipulation"

    min_forward: float
    max_inverse_margin: float
    min_control: float


# The claim.


def _task_accuracy(metrics: pd.DataFrame, variant: str, task: str, split: str = "test") -> pd.DataFrame:
    """Accuracy and chance level per seed for one (variant, task, split)."""
    rows = metrics[(metrics.variant == variant) & (metrics.task == task) & (metrics.split == split)]
    return rows.groupby("seed")[["accuracy", "chance"]].mean()


def _inverse_above_chance(metrics: pd.DataFrame, variant: str) -> tuple[pd.Series, list[str]]:
    """Per seed, the largest held-out (accuracy - chance) over the inverse-search tasks run."""
    tasks = sorted(t for t in metrics[metrics.variant == variant].task.unique() if t.startswith("inverse"))
    if not tasks:
        raise ValueError(f"no inverse-search task was run on bioS {variant}")
    margins = [_task_accuracy(metrics, variant, t).pipe(lambda d: d.accuracy - d.chance) for t in tasks]
    return pd.concat(margins, axis=1).max(axis=1), tasks


def _task_details(metrics: pd.DataFrame, variant: str) -> str:
    """Held-out and QA-train accuracy and chance of every task run on `variant`."""
    rows = metrics[metrics.variant == variant]
    accuracy = rows.groupby(["task", "split"])["accuracy"].mean().unstack("split")
    chance = rows[rows.split == "test"].groupby("task")["chance"].mean()
    return "; ".join(
        f"{t}: held-out {r.test:.3f} (QA-train {r.train:.3f}, chance {chance[t]:.3f})"
        for t, r in accuracy.iterrows()
    )


def manipulation_claims(metrics: pd.DataFrame, thresholds: ManipulationThresholds) -> list[dict]:
    """Finding 5: forward retrieval works, inverse search stays at chance; reversed data fixes it.

    One main row per non-reversed variant fine-tuned on forward and inverse tasks (the config runs
    multi5_permute), one control row per _reverse variant with an inverse task. A forward accuracy
    below `min_forward` means the model cannot even retrieve what it knows, so a failing inverse
    search would say nothing: inconclusive.
    """
    require_columns(metrics, ("variant", "task", "seed", "split"), "the manipulation metrics")
    tasks_run = metrics.groupby("variant")["task"].agg(set)
    variants = [v for v, tasks in tasks_run.items() if any(t.startswith("inverse") for t in tasks)]
    main = [v for v in variants if not Variant.parse(v).reverse and "forward" in tasks_run[v]]

    rows = []
    for variant in main:
        forward = _task_accuracy(metrics, variant, "forward").accuracy
        margin, tasks = _inverse_above_chance(metrics, variant)
        scale = scale_of(metrics[metrics.variant == variant], MANIPULATION_CONDITIONS)
        if forward.mean() < thresholds.min_forward:
            verdict = "inconclusive: forward QA fails, nothing to contrast inverse search with"
        else:
            verdict = judge(margin.mean() <= thresholds.max_inverse_margin, scale, MANIPULATION_CONDITIONS)
        rows.append(
            claim_row(
                finding="F5 knowledge access is one-way",
                hypothesis=f"after fine-tuning {variant}, forward QA on held-out people is high "
                f"(>= {thresholds.min_forward}) while inverse search ({', '.join(tasks)}) stays at chance",
                metric="held-out inverse-search accuracy minus chance (max over inverse tasks)",
                paper_value=MANIPULATION_ACCURACY["inverse2"],
                measured_value=float(margin.mean()),
                spread=spread_of(margin),
                threshold=f"<= {thresholds.max_inverse_margin:.3f}",
                verdict=verdict,
                **scale_columns(scale, MANIPULATION_CONDITIONS),
                details=_task_details(metrics, variant),
            )
        )
    for variant in (v for v in variants if Variant.parse(v).reverse):
        margin, tasks = _inverse_above_chance(metrics, variant)
        scale = scale_of(metrics[metrics.variant == variant], MANIPULATION_CONDITIONS)
        rows.append(
            claim_row(
                finding="F5 control: reversed biographies",
                hypothesis=f"pretrained on {variant} (name after the attributes), inverse search "
                f"({', '.join(tasks)}) works on held-out people",
                metric="held-out inverse-search accuracy minus chance (max over inverse tasks)",
                paper_value=float("nan"),
                measured_value=float(margin.mean()),
                spread=spread_of(margin),
                threshold=f">= {thresholds.min_control:.3f}",
                verdict=judge(margin.mean() >= thresholds.min_control, scale, MANIPULATION_CONDITIONS),
                **scale_columns(scale, MANIPULATION_CONDITIONS),
                details=_task_details(metrics, variant),
            )
        )
    return rows


# The figure.


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


def _clear_of(top: float, marks: list[float]) -> float:
    """Where a value label above `top` goes: stepped above each mark (ascending) that sits where the
    label would be."""
    for mark in marks:
        if top - 0.03 < mark < top + 0.07:
            top = mark + 0.02
    return top


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
    # Values: inside a tall bar (above it sit the error bar, the QA-train dot and the paper's
    # diamond); just above a short one's error bar, stepping over a chance tick or a QA-train dot
    # only where one sits there (a value far under its chance tick stays by its bar).
    tops = test[("accuracy", "mean")] + test[("accuracy", "std")].fillna(0)
    obstacles = zip(test[("chance", "mean")], train[("accuracy", "mean")], strict=True)
    tops = [_clear_of(top, sorted(pair)) for top, pair in zip(tops, obstacles, strict=True)]
    for x, value, top in zip(xs, test[("accuracy", "mean")], tops, strict=True):
        if value >= 0.15:
            ax.text(x, value / 2, f"{value:.2f}", ha="center", va="center", fontsize=6, color="white")
        else:  # in the bar's colour: black numbers above a tick would read as chance's
            ax.text(x, top + 0.015, f"{value:.2f}", ha="center", fontsize=6, color=color, fontweight="bold")
