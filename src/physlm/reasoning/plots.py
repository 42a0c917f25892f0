"""Figures of the math domain (Parts 2.1, 2.2): the learning curves, accuracy by op (clean and retry
data), V-probe accuracy per task, the mistake detectors' ROC curves, and accuracy against tokens per
decoder."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from physlm.engine.figures import save_figure
from physlm.reasoning.paper import (
    MATH_ACCURACY_IN_DISTRIBUTION,
    MISTAKE_RANDOM_ACCURACY,
    MISTAKES_FLAGGED,
    VPROBE_ACCURACY,
)

TASK_LABELS = {  # in the order of physlm.reasoning.vprobe.TASKS (not imported: a figure needs no torch)
    "nece": "nece(A)\nend of question",
    "dep": "dep(A, B)\nend of problem",
    "known": "known(A)\nsentence starts",
    "value": "value(A)\nsentence starts",
    "can_next": "can_next(A)\nsentence starts",
    "nece_next": "nece_next(A)\nsentence starts",
}


def _data_label(data: str) -> str:
    return "clean data" if data == "clean" else f"retry data, q = {data.removeprefix('retry')}"


def _through_stages(curves: pd.DataFrame) -> pd.DataFrame:
    """The curves with `step` counted from the first stage's start (a later stage's steps follow
    the steps of the stages before it, each stage's last evaluation being at its last step)."""
    ends = curves.groupby(["seed", "data", "stage"])["step"].max().rename("end").reset_index()
    ends["offset"] = ends.groupby(["seed", "data"])["end"].transform(lambda e: e.cumsum() - e)
    return curves.merge(ends, on=["seed", "data", "stage"]).assign(step=lambda t: t["step"] + t["offset"])


def plot_math_curves(curves: pd.DataFrame, outputs: list[Path]) -> None:
    """The clean model's learning curves through its curriculum, on fixed held-out problems: greedy
    accuracy per op (solid: distinct letters, as every decoder here writes; dashed: letters free, as
    the model alone would), and teacher-forced accuracy per token role (is the most likely next token
    right, given the right solution so far); mean over seeds; dotted: where a later stage begins."""
    table = _through_stages(curves[curves["data"] == "clean"])
    mean = table.groupby(["measure", "group", "step"])["accuracy"].mean().reset_index()
    sns.set_theme(style="whitegrid", context="paper")
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    ops = sorted(mean.loc[mean["measure"] == "greedy", "group"].unique(), key=lambda g: int(g.split()[1]))
    palette = dict(zip(ops, sns.color_palette("viridis", len(ops)), strict=True))
    for measure, style in (("greedy", "-"), ("greedy, letters free", "--")):
        for op in ops:
            rows = mean[(mean["measure"] == measure) & (mean["group"] == op)]
            label = op if style == "-" else None
            left.plot(
                rows["step"],
                rows["accuracy"],
                style,
                marker="o",
                markersize=3,
                color=palette[op],
                label=label,
            )
    left.plot([], [], "k--", label="letters free")
    starts = sorted(set(table.loc[table["stage"] > 1, "offset"]))
    for ax in (left, right):
        for start in starts:  # a later curriculum stage begins
            ax.axvline(start, color="grey", linestyle=":", linewidth=1)
    left.set(
        xlabel="training step", ylabel="accuracy", ylim=(-0.02, 1.02), title="greedy, held-out problems by op"
    )
    left.legend(fontsize=7, frameon=False)
    roles = mean[mean["measure"] == "teacher-forced"]
    sns.lineplot(roles, x="step", y="accuracy", hue="group", marker="o", markersize=3, ax=right)
    right.set(xlabel="training step", title="teacher-forced, by token role")
    right.legend(fontsize=7, frameon=False, ncols=2)
    n_seeds = curves["seed"].nunique()
    fig.suptitle(
        "Part 2.1 at small scale: where the math model fails, and when it moved"
        + (f" (mean of {n_seeds} seeds)" if n_seeds > 1 else ""),
        fontsize=9,
    )
    save_figure(fig, outputs)


def plot_attention(attention: pd.DataFrame, outputs: list[Path]) -> None:
    """Per layer: attention one token of a necessary parameter's statement receives, over one token
    of an unnecessary one's, from where the solution starts ("Define": the first step is chosen
    there), for the trained model and a random-init model of its shape; 1 = no preference; mean over
    seeds with sd."""
    stats = attention.groupby(["model", "layer"])["ratio"].agg(["mean", "std"]).reset_index()
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for (model, rows), marker in zip(stats.groupby("model", sort=False), "os", strict=False):
        ax.errorbar(
            rows["layer"], rows["mean"], yerr=rows["std"].fillna(0), marker=marker, capsize=3, label=model
        )
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1, label="no preference")
    ax.set(
        xlabel="layer",
        ylabel="attention per token:\nnecessary / unnecessary statements",
        xticks=sorted(stats["layer"].unique()),
    )
    n_seeds, n_problems = attention["seed"].nunique(), int(attention["problems"].max())
    ax.set_title(
        f"Part 2.1: where the model looks as it starts its solution ({n_problems} held-out problems"
        + (f", sd over {n_seeds} seeds)" if n_seeds > 1 else ")"),
        fontsize=9,
    )
    ax.legend(fontsize=7, frameon=False)
    save_figure(fig, outputs)


def plot_accuracy_by_op(accuracy: pd.DataFrame, outputs: list[Path]) -> None:
    """Share of held-out problems solved (checker: every step right, the answer right) per op, by the
    model's training data (clean, or with retries at rate q at the same tokens), and the share of
    shortest solutions of the clean model; the shaded side is out of distribution (more operations
    than any training problem); mean over seeds with sd."""
    stats = (
        accuracy.groupby(["data", "op", "in_distribution"])[["accuracy", "shortest"]]
        .agg(["mean", "std"])
        .reset_index()
    )
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    variants = sorted(stats["data"].unique(), key=lambda d: (d != "clean", d))
    lines = [(d, "accuracy", f"correct, {_data_label(d)}") for d in variants]
    lines.append(("clean", "shortest", "correct and shortest, clean data"))
    for k, ((data, column, label), marker) in enumerate(zip(lines, "o^vDs", strict=False)):
        rows = stats[stats["data"] == data]
        dodge = (k - (len(lines) - 1) / 2) * 0.06  # series at the same value stay visible side by side
        ax.errorbar(
            rows["op"] + dodge,
            rows[(column, "mean")],
            yerr=rows[(column, "std")].fillna(0),
            marker=marker,
            capsize=3,
            label=label,
        )
    beyond = stats.loc[~stats["in_distribution"], "op"]
    if len(beyond):
        ax.axvspan(
            beyond.min() - 0.5, beyond.max() + 0.5, color="grey", alpha=0.15, label="out of distribution"
        )
    inside = stats.loc[stats["in_distribution"], "op"]
    ax.hlines(  # over the in-distribution ops only: the paper's number is for those
        MATH_ACCURACY_IN_DISTRIBUTION,
        inside.min() - 0.5,
        inside.max() + 0.5,
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"paper, in distribution (iGSM-med, op <= 15): {MATH_ACCURACY_IN_DISTRIBUTION:.1%}",
    )
    ax.set(xlabel="operations in the solution (op)", ylabel="share of held-out problems", ylim=(0, 1.05))
    ax.set_xticks(sorted(stats["op"].unique()))
    n_seeds = accuracy["seed"].nunique()
    ax.set_title(
        "Parts 2.1 and 2.2: held-out problems solved, by number of operations and training data"
        + (f" (sd over {n_seeds} seeds)" if n_seeds > 1 else ""),
        fontsize=9,
    )
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.15), ncols=2, frameon=False)
    save_figure(fig, outputs)


def plot_vprobes(vprobes: pd.DataFrame, outputs: list[Path]) -> None:
    """Per V-probe task: held-out accuracy of the probe on the trained model and on a random-init
    model of the same shape, and the majority class (black dash); mean over seeds with sd."""
    tasks = [t for t in TASK_LABELS if t in set(vprobes["task"])]
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(7.2, 4.2))
    sns.barplot(
        data=vprobes,
        x="task",
        y="accuracy",
        hue="model",
        hue_order=["trained", "random init"],
        order=tasks,
        errorbar="sd",
        ax=ax,
    )
    majority = vprobes.groupby("task")["majority"].mean()
    for i, task in enumerate(tasks):
        ax.hlines(
            majority[task],
            i - 0.4,
            i + 0.4,
            color="black",
            linewidth=2,
            label="majority class" if i == 0 else None,
        )
        for model, shift in (("trained", -0.2), ("random init", 0.2)):
            value = vprobes[(vprobes.task == task) & (vprobes.model == model)]["accuracy"].mean()
            ax.text(i + shift, value + 0.02, f"{value:.2f}", ha="center", fontsize=6)
            paper = VPROBE_ACCURACY[model].get(task)
            if paper is not None:
                first = i == 0 and model == "trained"
                ax.scatter(
                    i + shift,
                    paper,
                    marker="D",
                    s=22,
                    zorder=3,
                    color="black" if model == "trained" else "white",
                    edgecolor="black",
                    label="paper (GPT2-12-12, iGSM-med op <= 15; filled: trained, hollow: random init)"
                    if first
                    else None,
                )
    ax.set_xticks(range(len(tasks)), [TASK_LABELS[t] for t in tasks], fontsize=7)
    ax.set(xlabel="", ylabel="held-out probe accuracy", ylim=(0, 1.08))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncols=2, frameon=False)
    ax.set_title(
        "Finding 4 (Part 2.1): what a frozen math model knows about each quantity, read by V-probes",
        fontsize=9,
    )
    save_figure(fig, outputs)


DETECTORS = ("probe", "probe, random init", "entropy", "1 - top probability")


def _roc(wrong: pd.Series, score: pd.Series) -> tuple[list[float], list[float]]:
    """False and true positive rates as the flagging threshold falls through the scores (steps with
    equal scores are flagged together: a diagonal segment)."""
    counts = (
        pd.DataFrame({"score": score, "wrong": wrong.astype(int)})
        .groupby("score")["wrong"]
        .agg(["sum", "size"])
    )
    counts = counts.sort_index(ascending=False)
    hits, misses = counts["sum"].cumsum(), (counts["size"] - counts["sum"]).cumsum()
    tpr = [0.0, *(hits / max(hits.iloc[-1], 1))] if len(counts) else [0.0]
    fpr = [0.0, *(misses / max(misses.iloc[-1], 1))] if len(counts) else [0.0]
    return fpr, tpr


def plot_mistake_roc(scores: pd.DataFrame, mistakes: pd.DataFrame, outputs: list[Path]) -> None:
    """ROC curves of each mistake detector (steps of every seed pooled), on held-out random-parameter
    steps (the paper's 99% set) and on the steps the model itself wrote (its real mistakes); the
    legend gives each detector's AUROC, mean over seeds."""
    sets = ["random parameter", "model's own steps"]
    auroc = mistakes.groupby(["set", "detector"])["auroc"].mean()
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, 2, figsize=(8.4, 4.2), sharey=True)
    for ax, where in zip(axes, sets, strict=True):
        rows = scores[scores["set"] == where]
        wrong = int(rows[rows["detector"] == "probe"]["wrong"].sum())
        total = int((rows["detector"] == "probe").sum())
        ax.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="chance")
        ax.set(xlabel="right steps flagged (false positive rate)", title=f"{where}: {wrong} wrong of {total}")
        if wrong in (0, total):  # no ROC without both right and wrong steps
            ax.text(0.5, 0.6, "no ROC: needs both right and wrong steps", ha="center", fontsize=8)
            continue
        for detector in DETECTORS:
            steps = rows[rows["detector"] == detector]
            fpr, tpr = _roc(steps["wrong"], steps["score"])
            ax.plot(fpr, tpr, label=f"{detector} (AUROC {auroc.get((where, detector), float('nan')):.2f})")
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("wrong steps flagged (true positive rate)")
    fig.suptitle(
        "Finding 3 (Part 2.2): does the model know a step is wrong as it starts writing it?\n"
        f"(the paper reports accuracies, not AUROC: {MISTAKE_RANDOM_ACCURACY:.0%} on random parameters, "
        f"about {MISTAKES_FLAGGED:.0%} of the model's first real mistakes flagged)",
        fontsize=9,
    )
    save_figure(fig, outputs)


def plot_decoding(decoding: pd.DataFrame, outputs: list[Path]) -> None:
    """Held-out accuracy against tokens generated per problem: best of k (majority answer) as a curve
    over k, greedy and the two retry decoders as points; mean over seeds."""
    means = decoding.groupby(["strategy", "k"], sort=False)[["accuracy", "tokens"]].mean().reset_index()
    best = means[means["strategy"].str.startswith("best of")].sort_values("tokens")
    sns.set_theme(style="whitegrid", context="paper")
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    ax.plot(best["tokens"], best["accuracy"], marker="o", color="grey", label="best of k (majority answer)")
    for row in best.itertuples():
        ax.annotate(
            f"k={row.k}", (row.tokens, row.accuracy), textcoords="offset points", xytext=(4, -10), fontsize=7
        )
    # Hollow markers of falling size, values in the legend: decoders at the same point (a retry
    # decoder that never resampled is greedy) stay visible.
    for (name, row), marker, size, color in zip(
        means[~means["strategy"].str.startswith("best of")].set_index("strategy").iterrows(),
        "s^D",
        (110, 60, 25),
        sns.color_palette("deep"),
        strict=False,
    ):
        label = f"{name} ({row['accuracy']:.3f} at {row['tokens']:.0f} tokens)"
        ax.scatter(
            row["tokens"],
            row["accuracy"],
            marker=marker,
            s=size,
            label=label,
            zorder=3,
            facecolor="none",
            edgecolor=color,
            linewidth=1.5,
        )
    ax.set(
        xlabel="tokens generated per problem (discarded ones included)",
        ylabel="share of held-out problems solved",
    )
    ax.set_ylim(0, max(0.1, 1.15 * means["accuracy"].max()))
    ax.set_title("Beyond Part 2.2: decoding with the model's own signals, at its cost in tokens", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, outputs)
