"""The claims table: each finding as a refutable claim with a verdict.

Thresholds come from the config and are fixed before any run; this module only applies them.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from physlm.paper import QA_ACCURACY

COLUMNS = [
    "finding",
    "hypothesis",
    "metric",
    "paper_value",
    "measured_value",
    "spread",
    "threshold",
    "verdict",
    "details",
]


def _mean_accuracy(
    metrics: pd.DataFrame, regime: str, variant: str, split: str, column: str = "accuracy"
) -> pd.Series:
    """Mean of `column` over attributes, one value per seed."""
    rows = metrics[(metrics.regime == regime) & (metrics.variant == variant) & (metrics.split == split)]
    if rows.empty:
        raise ValueError(f"no {split} QA metrics for {regime} training on bioS {variant}")
    return rows.groupby("seed")[column].mean()


def knowledge_claim(metrics: pd.DataFrame, thresholds: dict) -> dict:
    """Finding 2: extraction of held-out people's knowledge needs it in pretraining (or augmentation).

    Measured value: the smaller of the two gaps (mixed minus single pretrain-then-finetune, and
    multi5_permute minus single), per seed, averaged. A setting whose QA-train accuracy is below
    `min_fit` did not learn its own training questions, so a low held-out score would say nothing:
    the verdict is then inconclusive.
    """
    settings = {
        "mixed single": ("mixed", "single"),
        "finetune single": ("finetune", "single"),
        "finetune multi5_permute": ("finetune", "multi5_permute"),
    }
    test = {k: _mean_accuracy(metrics, *v, "test") for k, v in settings.items()}
    train = {k: _mean_accuracy(metrics, *v, "train") for k, v in settings.items()}
    base = test["finetune single"]
    gap = pd.concat([test["mixed single"] - base, test["finetune multi5_permute"] - base], axis=1).min(axis=1)
    paper = {k: QA_ACCURACY[v] for k, v in settings.items()}
    paper_gap = min(paper["mixed single"], paper["finetune multi5_permute"]) - paper["finetune single"]
    unfit = [k for k, v in train.items() if v.mean() < thresholds["min_fit"]]
    if unfit:
        verdict = "inconclusive"
    elif gap.mean() >= thresholds["min_gap"]:
        verdict = "supported"
    else:
        verdict = "refuted"
    stored = {k: _mean_accuracy(metrics, *v, "test", "bio_recall").mean() for k, v in settings.items()}
    details = "; ".join(
        f"{k}: held-out QA {test[k].mean():.3f} (paper {paper[k]:.3f}), QA-train {train[k].mean():.3f}, "
        f"held-out bio recall {stored[k]:.3f}"
        for k in settings
    )
    if unfit:
        details += f"; below min_fit={thresholds['min_fit']} on QA-train: {', '.join(unfit)}"
    return {
        "finding": "F2 knowledge must be in pretraining",
        "hypothesis": "held-out QA is high after mixed training and after multi5_permute "
        "pretraining + finetune, low after single pretraining + finetune",
        "metric": "min(mixed, multi5_permute) - single held-out QA accuracy",
        "paper_value": paper_gap,
        "measured_value": float(gap.mean()),
        "spread": float(gap.std()) if len(gap) > 1 else float("nan"),
        "threshold": float(thresholds["min_gap"]),
        "verdict": verdict,
        "details": details,
    }


def write_claims(rows: list[dict], markdown: Path, parquet: Path) -> None:
    table = pd.DataFrame(rows, columns=COLUMNS)
    parquet.parent.mkdir(parents=True, exist_ok=True)
    table.to_parquet(parquet, index=False)
    lines = [
        "# Claims",
        "",
        "Each finding as a refutable claim; thresholds are fixed in the config before any run.",
        "Spread is the standard deviation over seeds (blank with one seed).",
        "",
        "| finding | hypothesis | metric | paper | measured | spread | threshold | verdict |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        spread = "" if pd.isna(r.spread) else f"{r.spread:.3f}"
        lines.append(
            f"| {r.finding} | {r.hypothesis} | {r.metric} | {r.paper_value:.3f} | "
            f"{r.measured_value:.3f} | {spread} | >= {r.threshold:.3f} | **{r.verdict}** |"
        )
    lines += ["", "## Details", ""] + [f"- {r.finding}: {r.details}" for r in table.itertuples()]
    markdown.write_text("\n".join(lines) + "\n")
