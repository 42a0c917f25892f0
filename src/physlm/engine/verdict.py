"""The claims table's machinery, for every finding: the columns of a claim row, the verdict rule
(supported, refuted only at the paper's scale, else inconclusive), and the table written as Parquet,
Markdown and a web page. A finding's claim builder measures; this module writes the row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from physlm.engine.artifacts import write_table

COLUMNS = [
    "finding",
    "hypothesis",
    "metric",
    "paper_value",
    "measured_value",
    "spread",
    "threshold",
    "verdict",
    "scale",
    "conditions",
    "details",
]
BELOW = "inconclusive: below the paper's conditions"


def scale_of(rows: pd.DataFrame, conditions: dict, pick: str = "min") -> dict:
    """The run's scale on each key of the paper's conditions: the smallest over the runs a claim
    compares (`pick="max"`: the largest, where any one run at scale could show the law)."""
    return {key: float(getattr(rows[key], pick)()) for key in conditions}


def describe(values: dict) -> str:
    return "; ".join(f"{key} {value:,.0f}" for key, value in values.items())


def judge(holds: bool, scale: dict, conditions: dict) -> str:
    """Supported when the effect shows; otherwise refuted only at the paper's scale. Below it, a
    missing effect says nothing: inconclusive, naming each condition the run falls short of."""
    if holds:
        return "supported"
    short = [
        f"{key} {scale[key]:,.0f} < {needed:,}" for key, needed in conditions.items() if scale[key] < needed
    ]
    return f"{BELOW} ({', '.join(short)})" if short else "refuted"


def scale_columns(scale: dict, conditions: dict) -> dict:
    return {"scale": describe(scale), "conditions": describe(conditions)}


def spread_of(values: pd.Series) -> float:
    return float(values.std()) if len(values) > 1 else float("nan")


def claim_row(
    *,
    finding: str,
    hypothesis: str,
    metric: str,
    paper_value: float,
    measured_value: float,
    spread: float,
    threshold: str,
    verdict: str,
    scale: str,
    conditions: str,
    details: str,
) -> dict:
    """One row of the claims table, every column named (a missing one is an error here, not a blank
    cell later)."""
    row = dict(locals())
    return {column: row[column] for column in COLUMNS}


# What a reader sees above each column (the Markdown table uses the same words).
HEADERS = {
    "finding": "finding",
    "hypothesis": "hypothesis",
    "metric": "metric",
    "paper_value": "paper",
    "measured_value": "measured",
    "spread": "spread",
    "threshold": "threshold",
    "verdict": "verdict",
    "scale": "this run's scale",
    "conditions": "paper's conditions",
}
VERDICT_COLORS = {"supported": "#d8f0d8", "refuted": "#f6d5d5", "inconclusive": "#eeeeee"}


def claims_html(table: pd.DataFrame) -> str:
    """The claims table as a standalone page (for `snakemake --report`), verdicts colored."""
    shown = table.drop(columns=["details"]).copy()
    for column in ("paper_value", "measured_value", "spread"):
        shown[column] = shown[column].map(lambda v: "" if pd.isna(v) else f"{v:.3f}")
    body = (
        shown.style.set_uuid("claims")  # a fixed id: the same table, the same page
        .hide(axis="index")
        .map(lambda v: f"background-color: {VERDICT_COLORS[v.split(':')[0]]}", subset=["verdict"])
        .relabel_index([HEADERS[c] for c in shown.columns], axis="columns")
    )
    details = "".join(f"<li><b>{r.finding}</b>: {r.details}</li>" for r in table.itertuples())
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Claims</title><style>"
        "body{font-family:sans-serif;margin:1em} table{border-collapse:collapse} "
        "td,th{border:1px solid #bbb;padding:4px 8px;text-align:left}</style></head><body>"
        "<h1>Claims</h1><p>Each finding as a refutable claim; thresholds are fixed in the config "
        "before any run. Spread is the standard deviation over seeds (blank with one seed). A run below "
        "the paper's conditions can support a claim but not refute it.</p>"
        f"{body.to_html()}<h2>Details</h2><ul>{details}</ul></body></html>\n"
    )


def write_claims(*, rows: list[Path], markdown: Path, parquet: Path, html: Path | None = None) -> None:
    """Step `claims`: every domain's claim rows (written by `results.claim`) in one table, as
    Parquet, Markdown and (for the report) a web page."""
    table = pd.concat([pd.read_parquet(p) for p in rows], ignore_index=True)[COLUMNS]
    table = table.sort_values("finding", key=lambda f: f.str[:2], kind="stable")  # F1, F2, F3, F4, F5
    write_table(table, parquet)
    lines = [
        "# Claims",
        "",
        "Each finding as a refutable claim; thresholds are fixed in the config before any run.",
        "Spread is the standard deviation over seeds (blank with one seed).",
        "",
        "A run below the paper's conditions can support a claim but not refute it.",
        "",
        "| finding | hypothesis | metric | paper | measured | spread | threshold | verdict "
        "| this run's scale | paper's conditions |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in table.itertuples():
        spread = "" if pd.isna(r.spread) else f"{r.spread:.3f}"
        paper = "" if pd.isna(r.paper_value) else f"{r.paper_value:.3f}"
        lines.append(
            f"| {r.finding} | {r.hypothesis} | {r.metric} | {paper} | {r.measured_value:.3f} | {spread} "
            f"| {r.threshold} | **{r.verdict}** | {r.scale} | {r.conditions} |"
        )
    lines += ["", "## Details", ""] + [f"- {r.finding}: {r.details}" for r in table.itertuples()]
    markdown.write_text("\n".join(lines) + "\n")
    if html:
        html.write_text(claims_html(table))
