"""Finding 1, knowledge capacity (Part 3.3): about 2 bits per parameter at capacity, kept under
int8 quantization. The paper's numbers and conditions, the claim's thresholds, its builder, its figure."""

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

# The paper's numbers and the conditions it reports them at.

# Part 3.3, bits of knowledge per parameter of models at capacity, by exposures per person; int8
# keeps it, int4 falls to about 0.7 (of 2) bits per parameter.
CAPACITY_RATIO = {100: 1.0, 1000: 2.0}

INT4_KEPT = 0.7 / 2.0

# Part 3.3: at 100 exposures only N >= 50K (10K at 1000 exposures), at least 50K optimizer steps;
# 1-layer models are left out of the law (not a condition: they are not counted in the peak).
CAPACITY_CONDITIONS = {
    100: {"people": 50_000, "pretrain_steps": 50_000},
    1000: {"people": 10_000, "pretrain_steps": 50_000},
}


# The claim's thresholds (the config's `claims` section; fixed before any run).


@dataclass(frozen=True)
class CapacityThresholds(FromSection):
    SCHEMA = "#/properties/claims/properties/capacity"

    min_fraction: float
    max_ratio: float
    min_int8_kept: float
    max_int4_kept: float


# The claim.


def capacity_claims(metrics: pd.DataFrame, thresholds: CapacityThresholds) -> list[dict]:
    """Finding 1: the best bits-per-parameter ratio is near the paper's at the exposures run; int8
    keeps the bits, int4 loses over half.

    The peak ratio (over model sizes and N) of each dataset must lie in [min_fraction x paper,
    max_ratio]: the paper finds the same law on bioS, bioS simple and bioD. The quantization rows
    compare each model's quantized bits with its own unquantized bits, averaged over the models (of
    every dataset) that learned anything.
    """
    require_columns(metrics, ("data", "n", "exposures", "size", "seed", "quantization"), "the capacity table")
    plain = metrics[metrics.quantization == "none"]
    rows = [
        _capacity_peak(data, exposures, runs, thresholds)
        for (data, exposures), runs in plain.groupby(["data", "exposures"], sort=False)
    ]
    return rows + _quantization_claims(metrics, thresholds)


def _capacity_peak(data: str, exposures: int, runs: pd.DataFrame, thresholds: CapacityThresholds) -> dict:
    """The peak-ratio claim of one dataset at one exposure count."""
    part = runs[runs.n_layer >= 2]  # the paper leaves 1-layer models out of the law
    if part.empty:
        return _no_deep_model(data, exposures)
    peak = part.groupby("seed")["bits_per_parameter"].max()
    paper = CAPACITY_RATIO.get(int(exposures), float("nan"))
    low, known = thresholds.min_fraction * paper, not pd.isna(paper)
    conditions = CAPACITY_CONDITIONS.get(int(exposures), {})
    scale = scale_of(part, conditions, pick="max")
    if not known:
        verdict = "inconclusive: the paper gives no ratio at these exposures"
    else:
        verdict = judge(low <= peak.mean() <= thresholds.max_ratio, scale, conditions)
    best = part.loc[part["bits_per_parameter"].idxmax()]
    return claim_row(
        finding="F1 knowledge capacity",
        hypothesis=f"on {data} at {exposures} exposures the best model stores about "
        + (f"{paper:g} bits per parameter" if known else "the paper's ratio (it gives none here)"),
        metric="peak bits of knowledge per parameter over model sizes and N",
        paper_value=paper,
        measured_value=float(peak.mean()),
        spread=spread_of(peak),
        threshold=f"in [{low:.2f}, {thresholds.max_ratio:.2f}]" if known else "none (no paper value)",
        verdict=verdict,
        **_capacity_scale_columns(scale, conditions, exposures),
        details=f"peak at size {best['size']}, N={best.n}: {best.bits:,.0f} bits, "
        f"{best.parameters:,} parameters; "
        + ", ".join(
            f"{r.size} N={r.n}: {r.bits_per_parameter:.3f}"
            for r in part.sort_values(["n", "parameters"]).itertuples()
        ),
    )


def _quantization_claims(metrics: pd.DataFrame, thresholds: CapacityThresholds) -> list[dict]:
    """int8 keeps each model's bits, int4 loses over half (mean over models that learned any)."""
    keys = ["data", "n", "exposures", "size", "seed"]
    bits = metrics.pivot_table(index=keys, columns="quantization", values="bits")
    bits = bits[bits["none"] > 0]
    # The paper reports quantization on models at capacity: the conditions of the fewest exposures run.
    conditions = CAPACITY_CONDITIONS.get(int(metrics.exposures.min()), {}) if len(metrics) else {}
    scale = scale_of(metrics, conditions, pick="max")
    rows = []
    for scheme, direction, bound, paper in (
        ("int8", ">=", thresholds.min_int8_kept, 1.0),
        ("int4", "<=", thresholds.max_int4_kept, INT4_KEPT),
    ):
        kept = (bits[scheme] / bits["none"]).groupby("seed").mean()
        if kept.empty:
            verdict = "inconclusive: no model learned anything to lose"
        else:
            holds = kept.mean() >= bound if direction == ">=" else kept.mean() <= bound
            verdict = judge(holds, scale, conditions)
        rows.append(
            claim_row(
                finding=f"F1 capacity under {scheme}",
                hypothesis="int8 keeps the learned bits" if scheme == "int8" else "int4 loses over half",
                metric=f"bits after {scheme} quantization / bits before (mean over models)",
                paper_value=paper,
                measured_value=float(kept.mean()) if not kept.empty else float("nan"),
                spread=spread_of(kept),
                threshold=f"{direction} {bound:.2f}",
                verdict=verdict,
                **_capacity_scale_columns(scale, conditions, metrics.exposures.min()),
                details=f"{len(bits)} models with any learned bits",
            )
        )
    return rows


def _no_deep_model(data: str, exposures: int) -> dict:
    return claim_row(
        finding="F1 knowledge capacity",
        hypothesis=f"on {data} at {exposures} exposures the best model stores the paper's bits per parameter",
        metric="peak bits of knowledge per parameter over model sizes and N",
        paper_value=CAPACITY_RATIO.get(int(exposures), float("nan")),
        measured_value=float("nan"),
        spread=float("nan"),
        threshold="",
        verdict="inconclusive: no model with 2 or more layers",
        **_capacity_scale_columns({}, {}, exposures),
        details="every model has one layer; the paper leaves 1-layer models out of the law",
    )


def _capacity_scale_columns(scale: dict, conditions: dict, exposures: float) -> dict:
    """As _scale_columns; at exposures where the paper states no law, say where it does."""
    if conditions:
        return scale_columns(scale, conditions)
    laws = " or ".join(f"{e:,}" for e in sorted(CAPACITY_CONDITIONS))
    return {
        "scale": f"exposures {exposures:,.0f}",
        "conditions": f"exposures {laws} (where the paper states the law)",
    }


# The figure.

SCHEMES = ["none", "int8", "int4"]

DATASETS = {
    "bioS": "bioS: fresh templates each exposure",
    "bioS_simple": "bioS simple: one biography, seen E times",
    "bioD": "bioD: shuffled sentences each exposure",
}


def _clip_and_label(ax: plt.Axes) -> None:
    """Write each bar's value on it, and cut bars far below zero (a quantization that leaves the
    model worse than guessing: int4 at -7 bits/parameter) at half the tallest bar's height, with
    "cut" under the value, so that they do not shrink the unquantized and int8 bars to nothing."""
    bars = [bar for bar in ax.patches if bar.get_width() > 0 and np.isfinite(bar.get_height())]
    tallest = max([bar.get_height() for bar in bars], default=0.0)
    bottom = -np.inf  # nothing to keep readable when no bar is above zero (a smoke run): no cut
    if tallest > 0:
        bottom = -tallest * 1.25 / 2
        ax.set_ylim(bottom, tallest * 1.25)
    for bar in bars:
        value, x = bar.get_height(), bar.get_x() + bar.get_width() / 2
        cut = value < bottom
        y = bottom if cut else value
        text = f"{value:.1f}\ncut" if cut else f"{value:.2f}"
        ax.text(x, y, text, ha="center", va="bottom" if value >= 0 or cut else "top", fontsize=6)


def _bits_panel(ax: plt.Axes, runs: pd.DataFrame, colors: dict, title: str) -> None:
    """One dataset's models: bits learned against parameters, log-log, the 2 and 1 bits/parameter
    lines and, dash-dotted in each setting's colour, all the bits in its data (drawn for every
    setting, its models drawn or not: the axes stretch to show them)."""
    hidden = int((runs.bits <= 0).sum())
    shown = runs[runs.bits > 0]
    sns.scatterplot(shown, x="parameters", y="bits", hue="setting", palette=colors, style="size", s=60, ax=ax)
    for setting, rows in runs.groupby("setting"):
        ax.axhline(rows.data_bits.iloc[0], color=colors[setting], linestyle="-.", linewidth=1)
    span = np.geomspace(runs.parameters.min() / 2, runs.parameters.max() * 2, 10)
    for ratio, style in ((2, "--"), (1, ":")):
        ax.plot(
            span, ratio * span, color="black", linestyle=style, linewidth=1, label=f"{ratio} bits/parameter"
        )
    ax.plot([], [], color="grey", linestyle="-.", linewidth=1, label="all bits in the data")
    every = [*runs.data_bits, *shown.bits, *(span * 2), *span]
    ax.set(
        xscale="log",
        yscale="log",
        ylim=(min(every) / 1.5, max(every) * 1.5),
        xlabel="parameters (used embedding rows only)",
        ylabel="bits of knowledge learned",
        title=f"{title}\n({hidden} model{'s' if hidden != 1 else ''} at or below 0 bits not drawn)",
    )
    ax.legend(fontsize=7)


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
    for data, ax in zip(datasets, axes, strict=False):
        _bits_panel(ax, plain[plain.data == data], colors, DATASETS[data])
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
    _clip_and_label(right)
    right.set(
        xlabel="model size (smallest first); bars average over datasets, N and exposures",
        ylabel="bits per parameter (value on each bar)",
        title="Bits per parameter under weight quantization",
    )
    fig.suptitle("Finding 1 (Part 3.3): how many bits of knowledge does a parameter hold?")
    save_figure(fig, outputs)
