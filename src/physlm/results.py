"""Figures and claims named by "module:function", so that a domain adds one by writing the function
and registering it in its rule file, without touching the CLI or any central list.

A figure function takes its tables as DataFrames, by keyword, and the output paths; a claim function
takes its tables likewise and `thresholds`, typed by its annotation (the finding's `FromSection`
dataclass), and returns one claim row or a list of them.
"""

from __future__ import annotations

import importlib
import json
import typing
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from physlm.engine.config_types import decode


def resolve(spec: str) -> Callable:
    """The function `spec` names ("physlm.knowledge.finding2_pretraining:plot_extraction")."""
    module, _, name = spec.partition(":")
    if not module.startswith("physlm.") or not name:
        raise ValueError(f"{spec!r}: expected 'physlm.<module>:<function>'")
    function = getattr(importlib.import_module(module), name, None)
    if not callable(function):
        raise ValueError(f"{spec!r}: {module} has no function {name!r}")
    return function


def read_tables(tables: dict[str, Path]) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(path) for name, path in tables.items()}


def code_of(tables: dict[str, Path]) -> str:
    """The commits of the code that wrote `tables`, from their provenance ("unknown" where none is
    recorded: a table from before commits were recorded, or from an installed wheel)."""
    from physlm.engine.provenance import beside

    commits = set()
    for path in tables.values():
        record = beside(Path(path))
        commits.add((json.loads(record.read_text()).get("commit") if record.exists() else None) or "unknown")
    return ", ".join(sorted(commits))


def draw(*, plot: str, tables: dict[str, Path], outputs: list[Path], footer: str = "") -> None:
    """Step `figure`: draw the figure function `plot` from its tables into `outputs`, with `footer`
    (what the figure came from: scale, data, seeds) and the code of its tables at its foot."""
    from physlm.engine.figures import footer as footnote

    with footnote(" · ".join([*filter(None, [footer]), f"code {code_of(tables)}"])):
        resolve(plot)(**read_tables(tables), outputs=outputs)


def claim(*, function: str, tables: dict[str, Path], thresholds: str, out: Path) -> None:
    """Step `claim`: the claim rows of `function` on its tables, with thresholds from the JSON
    `thresholds` decoded into the type the function declares, as a Parquet table."""
    from physlm.engine.artifacts import write_table
    from physlm.engine.verdict import COLUMNS

    judge = resolve(function)
    kind = typing.get_type_hints(judge)["thresholds"]
    rows = judge(**read_tables(tables), thresholds=decode(kind, thresholds))
    write_table(pd.DataFrame(rows if isinstance(rows, list) else [rows], columns=COLUMNS), out)
