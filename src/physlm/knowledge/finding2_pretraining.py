"""Finding 2, knowledge must be in pretraining (Part 3.1): QA on held-out people works after mixed
training or augmented pretraining, not after plain pretraining + fine-tuning. The paper's numbers
and conditions, the claims' thresholds, their builder, the figure."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from physlm.engine.artifacts import require_columns
from physlm.engine.config_types import FromSection
from physlm.engine.figures import save_figure
from physlm.engine.verdict import claim_row, judge, scale_columns, scale_of, spread_of
from physlm.knowledge.bios import Variant
from physlm.knowledge.templates import ATTRIBUTES

# The paper's numbers and the conditions it reports them at.

# Part 3.1, QA exact-match accuracy on the held-out half of the people, mean over attributes.
# Keys: (regime, bioS variant). single_permute is the paper's "single + permute1".
QA_ACCURACY = {
    ("mixed", "single"): 0.866,
    ("finetune", "single"): 0.097,
    ("finetune", "single_permute"): 0.044,
    ("finetune", "multi5"): 0.41,
    ("finetune", "multi5_permute"): 0.966,
    # Fig. 3's mixed multi5+permute, as transcribed in docs/finding2-mixed-training-reading.md.
    ("mixed", "multi5_permute"): 0.955,
}

# The scale at which each paper reports its finding. A run below any of these can support a finding
# (the effect shows anyway) but cannot refute it. Keys are columns of the metrics tables (written by
# train.run_scale, probing and the capacity step); a run's value must be at least the paper's.
# Part 3.1: bioS N = 100K, half of them QA-train; GPT2-12-12; 80K pretraining steps (batch 96 x 512
# tokens, ~540 exposures per person); LoRA fine-tuning 50K steps.
QA_CONDITIONS = {
    "people": 100_000,
    "qa_train_people": 50_000,
    "exposures": 540,
    "pretrain_steps": 80_000,
    "finetune_steps": 50_000,
    "n_layer": 12,
}

# Mixed training (Part 3.1): the same people and model, QA of the train half mixed into the 80K steps.
MIXED_CONDITIONS = {k: QA_CONDITIONS[k] for k in ("people", "qa_train_people", "pretrain_steps", "n_layer")}


# The claim's thresholds (the config's `claims` section; fixed before any run).


@dataclass(frozen=True)
class KnowledgeThresholds(FromSection):
    SCHEMA = "#/properties/claims/properties/knowledge"

    min_gap: float
    min_fit: float


# The claim.


def _mean_accuracy(
    metrics: pd.DataFrame, regime: str, variant: str, split: str, column: str = "accuracy"
) -> pd.Series:
    """Mean of `column` over attributes, one value per seed."""
    rows = metrics[(metrics.regime == regime) & (metrics.variant == variant) & (metrics.split == split)]
    if rows.empty:
        raise ValueError(f"no {split} QA metrics for {regime} training on bioS {variant}")
    return rows.groupby("seed")[column].mean()


def knowledge_claims(metrics: pd.DataFrame, thresholds: KnowledgeThresholds) -> list[dict]:
    """Finding 2 as two claims: extraction of held-out people's knowledge after pretrain + finetune
    needs augmented pretraining (multi5_permute vs single), and mixed training extracts it (mixed vs
    single pretrain + finetune). Mixed training on another variant with a paper number (Fig. 3's
    multi5_permute), where the metrics hold it, is a claim of its own beside F2b, never in its place:
    on augmented data it cannot tell mixing's part from augmentation's.

    Measured value: held-out QA of the setting minus that of single pretrain + finetune, per seed,
    averaged. If either setting scores below `min_fit` on its own QA-train people, it did not learn
    its training questions, so its held-out score says nothing: inconclusive.
    """
    require_columns(metrics, ("regime", "variant", "seed", "split"), "the knowledge metrics")
    single = ("finetune", "single")
    claims = {
        "F2a augmentation": (
            ("finetune", "multi5_permute"),
            QA_CONDITIONS,
            "held-out QA is high after multi5_permute pretraining + finetune, low after single "
            "pretraining + finetune",
        ),
        "F2b mixed training": (
            ("mixed", "single"),
            MIXED_CONDITIONS,
            "held-out QA is high after mixed training (biographies + QA of the train half), low after "
            "single pretraining + finetune",
        ),
    }
    for variant in sorted(set(metrics.variant[metrics.regime == "mixed"]) - {"single"}):
        if ("mixed", variant) in QA_ACCURACY:
            claims[f"F2b mixed training on {variant}"] = (
                ("mixed", variant),
                MIXED_CONDITIONS,
                f"held-out QA is high after mixed training on {variant} biographies, low after single "
                "pretraining + finetune",
            )
    rows = []
    for name, (setting, conditions, hypothesis) in claims.items():
        compared = {"/".join(s): s for s in (setting, single)}
        test = {k: _mean_accuracy(metrics, *v, "test") for k, v in compared.items()}
        train = {k: _mean_accuracy(metrics, *v, "train") for k, v in compared.items()}
        stored = {k: _mean_accuracy(metrics, *v, "test", "bio_recall").mean() for k, v in compared.items()}
        gap = test["/".join(setting)] - test["/".join(single)]
        scale = scale_of(_runs(metrics, list(compared.values())), conditions)
        unfit = [k for k, v in train.items() if v.mean() < thresholds.min_fit]
        if unfit:
            verdict = "inconclusive: a setting did not learn its own QA-train questions"
        else:
            verdict = judge(gap.mean() >= thresholds.min_gap, scale, conditions)
        details = "; ".join(
            f"{k}: held-out QA {test[k].mean():.3f} (paper {QA_ACCURACY[v]:.3f}), "
            f"QA-train {train[k].mean():.3f}, held-out bio recall {_recall_before(metrics, v)}{stored[k]:.3f}"
            for k, v in compared.items()
        )
        if unfit:
            details += f"; below min_fit={thresholds.min_fit} on QA-train: {', '.join(unfit)}"
        rows.append(
            claim_row(
                finding=f"{name}: knowledge must be in pretraining",
                hypothesis=hypothesis,
                metric=f"{'/'.join(setting)} minus finetune/single held-out QA accuracy",
                paper_value=QA_ACCURACY[setting] - QA_ACCURACY[single],
                measured_value=float(gap.mean()),
                spread=spread_of(gap),
                threshold=f">= {thresholds.min_gap:.3f}",
                verdict=verdict,
                **scale_columns(scale, conditions),
                details=details,
            )
        )
    return rows


def _recall_before(metrics: pd.DataFrame, setting: tuple[str, str]) -> str:
    """ "X after pretraining -> " for a fine-tuned setting whose pretrained model was evaluated."""
    regime, variant = setting
    rows = metrics[(metrics.regime == "pretrain") & (metrics.variant == variant) & (metrics.split == "test")]
    if regime != "finetune" or rows.empty:
        return ""
    return f"{rows['bio_recall'].mean():.3f} after pretraining -> "


def _runs(metrics: pd.DataFrame, settings: list[tuple[str, str]]) -> pd.DataFrame:
    """The metrics rows of the given (regime, variant) settings."""
    keys = pd.Series(list(zip(metrics.regime, metrics.variant, strict=True)), index=metrics.index)
    return metrics[keys.isin(settings)]


# The figure.

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


def plot_mixed_curves(curves: pd.DataFrame, outputs: list[Path]) -> None:
    """Mixed training's learning curves, one panel per bioS variant: QA accuracy and bio recall of
    QA-train and held-out people at every checkpoint (mean over seeds, band: sd). The paper's order
    (Part 3.1, Fig. 1) is QA of QA-train people, then their biographies, then held-out people's
    biographies, then their QA; held-out QA that stays flat while held-out recall is high is
    extraction not learned."""
    curves = require_columns(curves, ["variant", "seed", "step", "measure", "split", "value"], "mixed curves")
    data = curves.dropna(subset=["value"]).assign(
        people=lambda d: d["split"].map({"train": "QA-train people", "test": "held-out people"}),
        line=lambda d: d["measure"] + ", " + d["people"],
    )
    variants = sorted(
        data["variant"].unique(), key=lambda v: tuple(map(int, Variant.parse(v).__dict__.values()))
    )
    lines = [
        f"{m}, {p}" for m in ("QA accuracy", "bio recall") for p in ("QA-train people", "held-out people")
    ]
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, len(variants), figsize=(5.5 * len(variants), 4.2), sharey=True, squeeze=False)
    for ax, variant in zip(axes[0], variants, strict=True):
        sns.lineplot(
            data[data["variant"] == variant],
            x="step",
            y="value",
            hue="line",
            hue_order=lines,
            style="line",
            style_order=lines,
            markers=True,
            errorbar="sd",
            ax=ax,
        )
        paper = QA_ACCURACY.get(("mixed", variant))
        if paper is not None:
            ax.axhline(paper, color="black", linestyle=":", linewidth=1, label="paper: QA, held-out people")
        ax.set(
            xlabel="training step", ylabel="accuracy", ylim=(-0.02, 1.02), title=f"mixed training, {variant}"
        )
        handles, labels = ax.get_legend_handles_labels()
        ax.get_legend().remove()
    # One legend for every panel, below them: inside, it hides the curves that end high.
    fig.legend(
        handles, labels, fontsize=8, frameon=False, ncols=3, loc="upper center", bbox_to_anchor=(0.5, 0.02)
    )
    n_seeds = data["seed"].nunique()
    fig.suptitle(
        "Finding 2 (Part 3.1): does mixed training learn to extract, and when?"
        + (f"  (mean of {n_seeds} seeds, band: sd)" if n_seeds > 1 else "")
    )
    save_figure(fig, outputs)
