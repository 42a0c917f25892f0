"""Figure of a domain's training: every model's loss, learning rate and gradient norm by step."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib import ticker

from physlm.engine.figures import save_figure

# The columns a training log has; every other column of the collected table names the run.
LOG_COLUMNS = {"step", "loss", "lr", "grad_norm", "tokens_per_s", "model_tflops_per_s", "held_out_loss"}
# Why a domain's runs log no held-out loss (the figure is training_<domain>, named by results.smk).
WHY_NO_HELD_OUT = {
    "capacity": "a capacity model is measured\non its own training data",
    "math": "a math model's held-out measures\nare the figure math_curves",
}
DASHES = ["-", "--", ":", "-."]  # line styles of the style column's values, in sorted order
PANELS = {
    "loss": "training loss",
    "held_out_loss": "held-out answer loss (QA or task)",
    "lr": "learning rate",
    "grad_norm": "gradient norm (before clipping)",
}


def run_names(logs: pd.DataFrame, columns: list[str] | None = None) -> pd.Series:
    """Each row's model as text, from `columns` (default: the identity columns but the seed),
    "variant single, regime pretrain": the seeds of one model share a colour and a legend entry."""
    identity = identity_columns(logs) if columns is None else columns
    named = logs[identity].astype(str).apply(lambda column: f"{column.name} " + column)
    return named.agg(", ".join, axis=1) if identity else pd.Series("run", logs.index)


def identity_columns(logs: pd.DataFrame) -> list[str]:
    """The columns that name a run, in the table's order, but the seed."""
    return [c for c in logs.columns if c not in LOG_COLUMNS | {"seed"}]


def style_column(logs: pd.DataFrame) -> str | None:
    """The identity column drawn as line style, so that colours stay few enough to tell apart: the
    first with 2-4 values, where another column varies too (variant: single solid, multi5_permute
    dashed; the task or regime in colour). None where one column alone names the runs."""
    varying = [c for c in identity_columns(logs) if logs[c].nunique() > 1]
    if len(varying) < 2:
        return None
    return next((c for c in varying if logs[c].nunique() <= len(DASHES)), None)


def run_colours(n: int) -> list:
    """Up to nine categorical colours that stay apart (tab10 without its grey, which is the line
    style legend's colour); beyond them, hues spread evenly."""
    categorical = [c for i, c in enumerate(sns.color_palette("tab10")) if i != 7]
    return categorical[:n] if n <= len(categorical) else sns.color_palette("husl", n)


def through_stages(table: pd.DataFrame, model: list[str]) -> pd.DataFrame:
    """`table` with `step` counted from the start of each model's first stage (`model`: the columns
    that name a model; a curriculum stage continues the last one but counts its steps from 0, so
    unshifted, every stage would be drawn over the first); `offset` holds each row's shift. A stage's
    end is its last row's step."""
    ends = table.groupby([*model, "stage"])["step"].max().rename("end").reset_index()
    ends["offset"] = ends.groupby(model)["end"].transform(lambda e: e.cumsum() - e)
    shifted = table.merge(ends, on=[*model, "stage"], how="left")
    return shifted.assign(step=shifted["step"] + shifted["offset"]).drop(columns="end")


def plot_training(logs: pd.DataFrame, outputs: list[Path]) -> None:
    """One line per model and seed in each panel: training loss and, at each checkpoint, held-out
    loss (log scale; a knowledge training with QA has one), learning rate and gradient norm against
    the optimizer step (curriculum stages one after the other). A run that has not logged a measure
    is left out of that panel only. The domain is the one the figure is named for."""
    sns.set_theme(style="whitegrid", context="paper")
    domain = Path(outputs[0]).stem.removeprefix("training_")
    if "seed" not in logs:
        logs = logs.assign(seed=0)
    if "stage" in logs:
        model = [c for c in logs.columns if c not in LOG_COLUMNS | {"stage"}]
        logs = through_stages(logs, model).drop(columns="offset")
    seeds = logs["seed"]
    style = style_column(logs)
    coloured = [c for c in identity_columns(logs) if c != style]
    logs = logs.assign(
        run=run_names(logs, coloured),
        dash=logs[style].astype(str) if style else "",
        seed=seeds,
    )
    runs, kinds = sorted(logs["run"].unique()), sorted(logs["dash"].unique())
    colors = dict(zip(runs, run_colours(len(runs)), strict=True))
    dashes = dict(zip(kinds, DASHES, strict=False))
    fig, axes = plt.subplots(2, 2, figsize=(9, 6.4))
    for (column, label), ax in zip(PANELS.items(), axes.flat, strict=True):
        shown = logs.dropna(subset=[column]) if column in logs else logs.iloc[:0]  # e.g. no held-out set
        if shown.empty:
            why = WHY_NO_HELD_OUT.get(domain, "") if column == "held_out_loss" else ""
            note = "not logged by these runs" + (f"\n({why})" if why else "")
            ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", fontsize=8)
        for (run, dash, _), part in shown.groupby(["run", "dash", "seed"]):
            ax.plot(
                part["step"],
                part[column],
                color=colors[run],
                linestyle=dashes[dash],
                marker="." if len(part) < 8 else None,
            )
        if column.endswith("loss") and not shown.empty:
            ax.set_yscale("log")
            # Labelled ticks at 1, 2 and 5 of each decade, plain numbers: a loss falling from 5 to
            # 0.3 gets five labels, not the two of the decades alone.
            ax.yaxis.set_major_locator(ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
            ax.yaxis.set_major_formatter(ticker.FormatStrFormatter("%.2g"))
            ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set(xlabel="optimizer step", ylabel=label)
    handles = [plt.Line2D([], [], color=colors[run]) for run in runs]
    names = list(runs)
    if style:
        handles += [plt.Line2D([], [], color="0.3", linestyle=dashes[kind]) for kind in kinds]
        names += [f"{style} {kind}" for kind in kinds]
    fig.legend(
        handles, names, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncols=2, frameon=False
    )
    models = [c for c in identity_columns(logs) if c != "stage"]  # a stage continues its model
    n_models = logs.groupby(models).ngroups if models else 1
    n_seeds = logs["seed"].nunique()
    fig.suptitle(
        f"Training of the {domain} domain's {n_models} model{'s' * (n_models > 1)}"
        + (f" x {n_seeds} seeds, one line per seed" if n_seeds > 1 else ", one line each"),
        fontsize=10,
    )
    save_figure(fig, outputs)
