"""Figure for finding 2: QA accuracy on held-out people per training setting."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

from physlm.paper import QA_ACCURACY

REGIME_NAMES = {"mixed": "mixed training", "finetune": "pretrain + finetune"}


def _setting(regime: str, variant: str) -> str:
    return f"{REGIME_NAMES[regime]}\n{variant.replace('_', '+')}"


def plot_extraction(metrics: pd.DataFrame, outputs: list[Path]) -> None:
    """Left: held-out accuracy per attribute with the paper's mean; right: QA-train vs held-out."""
    data = metrics.assign(
        setting=[_setting(r, v) for r, v in zip(metrics.regime, metrics.variant, strict=True)]
    )
    order = sorted(data.setting.unique(), key=lambda s: (not s.startswith("mixed"), s))
    sns.set_theme(style="whitegrid", context="paper")
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.2), width_ratios=[2.2, 1])
    test = data[data.split == "test"]
    sns.barplot(test, x="setting", y="accuracy", hue="attribute", order=order, errorbar="sd", ax=left)
    paper = {_setting(r, v): acc for (r, v), acc in QA_ACCURACY.items()}
    xs = [i for i, s in enumerate(order) if s in paper]
    left.scatter(xs, [paper[order[i]] for i in xs], marker="D", color="black", zorder=5, label="paper (mean)")
    left.set(
        ylim=(0, 1.02), xlabel="", ylabel="exact-match accuracy", title="QA on held-out people (QA-test half)"
    )
    left.legend(fontsize=7, ncols=2, loc="upper left")
    means = data.groupby(["setting", "split", "seed"], as_index=False)["accuracy"].mean()
    means["split"] = means["split"].map({"train": "QA-train people", "test": "held-out people"})
    sns.barplot(means, x="setting", y="accuracy", hue="split", order=order, errorbar="sd", ax=right)
    right.set(ylim=(0, 1.02), xlabel="", ylabel="mean accuracy over attributes", title="Fit vs extraction")
    right.legend(fontsize=7)
    for ax in (left, right):
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("Knowledge is extractable for unseen people only if pretraining made it so (Part 3.1)")
    fig.tight_layout()
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=150)
    plt.close(fig)
