"""Figure for finding 1: bits of knowledge against parameters, and what quantization keeps."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from physlm.engine.figures import save_figure

SCHEMES = ["none", "int8", "int4"]


DATASETS = {
    "bioS": "bioS: fresh templates each exposure",
    "bioS_simple": "bioS simple: one biography, seen E times",
    "bioD": "bioD: shuffled sentences each exposure",
}


def plot_capacity(metrics: pd.DataFrame, outputs: list[Path]) -> None:
    """One log-log panel per dataset: bits learned vs parameters, one marker per (people, exposures),
    unquantized, with the 2 and 1 bits/parameter lines (a model at capacity sits on its line) and,
    dash-dotted, all the bits in each dataset (a model there has learned everything). Models with 0
    or negative bits (worse than uniform: the paper's formula is not floored) cannot be drawn on a
    log scale; the title counts them. Last panel: bits per parameter under each quantization."""
    sns.set_theme(style="whitegrid", context="paper")
    datasets = list(dict.fromkeys(metrics["data"]))
    fig, axes = plt.subplots(1, len(datasets) + 1, figsize=(5 * (len(datasets) + 1), 4.8))
    plain = metrics[metrics.quantization == "none"].assign(
        setting=lambda d: [f"N={n}, {e} exposures" for n, e in zip(d.n, d.exposures, strict=True)]
    )
    colors = dict(zip(sorted(plain.setting.unique()), sns.color_palette(), strict=False))
    span = np.geomspace(plain.parameters.min() / 2, plain.parameters.max() * 2, 10)
    for data, ax in zip(datasets, axes, strict=False):
        part = plain[plain.data == data]
        hidden = int((part.bits <= 0).sum())
        part = part[part.bits > 0]
        sns.scatterplot(
            part, x="parameters", y="bits", hue="setting", palette=colors, style="size", s=60, ax=ax
        )
        for setting, rows in part.groupby("setting"):
            ax.axhline(rows.data_bits.iloc[0], color=colors[setting], linestyle="-.", linewidth=1)
        for ratio, style in ((2, "--"), (1, ":")):
            ax.plot(
                span,
                ratio * span,
                color="black",
                linestyle=style,
                linewidth=1,
                label=f"{ratio} bits/parameter",
            )
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="parameters (used embedding rows only)",
            ylabel="bits of knowledge learned",
            title=f"{DATASETS[data]}\n(dash-dot: all bits in the data; "
            f"{hidden} model{'s' if hidden != 1 else ''} at or below 0 bits not drawn)",
        )
        ax.legend(fontsize=7)
    right = axes[-1]
    order = sorted(metrics["size"].unique(), key=lambda s: metrics[metrics["size"] == s].parameters.min())
    sns.barplot(
        metrics,
        x="size",
        y="bits_per_parameter",
        hue="quantization",
        hue_order=SCHEMES,
        order=order,
        errorbar=None,
        ax=right,
    )
    right.set(
        xlabel="model size (smallest first); bars average over datasets, N and exposures",
        ylabel="bits per parameter",
        title="Capacity ratio under weight quantization",
    )
    fig.suptitle("Finding 1 (Part 3.3): how many bits of knowledge does a parameter hold?")
    save_figure(fig, outputs)
