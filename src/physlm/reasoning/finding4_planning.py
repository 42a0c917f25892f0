"""Finding 4, models plan before speaking (Part 2.1): a probe reads which quantities a solution
needs before it starts. The paper's numbers (V-probing read from an image of its Figure 7(a), to
its precision) and conditions, the claim's thresholds, its builder, its figures (V-probes, attention
at the solution's start)."""

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

# The paper's numbers and the conditions it reports them at.

# Part 2.1, Figure 7(a): V-probing accuracy on iGSM-med in distribution (op <= 15, problem before
# question), the pretrained GPT2-12-12 and a random-init model under the same probe; the majority
# class is the random model's on dep and nece_next.
VPROBE_ACCURACY = {
    "trained": {
        "nece": 0.998,
        "dep": 0.997,
        "known": 1.000,
        "value": 1.000,
        "can_next": 0.999,
        "nece_next": 0.999,
    },
    "random init": {
        "nece": 0.747,
        "dep": 0.846,
        "known": 0.872,
        "value": 0.719,
        "can_next": 0.658,
        "nece_next": 0.946,
    },
}

VPROBE_MAJORITY = {
    "nece": 0.747,
    "dep": 0.846,
    "known": 0.870,
    "value": 0.865,
    "can_next": 0.574,
    "nece_next": 0.949,
}

# Part 2.1: iGSM-med pq accuracy in distribution (op <= 15), GPT2-12-12 trained ~100K steps x 512 x 768
# tokens (about 39B tokens); V-probes read those models, and Part 2.2's mistake probes and retry data
# use the same (the papers' smallest for these findings).
MATH_ACCURACY_IN_DISTRIBUTION = 0.999

MATH_CONDITIONS = {"n_layer": 12, "pretrain_steps": 100_000, "train_tokens": 39_000_000_000}


# The claim's thresholds (the config's `claims` section; fixed before any run).


@dataclass(frozen=True)
class MathThresholds(FromSection):
    SCHEMA = "#/properties/claims/properties/math"

    min_gap: float
    min_accuracy: float


# The claim.


def planning_claim(vprobes: pd.DataFrame, accuracy: pd.DataFrame, thresholds: MathThresholds) -> dict:
    """Finding 4: before writing any solution token, the model knows which parameters the question
    needs. Measured: held-out nece(A) probe accuracy at the end of the question, minus the larger of
    the random-init model's and the majority class's, per seed. Inconclusive when the model does not
    solve its in-distribution problems (mean accuracy over ops below `min_accuracy`): a probe then has
    no learned model to read."""
    require_columns(vprobes, ("seed", "task", "model"), "the V-probe table")
    require_columns(accuracy, ("seed", "data", "op", "in_distribution"), "the math accuracy table")
    accuracy = accuracy[accuracy.data == "clean"]
    if "nece" not in set(vprobes.task):
        raise ValueError("the V-probe table has no nece task: add it to math.vprobe.tasks")
    by_task = vprobes.groupby(["task", "model"])[["accuracy", "majority"]].mean()
    nece = vprobes[vprobes.task == "nece"].set_index(["model", "seed"])
    trained, random = nece.loc["trained"], nece.loc["random init"]
    gap = trained["accuracy"] - pd.concat([random["accuracy"], trained["majority"]], axis=1).max(axis=1)
    solved = accuracy[accuracy.in_distribution].groupby("seed")["accuracy"].mean()
    beyond = accuracy[~accuracy.in_distribution]["accuracy"].mean()
    scale = scale_of(vprobes[vprobes.model == "trained"], MATH_CONDITIONS)
    if solved.mean() < thresholds.min_accuracy:
        verdict = (
            f"inconclusive: the model solves {solved.mean():.3f} < {thresholds.min_accuracy} of its "
            "in-distribution problems, so there is no learned model to read"
        )
    else:
        verdict = judge(gap.mean() >= thresholds.min_gap, scale, MATH_CONDITIONS)

    def task(name: str) -> str:
        trained, random = by_task.loc[(name, "trained")], by_task.loc[(name, "random init")]
        return f"{name} {trained['accuracy']:.3f} / {random['accuracy']:.3f} / {trained['majority']:.3f}"

    tasks = "; ".join(task(name) for name in dict.fromkeys(vprobes.task))
    return claim_row(
        finding="F4 planning: V-probing",
        hypothesis="before writing the solution the model knows which parameters the question needs: "
        "nece(A) read at the end of the question beats a random-init model and the majority class",
        metric="held-out nece(A) probe accuracy minus max(random init, majority class)",
        paper_value=VPROBE_ACCURACY["trained"]["nece"]
        - max(VPROBE_ACCURACY["random init"]["nece"], VPROBE_MAJORITY["nece"]),
        measured_value=float(gap.mean()),
        spread=spread_of(gap),
        threshold=f">= {thresholds.min_gap:.3f}",
        verdict=verdict,
        **scale_columns(scale, MATH_CONDITIONS),
        details=f"probe accuracy trained / random init / majority: {tasks}; problems solved in "
        f"distribution {solved.mean():.3f}, out of distribution {beyond:.3f}",
    )


# The figure.

TASK_LABELS = {  # in the order of physlm.reasoning.vprobe.TASKS (not imported: a figure needs no torch)
    "nece": "nece(A)\nend of question",
    "dep": "dep(A, B)\nend of problem",
    "known": "known(A)\nsentence starts",
    "value": "value(A)\nsentence starts",
    "can_next": "can_next(A)\nsentence starts",
    "nece_next": "nece_next(A)\nsentence starts",
}


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
            # at the bar's foot: above its top sit the error bar, the paper's diamond, the majority
            shade = "white" if value > 0.08 else "black"  # inside the bar, or above an empty one
            ax.text(i + shift, 0.02, f"{value:.2f}", ha="center", va="bottom", fontsize=6, color=shade)
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
