"""Figures for where knowledge lives: P-probing heat maps and Q-probing against QA accuracy."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from physlm.engine.figures import save_figure
from physlm.knowledge.bios import Variant
from physlm.knowledge.paper import P_PROBING_FIRST, Q_PROBING_FIRST, Q_PROBING_QA
from physlm.knowledge.templates import ATTRIBUTES

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
    fig.suptitle("P-probing (Part 3.1): held-out accuracy of a linear probe (+ rank-r embedding update)")
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
