"""Finding 2's mechanism, P- and Q-probing (Part 3.1): augmented pretraining stores a person's
attributes on the name. The paper's numbers (read from images of its Figures 5 and 7, to their
precision; the Q-probing values match a third party's transcription of 2309.14316v3) and conditions,
the claim's thresholds, its builder, its figures."""

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
from physlm.knowledge.templates import ATTRIBUTES

# The paper's numbers and the conditions it reports them at.

# Part 3.1, Figure 5: P-probing first-token accuracy at the special token before the first attribute
# (the paper's position 0, this pipeline's position 1), per attribute in ATTRIBUTES order.
P_PROBING_FIRST = {
    "single": dict(zip(ATTRIBUTES, (1.000, 0.059, 0.380, 0.047, 0.015, 0.154), strict=True)),
    "multi5_permute": dict(zip(ATTRIBUTES, (1.000, 1.000, 1.000, 1.000, 0.999, 0.998), strict=True)),
}

# Part 3.1, Figure 7: Q-probing first-token accuracy from the name alone, per attribute, and the
# same models' QA fine-tuning accuracy (mean over attributes).
Q_PROBING_FIRST = {
    "single": dict(zip(ATTRIBUTES, (0.634, 0.019, 0.375, 0.031, 0.002, 0.131), strict=True)),
    "multi5_permute": dict(zip(ATTRIBUTES, (1.000, 1.000, 0.999, 1.000, 0.999, 0.998), strict=True)),
}

Q_PROBING_QA = {"single": 0.097, "multi5_permute": 0.966}

# P-probing (Part 3.1, Appendix E): the N = 100K models, ~250 training examples per class, 30K steps.
PROBING_CONDITIONS = {
    "people": 100_000,
    "n_layer": 12,
    "train_per_class": 250,
    "probe_steps": 30_000,
}


# The claim's thresholds (the config's `claims` section; fixed before any run).


@dataclass(frozen=True)
class ProbingThresholds(FromSection):
    SCHEMA = "#/properties/claims/properties/probing"

    min_gap: float
    min_fit: float


# The claim.


def _p_probe_first(probes: pd.DataFrame, variant: str, model: str) -> pd.Series:
    """Per seed: P-probe accuracy at text position 1 on attributes the text states later."""
    rows = probes[(probes.probe == "P") & (probes.variant == variant) & (probes.model == model)]
    if rows.empty:
        raise ValueError(f"no P-probing results for the {model} model of bioS {variant}")
    return rows[rows.position == 1].groupby("seed")["later_accuracy"].mean()


def _paper_later(variant: str) -> float:
    """The paper's position-1 P-probe accuracy on the attributes a single biography states later."""
    return float(np.mean([P_PROBING_FIRST[variant][a] for a in ATTRIBUTES[1:]]))


def probing_claim(probes: pd.DataFrame, thresholds: ProbingThresholds) -> dict:
    """Finding 2's mechanism: with augmentation, attributes are readable on the name already.

    Measured: at the first text position (right after the name), mean held-out accuracy on the
    attributes stated later; the smaller of multi5_permute minus single and multi5_permute minus
    its random-init model. Inconclusive when the probe cannot even read single's attributes at the
    token right before their value, where the pretrained model predicts them.
    """
    require_columns(probes, ("variant", "seed", "probe", "model"), "the probing table")
    aug = _p_probe_first(probes, "multi5_permute", "pretrained")
    single = _p_probe_first(probes, "single", "pretrained")
    random = _p_probe_first(probes, "multi5_permute", "random init")
    gap = pd.concat([aug - single, aug - random], axis=1).min(axis=1)
    p = probes[probes.probe == "P"]
    own = p[(p.variant == "single") & (p.model == "pretrained")]["next_accuracy"].mean()
    scale = scale_of(p[(p.variant == "multi5_permute") & (p.model == "pretrained")], PROBING_CONDITIONS)
    if own < thresholds.min_fit:
        verdict = "inconclusive: the probe cannot read single's values even right before them"
    else:
        verdict = judge(gap.mean() >= thresholds.min_gap, scale, PROBING_CONDITIONS)
    majority = p[(p.variant == "multi5_permute") & (p.position == 1)]["majority"].mean()
    q = probes[probes.probe == "Q"].groupby(["variant", "model"])["accuracy"].mean()
    details = (
        f"position-1 accuracy on later attributes: multi5_permute {aug.mean():.3f}, "
        f"single {single.mean():.3f}, random-init {random.mean():.3f}, majority class {majority:.3f}; "
        f"single's accuracy right before each value {own:.3f}; Q-probe mean accuracy "
        + ", ".join(f"{v} {m} {a:.3f}" for (v, m), a in q.items())
    )
    return claim_row(
        finding="F2 mechanism: P-probing",
        hypothesis="augmented pretraining (multi5_permute) stores attributes on the name: a probe reads "
        "them right after the name, unlike single or a random-init model",
        metric="position-1 P-probe accuracy, multi5_permute minus max(single, random init)",
        paper_value=_paper_later("multi5_permute") - _paper_later("single"),  # it probes no random init
        measured_value=float(gap.mean()),
        spread=spread_of(gap),
        threshold=f">= {thresholds.min_gap:.3f}",
        verdict=verdict,
        **scale_columns(scale, PROBING_CONDITIONS),
        details=details,
    )


# The figure.

MODELS = ("pretrained", "random init")


def _row(values) -> str:
    return " ".join(f"{v:.2f}" for v in values)


def plot_p_probing(probes: pd.DataFrame, outputs: list[Path]) -> None:
    """One heat map per (pretraining variant, model): held-out accuracy of reading each attribute
    (column) at the token before the k-th value of the biography (row). Knowledge on the name shows
    as a bright first row; a random-init model under the same probe is the baseline."""
    p = probes[probes.probe == "P"]
    variants = sorted(p.variant.unique(), key=lambda v: (Variant.parse(v).copies, v))
    sns.set_theme(style="white", context="paper")
    fig, axes = plt.subplots(len(MODELS), len(variants), figsize=(4.2 * len(variants), 7.2), squeeze=False)
    for col, variant in enumerate(variants):
        for row, model in enumerate(MODELS):
            cells = p[(p.variant == variant) & (p.model == model)]
            grid = cells.pivot_table(index="position", columns="attribute", values="accuracy").reindex(
                columns=list(ATTRIBUTES)
            )
            ax = axes[row, col]
            sns.heatmap(
                grid,
                vmin=0,
                vmax=1,
                annot=True,
                fmt=".2f",
                annot_kws={"fontsize": 6},
                cmap="viridis",
                cbar=col == len(variants) - 1,
                cbar_kws={"label": "held-out probe accuracy"},
                ax=ax,
            )
            majority = cells.groupby("attribute")["majority"].mean().reindex(ATTRIBUTES)
            title = f"{model} model, bioS {variant}\nmajority class: " + " ".join(
                f"{m:.2f}" for m in majority
            )
            if model == "pretrained" and variant in P_PROBING_FIRST:
                title += "\npaper, position 1: " + " ".join(
                    f"{P_PROBING_FIRST[variant][a]:.2f}" for a in ATTRIBUTES
                )
            ax.set_title(title, fontsize=8)
            ax.set(xlabel="attribute read", ylabel="position: token before the k-th value")
            ax.tick_params(axis="x", labelsize=6, rotation=30)
    rank = "-".join(map(str, sorted(p["rank"].unique()))) if "rank" in p else "r"
    fig.suptitle(
        f"P-probing (Part 3.1): held-out accuracy of a linear probe (+ rank-{rank} embedding update)"
    )
    save_figure(fig, outputs)


def _legend_entries(ax, colors: dict, markers: dict) -> None:
    """Empty scatters that name the Q-probing figure's encodings: color = variant, fill = model,
    shape = attribute."""
    for variant, color in colors.items():
        for model in MODELS:
            ax.scatter(
                [],
                [],
                s=40,
                color=color if model == "pretrained" else "none",
                edgecolor=color,
                label=f"{variant}, {model} model",
            )
    for attribute, marker in markers.items():
        ax.scatter([], [], s=40, marker=marker, color="grey", label=attribute)


def plot_q_probing(probes: pd.DataFrame, knowledge: pd.DataFrame, outputs: list[Path]) -> None:
    """Per attribute: Q-probe accuracy from the name alone (filled: pretrained; hollow: random-init;
    black dash: majority class) against QA accuracy after fine-tuning the same pretrained model, both
    on held-out people. The paper finds the two track each other."""
    q = (
        probes[probes.probe == "Q"]
        .groupby(["variant", "model", "attribute"], as_index=False)[["accuracy", "majority"]]
        .mean()
    )
    qa = (
        knowledge[(knowledge.regime == "finetune") & (knowledge.split == "test")]
        .groupby(["variant", "attribute"], as_index=False)["accuracy"]
        .mean()
        .rename(columns={"accuracy": "qa_accuracy"})
    )
    data = q.merge(qa, on=["variant", "attribute"])
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(9.0, 5.2))
    colors = dict(zip(sorted(data.variant.unique()), sns.color_palette("deep"), strict=False))
    markers = dict(zip(ATTRIBUTES, "osD^vP", strict=True))  # one per attribute: no labels to overlap
    for (variant, model, attribute), part in data.groupby(["variant", "model", "attribute"]):
        filled = model == "pretrained"
        ax.scatter(
            part.qa_accuracy,
            part.accuracy,
            s=40,
            marker=markers[attribute],
            color=colors[variant] if filled else "none",
            edgecolor=colors[variant],
        )
    _legend_entries(ax, colors, markers)
    trained = data[data.model == "pretrained"]
    ax.scatter(trained.qa_accuracy, trained.majority, marker="_", s=80, color="black", label="majority class")
    for variant in (v for v in colors if v in Q_PROBING_FIRST):
        ax.scatter(
            [Q_PROBING_QA[variant]] * len(ATTRIBUTES),
            [Q_PROBING_FIRST[variant][a] for a in ATTRIBUTES],
            marker="*",
            s=50,
            color="black",
            zorder=3,
            label="paper, each attribute (x: its mean QA accuracy)" if variant == "single" else None,
        )
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="probe = QA")
    ax.set(
        xlim=(-0.02, 1.02),
        ylim=(-0.02, 1.02),
        xlabel="QA accuracy after fine-tuning (held-out people)",
        ylabel="Q-probe accuracy from the name alone (held-out people)",
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1), frameon=False)
    ax.set_title(
        "Q-probing (Part 3.1): is the attribute already on the name's last token?\n"
        "(birth date: the probe reads the month, QA needs the whole date)",
        fontsize=9,
    )
    save_figure(fig, outputs)
