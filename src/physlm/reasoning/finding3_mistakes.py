"""Finding 3, models detect their own mistakes (Part 2.2), and decoding that listens to them
(beyond the paper). The paper's numbers, the claims' thresholds, their builder, the figures (the
detectors' ROC curves, accuracy against tokens per decoder)."""

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
from physlm.reasoning.finding4_planning import MATH_CONDITIONS

# The paper's numbers and the conditions it reports them at.

# Part 2.2: the can_next probe at "Define A as": 99% on random A, about 60% of the model's real first
# mistakes flagged; retry data (q = 0.5) at equal tokens lifts med op = 23 from 78% to 94-95%.
MISTAKE_RANDOM_ACCURACY = 0.99

MISTAKES_FLAGGED = 0.6

RETRY_ACCURACY = (0.78, 0.945)


# The claim's thresholds (the config's `claims` section; fixed before any run).


@dataclass(frozen=True)
class MistakeThresholds(FromSection):
    """Finding 3's claims: the probe's AUROC on the model's own steps over the best other detector;
    retry data's in-distribution accuracy over clean data's; probe retry's accuracy over best of k at
    the same generated tokens."""

    SCHEMA = "#/properties/claims/properties/mistakes"

    min_auroc_gap: float
    min_retry_gain: float
    min_decoding_gain: float


# The claim.

OTHER_DETECTORS = ("probe, random init", "entropy", "1 - top probability")

# Sets of physlm.reasoning.mistakes (not imported: claims need no torch). The claim reads the
# model's own steps whose first error can_next(A) is about: A not computable yet, against the right
# steps at the same sentence index (the paper's 60% is of such mistakes; a wrong value of a
# computable parameter is invisible to can_next by definition).
OWN = "model's own steps"
SEEN = f"{OWN}: not computable"
SETS = (SEEN, OWN, f"{OWN}: redefined", "model's prefixes, every parameter", "random parameter, balanced")


def _probe_claim(mistakes: pd.DataFrame, min_gap: float) -> dict:
    """Finding 3: the mistake probe flags the model's own not-computable steps better than any other
    detector."""
    require_columns(mistakes, ("seed", "set", "detector", "auroc", "recall", "wrong"), "the mistakes table")
    own = mistakes[mistakes.set == SEEN].pivot(index="seed", columns="detector", values="auroc")
    gap = own["probe"] - own[list(OTHER_DETECTORS)].max(axis=1)
    scale = scale_of(mistakes, MATH_CONDITIONS)
    wrong = mistakes[(mistakes.set == SEEN) & (mistakes.detector == "probe")]
    if wrong["wrong"].sum() == 0 or gap.isna().all():
        verdict = "inconclusive: the model made no such mistakes (or no right steps) to tell apart"
    else:
        verdict = judge(gap.mean() >= min_gap, scale, MATH_CONDITIONS)
    means = mistakes.groupby(["set", "detector"])[["auroc", "recall", "accuracy"]].mean()

    def line(where: str) -> str:
        rows = means.loc[where]
        aurocs = ", ".join(f"{d} {rows.loc[d, 'auroc']:.3f}" for d in ("probe", *OTHER_DETECTORS))
        probe = rows.loc["probe"]
        return (
            f"{where}: AUROC {aurocs}; probe accuracy {probe['accuracy']:.3f}, recall {probe['recall']:.3f}"
        )

    return claim_row(
        finding="F3 mistakes: probe",
        hypothesis="a probe on the hidden state at 'Define A as' flags the model's own not-computable "
        "steps better than the same probe on a random-init model and the model's own uncertainty",
        metric="AUROC on the model's own steps (first error: not computable, against right steps at "
        "the same sentence index): probe minus the best of random init, entropy, top probability "
        "(the paper reports accuracies, no AUROC: no paper value)",
        paper_value=float("nan"),
        measured_value=float(gap.mean()),
        spread=spread_of(gap),
        threshold=f">= {min_gap:.3f}",
        verdict=verdict,
        **scale_columns(scale, MATH_CONDITIONS),
        details=f"{line(SEEN)} ({int(wrong['wrong'].sum())} not computable of {int(wrong['n'].sum())} "
        f"steps; paper: about {MISTAKES_FLAGGED:.0%} of such first mistakes flagged); "
        + "; ".join(line(where) for where in SETS[1:] if where in means.index)
        + f"; {line('random parameter')} (paper: {MISTAKE_RANDOM_ACCURACY:.0%} accurate)",
    )


def _retry_claims(accuracy: pd.DataFrame, min_gain: float) -> list[dict]:
    """Retry data: at equal training tokens, a model trained with retries solves more of its
    in-distribution problems than one trained on clean data. One claim per retry rate."""
    solved = accuracy[accuracy.in_distribution].groupby(["data", "seed"])["accuracy"].mean()
    rows = []
    for data in sorted(set(accuracy.data) - {"clean"}):
        gain = solved.loc[data] - solved.loc["clean"]
        runs = accuracy[accuracy.data.isin(["clean", data])]
        scale = scale_of(runs, MATH_CONDITIONS)
        rows.append(
            claim_row(
                finding=f"F3 mistakes: retry data ({data.removeprefix('retry')})",
                hypothesis="at equal training tokens, retry data (wrong steps taken back with [BACK]) "
                "beats clean data",
                metric="in-distribution accuracy, retry minus clean",
                paper_value=RETRY_ACCURACY[1] - RETRY_ACCURACY[0],
                measured_value=float(gain.mean()),
                spread=spread_of(gain),
                threshold=f">= {min_gain:.3f}",
                verdict=judge(gain.mean() >= min_gain, scale, MATH_CONDITIONS),
                **scale_columns(scale, MATH_CONDITIONS),
                details=f"in distribution: clean {solved.loc['clean'].mean():.3f}, {data} "
                f"{solved.loc[data].mean():.3f}; paper (iGSM-med op = 23, q = 0.5): "
                f"{RETRY_ACCURACY[0]:.0%} -> {RETRY_ACCURACY[1]:.1%}",
            )
        )
    return rows


def _decoding_claim(decoding: pd.DataFrame, mistakes: pd.DataFrame, min_gain: float) -> dict:
    """Beyond the paper: retrying where the mistake probe fires beats the undirected decoders at the
    same number of generated tokens: best of k (its accuracy interpolated over k at the probe's
    tokens) and greedy, when greedy spends no more. Greedy is the baseline a probe that never fires
    reproduces exactly; best of 1 samples and is weaker, so against best of k alone such a probe
    would "win" without doing anything."""
    require_columns(decoding, ("seed", "strategy", "k", "accuracy", "tokens"), "the decoding table")
    gains, beyond = [], []
    for _, runs in decoding.groupby("seed"):
        best = runs[runs.strategy.str.startswith("best of")].sort_values("tokens")
        probe = runs[runs.strategy == "probe retry"].iloc[0]
        greedy = runs[(runs.strategy == "greedy") & (runs.tokens <= probe["tokens"])]
        beyond.append(probe["tokens"] > best["tokens"].max())
        baseline = max([np.interp(probe["tokens"], best["tokens"], best["accuracy"]), *greedy["accuracy"]])
        gains.append(probe["accuracy"] - baseline)
    gain = pd.Series(gains)
    scale = scale_of(mistakes, MATH_CONDITIONS)
    if any(beyond):
        verdict = "inconclusive: probe retry spent more tokens than the largest best of k (add a larger k)"
    else:
        verdict = judge(gain.mean() >= min_gain, scale, MATH_CONDITIONS)
    table = decoding.groupby("strategy", sort=False)[["accuracy", "tokens"]].mean()
    shown = "; ".join(f"{name} {r.accuracy:.3f} ({r.tokens:.0f} tokens)" for name, r in table.iterrows())
    return claim_row(
        finding="F3+ decoding: probe retry vs best of k",
        hypothesis="beyond the paper: resampling a step where the mistake probe fires beats best of k "
        "(majority answer) and greedy at equal generated tokens",
        metric="accuracy, probe retry minus the better of best of k and greedy at equal tokens per problem",
        paper_value=float("nan"),
        measured_value=float(gain.mean()),
        spread=spread_of(gain),
        threshold=f">= {min_gain:.3f}",
        verdict=verdict,
        **scale_columns(scale, MATH_CONDITIONS),
        details=f"accuracy (tokens per problem): {shown}",
    )


def mistake_claims(
    mistakes: pd.DataFrame, accuracy: pd.DataFrame, decoding: pd.DataFrame, thresholds: MistakeThresholds
) -> list[dict]:
    """Finding 3 (Part 2.2) and the step beyond it: the mistake probe, retry data, probe-guided
    decoding; each below the paper's model scale can support but not refute."""
    require_columns(accuracy, ("seed", "data", "in_distribution", "accuracy"), "the math accuracy table")
    return [
        _probe_claim(mistakes, thresholds.min_auroc_gap),
        *_retry_claims(accuracy, thresholds.min_retry_gain),
        _decoding_claim(decoding, mistakes, thresholds.min_decoding_gain),
    ]


# The figure.

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
    steps (the paper's 99% set), on the same balanced within A's role and position (what the probe
    reads beyond the role), and on the steps the model itself wrote (its real mistakes); the legend
    gives each detector's AUROC, mean over seeds."""
    sets = ["random parameter", "random parameter, balanced", OWN]
    auroc = mistakes.groupby(["set", "detector"])["auroc"].mean()
    sns.set_theme(style="whitegrid", context="paper")
    fig, axes = plt.subplots(1, 3, figsize=(12.6, 5.2), sharey=True)
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
        # below the panel: inside, it would cover the curves it names
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), frameon=False)
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
        ax.annotate(  # above the point: below it, k = 1 and 2 met the axis' tick labels
            f"k={row.k}",
            (row.tokens, row.accuracy),
            textcoords="offset points",
            xytext=(0, 6),
            fontsize=7,
            ha="center",
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
