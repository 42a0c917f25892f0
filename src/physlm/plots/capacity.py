"""Figure for finding 1: bits of knowledge against parameters, and what quantization keeps."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from physlm.plots.save import save_figure

SCHEMES = ["none", "int8", "int4"]


def plot_capacity(metrics: pd.DataFrame, outputs: list[Path]) -> None:
    """Left: bits learned vs parameters (log-log), one marker per (people, exposures), unquantized,
    with the 2 and 1 bits/parameter lines (a model at capacity sits on its line) and, dash-dotted, all
    the bits in each dataset (a model there has learned everything). Models with 0 bits cannot be
    drawn on a log scale. Right: bits per parameter for each model under each quantization."""
    sns.set_theme(style="whitegrid", context="paper")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.8))
    plain = metrics[metrics.quantization == "none"].assign(
        data=lambda d: [f"N={n}, {e} exposures" for n, e in zip(d.n, d.exposures, strict=True)]
    )
    sns.scatterplot(plain, x="parameters", y="bits", hue="data", style="size", s=60, ax=left)
    colors = dict(zip(sorted(plain.data.unique()), sns.color_palette(), strict=False))
    for data, part in plain.groupby("data"):
        left.axhline(part.data_bits.iloc[0], color=colors[data], linestyle="-.", linewidth=1)
    span = np.geomspace(plain.parameters.min() / 2, plain.parameters.max() * 2, 10)
    for ratio, style in ((2, "--"), (1, ":")):
        left.plot(
            span, ratio * span, color="black", linestyle=style, linewidth=1, label=f"{ratio} bits/parameter"
        )
    left.set(
        xscale="log",
        yscale="log",
        xlabel="parameters (used embedding rows only)",
        ylabel="bits of knowledge learned",
        title="Knowledge stored vs model size\n(dash-dot: all bits in the data; 0-bit models not drawn)",
    )
    left.legend(fontsize=7)
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
        xlabel="model size (smallest first); bars average over N and exposures",
        ylabel="bits per parameter",
        title="Capacity ratio under weight quantization",
    )
    fig.suptitle("Finding 1 (Part 3.3): how many bits of knowledge does a parameter hold?")
    save_figure(fig, outputs)
