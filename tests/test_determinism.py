"""Same config and seed, same results: data files byte for byte, metrics (on CPU) value for value."""

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from smk import SECOND_RUN, copy_workflow, snakemake

TIMING = ["tokens_per_s", "model_tflops_per_s"]  # wall-clock measurements, the only thing allowed to differ


def _plain(value):
    """Arrays in cells (biography offsets, bioD chunks: arrays of arrays) as nested lists."""
    return [_plain(v) for v in value] if isinstance(value, np.ndarray | list) else value


def _content(table: pd.DataFrame) -> pd.DataFrame:
    return table.drop(columns=[c for c in TIMING if c in table]).apply(lambda col: col.map(_plain))


def _second_run(request, tmp_path) -> Path:
    """The SLURM test's run where a cluster is available (so results must also not depend on the
    executor), else a second local run of the same targets (smk.SECOND_RUN)."""
    try:
        again, run = request.getfixturevalue("slurm_run")
    except pytest.skip.Exception:
        again = copy_workflow(tmp_path / "again")
        run = snakemake(again, *SECOND_RUN)
    assert run.returncode == 0, (run.stdout + run.stderr)[-3000:]
    return again


@pytest.mark.e2e
def test_a_second_run_gives_identical_data_metrics_and_weights(smoke_run, request, tmp_path):
    first, second = smoke_run / "results" / "smoke", _second_run(request, tmp_path) / "results" / "smoke"
    tables = sorted(p.relative_to(second) for p in second.rglob("*.parquet"))
    assert set(tables) <= {p.relative_to(first) for p in first.rglob("*.parquet")}
    # smk.SECOND_RUN: the knowledge half, and a finding 1 model
    assert {t.parts[0] for t in tables} == {"knowledge", "manipulation", "probing", "capacity"}
    data = [t for t in tables if "data" in t.parts]
    assert len(data) >= 10  # people, QA, biographies and task data of every world
    for table in data:
        digest = [hashlib.sha256((root / table).read_bytes()).hexdigest() for root in (first, second)]
        assert digest[0] == digest[1], f"{table} differs between runs"
    for table in tables:
        a, b = (_content(pd.read_parquet(root / table)) for root in (first, second))
        assert a.equals(b), f"{table} differs between runs"
    models = sorted(p.relative_to(second) for p in second.rglob("model.safetensors"))
    assert models
    for model in models:
        a, b = load_file(first / model), load_file(second / model)
        assert all(torch.equal(a[k], b[k]) for k in a), f"{model} differs between runs"
