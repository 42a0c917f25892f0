"""Reading and writing what the steps pass each other: tables, model folders, metrics.

Every file is written under a temporary name and renamed when complete, so an interrupted job never
leaves a plausible-looking output, and each gets its provenance beside it. A metrics table carries
its identity (the rule's wildcards: variant, seed, task ...) as columns, added here by one function
and checked by the readers that group by them, so a missing one fails loudly instead of silently
merging runs.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from physlm.engine.provenance import write_provenance

SCALE_FILE = "scale.json"  # inside a saved model folder: the scale of the training that made it


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Write a Parquet table atomically, with its provenance beside it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    frame.to_parquet(tmp, index=False)
    write_provenance(path)
    tmp.replace(path)


def mark(folder: Path) -> None:
    """Record the provenance of a folder a library wrote (a tokenizer, a model)."""
    write_provenance(folder)


def _quiet_transformers() -> None:
    """No progress bars for loading and writing weights in a step's log (tiny models, instant)."""
    from transformers.utils import logging

    logging.disable_progress_bar()


def save_model(model, tokenizer, scale: dict, out: Path) -> None:
    """A Hugging Face model folder (weights, config, tokenizer) with the scale of its training,
    moved into place only when complete."""
    _quiet_transformers()
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.to("cpu").save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    (tmp / SCALE_FILE).write_text(json.dumps(scale, indent=2) + "\n")
    mark(tmp)
    shutil.rmtree(out, ignore_errors=True)
    tmp.rename(out)


def load_model(folder: Path, device=None):
    """(model, tokenizer) from a saved model folder, the model in eval mode on `device`."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _quiet_transformers()
    model = AutoModelForCausalLM.from_pretrained(folder)
    return (model.to(device) if device is not None else model).eval(), AutoTokenizer.from_pretrained(folder)


def with_random_init(folder: Path, shape, seed: int):
    """(trained model, random-init model of its `shape` (a ModelConfig), tokenizer): the pair every
    probe and attention measure compares, so that what it reads is told from what position and
    architecture alone give."""
    from physlm.engine.models import build_model

    trained, tokenizer = load_model(folder)
    random_init = build_model(shape, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed)
    return trained, random_init, tokenizer


def read_scale(folder: Path) -> dict:
    """How big the training behind a saved model was (people, exposures, steps, layers)."""
    return json.loads((folder / SCALE_FILE).read_text())


def with_identity(table: pd.DataFrame, identity: dict, scale: dict | None = None) -> pd.DataFrame:
    """A metrics table with the columns that say which run it measures: the rule's wildcards
    (`identity`) and, for a trained model, the scale of its training (claims set it beside the
    paper's conditions)."""
    clash = sorted(set(identity) & set(table.columns))
    if clash:
        raise ValueError(f"identity columns {clash} would overwrite measured columns")
    # The wildcard wins where the scale has the same key: capacity's `exposures` is the grid's E,
    # where its scale has the exposures the step count gave (the same up to rounding of windows).
    return table.assign(**{**(scale or {}), **identity})


def require_columns(table: pd.DataFrame, columns: Iterable[str], what: str) -> pd.DataFrame:
    """`table`, after checking it has `columns` (those its reader groups by)."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(
            f"{what} lacks the column(s) {', '.join(missing)} (has: {', '.join(table.columns)}); "
            "each comes from a wildcard of the rule that wrote the table"
        )
    return table


def collect_logs(*, tables: list[Path], identities: str, out: Path) -> None:
    """Step `collect-logs`: training logs (which carry no identity) in one table, each with the
    columns of its run's identity (`identities`: a JSON list, one object per table, in order)."""
    runs = json.loads(identities)
    if len(runs) != len(tables):
        raise ValueError(f"{len(tables)} training logs but {len(runs)} identities")
    frames = [pd.read_parquet(path).assign(**run) for path, run in zip(tables, runs, strict=True)]
    write_table(pd.concat(frames, ignore_index=True), out)


def collect(*, tables: list[Path], out: Path) -> None:
    """Step `collect`: concatenate metrics tables of one kind; all must have the same columns."""
    frames = [pd.read_parquet(p) for p in tables]
    for path, frame in zip(tables, frames, strict=True):
        if list(frame.columns) != list(frames[0].columns):
            differ = sorted(set(frame.columns) ^ set(frames[0].columns))
            raise ValueError(f"{path} and {tables[0]} differ in the columns {differ}")
    write_table(pd.concat(frames, ignore_index=True), out)
