"""Figures of the math domain (Parts 2.1, 2.2): the learning curves, accuracy by op (clean and retry
data), V-probe accuracy per task, the mistake detectors' ROC curves, and accuracy against tokens per
decoder."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from physlm.engine.figures import save_figure
from physlm.engine.training_figure import through_stages
from physlm.reasoning.finding4_planning import MATH_ACCURACY_IN_DISTRIBUTION


def _data_label(data: str) -> str:
    return "clean data" if data == "clean" else f"retry data, q = {data.removeprefix('retry')}"


MARKERS = ["o", "s", "^", "D", "v", "P", "X", "<", ">", "*", "h", "p"]


def plot_math_curves(curves: pd.DataFrame, outputs: list[Path]) -> None:
    """The clean model's learning curves through its curriculum, on fixed held-out problems: greedy
    accuracy per op (solid: distinct letters, as every decoder here writes; dashed: letters free, as
    the model alone would), and teacher-forced accuracy per token role (is the most likely next token
    right, given the right solution so far), and the decision after each step (end or go on, by what
    the question asks: issue 36's diagnosis); mean over seeds; dotted: where a later stage begins."""
    table = through_stages(curves[curves["data"] == "clean"], ["seed", "data"])
    mean = table.groupby(["measure", "group", "step"])["accuracy"].mean().reset_index()
    sns.set_theme(style="whitegrid", context="paper")
    fig, (left, right, decision) = plt.subplots(
        1, 3, figsize=(17, 4.2), sharey=True, gridspec_kw={"width_ratios": [1, 1, 0.8], "wspace": 0.45}
    )
    ops = sorted(mean.loc[mean["measure"] == "greedy", "group"].unique(), key=lambda g: int(g.split()[1]))
    palette = dict(zip(ops, sns.color_palette("viridis", len(ops)), strict=True))
    markers = dict(zip(ops, MARKERS, strict=False))  # lines that coincide (all at 0) stay told apart
    for measure, style in (("greedy", "-"), ("greedy, letters free", "--")):
        for op in ops:
            rows = mean[(mean["measure"] == measure) & (mean["group"] == op)]
            label = op if style == "-" else None
            left.plot(
                rows["step"],
                rows["accuracy"],
                style,
                marker=markers.get(op, "o"),
                markersize=4,
                fillstyle="none",
                color=palette[op],
                label=label,
            )
    left.plot([], [], "k-", label="distinct letters (the decoders')")
    left.plot([], [], "k--", label="letters free (greedy alone)")
    starts = sorted(set(table.loc[table["stage"] > 1, "offset"]))
    for ax in (left, right, decision):
        for i, start in enumerate(starts):
            label = "a later curriculum stage begins" if i == 0 and ax is left else None
            ax.axvline(start, color="grey", linestyle=":", linewidth=1, label=label)
    left.set(
        xlabel="training step", ylabel="accuracy", ylim=(-0.02, 1.02), title="greedy, held-out problems by op"
    )
    left.legend(fontsize=7, frameon=False)
    roles = mean[mean["measure"] == "teacher-forced"]
    # Ten roles: colour, marker and dash each vary, so that roles on the same values stay apart.
    sns.lineplot(
        roles,
        x="step",
        y="accuracy",
        hue="group",
        style="group",
        palette="tab10",
        markers=MARKERS[: roles["group"].nunique()],
        markersize=4,
        ax=right,
    )
    right.set(xlabel="training step", title="teacher-forced, by token role")
    # Beside the panel: inside, it hides the lines that end low (a new letter is a random symbol).
    right.legend(fontsize=7, frameon=False, loc="upper left", bbox_to_anchor=(1.01, 1), title="token role")
    _decision_panel(decision, mean[mean["measure"] == "decision"])
    n_seeds = curves["seed"].nunique()
    fig.suptitle(
        "Part 2.1 at small scale: where the math model fails, and when it moved"
        + (f" (mean of {n_seeds} seeds)" if n_seeds > 1 else ""),
        fontsize=9,
    )
    save_figure(fig, outputs)


def _decision_panel(ax, decisions: pd.DataFrame) -> None:
    """The decision after each step's period, teacher-forced: end after the asked parameter's step,
    go on after another step, split by what the question asks (a model that ends by the question's
    kind goes on for abstract questions and guesses for stated ones)."""
    if decisions.empty:  # curves from before the measure existed
        ax.text(0.5, 0.5, "not measured by these runs", transform=ax.transAxes, ha="center", fontsize=8)
    for (group, rows), marker in zip(decisions.groupby("group"), MARKERS, strict=False):
        ax.plot(rows["step"], rows["accuracy"], marker=marker, markersize=4, fillstyle="none", label=group)
    ax.set(xlabel="training step", title="teacher-forced: end or go on after a step")
    ax.legend(fontsize=7, frameon=False, loc="lower right")


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


DECISION_KINDS = {  # (last, asked) -> what the step just written was
    (True, "stated"): "the asked parameter (ending is right)",
    (True, "abstract"): "the asked parameter (ending is right)",
    (False, "stated"): "another one; asked: a stated parameter",
    (False, "abstract"): "another one; asked: an abstract parameter",
}


def plot_decision(decision: pd.DataFrame, outputs: list[Path]) -> None:
    """The decision after each step of the reference solutions, teacher-forced (physlm.reasoning.decision):
    left, the share of steps after which greedy decoding would end (P(end) > 0.5) by op and by what
    the step just defined; right, the share of attention each layer gives the question from that
    period, by the same kinds of step, trained (solid) against random init (dashed); steps of every
    seed pooled, attention a mean over seeds."""
    kinds = [DECISION_KINDS[(bool(a), b)] for a, b in zip(decision["last"], decision["asked"], strict=True)]
    decision = decision.assign(kind=kinds)
    ends = decision[(decision["measure"] == "ends") & (decision["model"] == "trained")]
    weighted = ends.assign(hits=ends["value"] * ends["n"]).groupby(["kind", "op"])[["hits", "n"]].sum()
    share = (weighted["hits"] / weighted["n"]).rename("ends").reset_index()
    looks = decision[(decision["measure"] == "attention") & (decision["part"] == "question")]
    looks = looks.groupby(["model", "kind", "layer"])["value"].mean().reset_index()
    sns.set_theme(style="whitegrid", context="paper")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2))
    order = list(dict.fromkeys(DECISION_KINDS.values()))
    palette = dict(zip(order, sns.color_palette("deep", len(order)), strict=True))
    markers = dict(zip(order, "Dos", strict=True))
    for kind, rows in share.groupby("kind"):
        left.plot(rows["op"], rows["ends"], marker=markers[kind], color=palette[kind], label=kind)
    left.set(
        xlabel="op of the problem",
        ylabel="share of steps after which greedy ends",
        ylim=(-0.02, 1.02),
        xticks=sorted(share["op"].unique()),
        title="does the model end the solution after a step?",
    )
    left.legend(fontsize=7, title="the step just written defined", title_fontsize=7)
    for (model, kind), rows in looks.groupby(["model", "kind"]):
        style = "-" if model == "trained" else "--"
        right.plot(
            rows["layer"], rows["value"], style, marker=markers[kind], markersize=3, color=palette[kind]
        )
    for kind in order:
        right.plot([], [], "-", marker=markers[kind], color=palette[kind], label=kind)
    right.plot([], [], "k-", label="trained")
    right.plot([], [], "k--", label="random init")
    right.set(
        xlabel="layer",
        ylabel="share of attention on the question",
        ylim=(-0.02, max(0.5, 1.1 * looks["value"].max())),
        xticks=sorted(looks["layer"].unique()),
        title="from that period, how much each layer looks at the question",
    )
    right.legend(fontsize=7)
    n_seeds = decision["seed"].nunique() if "seed" in decision else 1
    fig.suptitle(
        "Knowing when a solution is done: teacher-forced on the reference solutions of held-out problems"
        + (f" ({n_seeds} seeds)" if n_seeds > 1 else ""),
        fontsize=9,
    )
    save_figure(fig, outputs)
