"""The smoke DAG through workflow/profiles/slurm on a real one-node SLURM cluster on this machine
(started by tests/slurm/start-cluster: Debian's slurm-wlm and munge, loopback only)."""

import re

import pandas as pd
import pytest
from smk import FIGURES


@pytest.mark.e2e
def test_smoke_dag_runs_through_the_slurm_profile(slurm_run):
    work, run = slurm_run
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    out = run.stdout + run.stderr
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    # Every compute job went through sbatch; grouped data jobs share one submission.
    assert len(submitted) >= 30 and len(set(submitted)) == len(submitted)
    logs = work / ".snakemake" / "slurm_logs"
    for rule in ("rule_pretrain", "rule_capacity_train", "rule_probe"):
        assert any((logs / rule).rglob("*.log")), f"no SLURM log for {rule}"
    groups = [d for d in logs.iterdir() if d.name.startswith("group_data")]  # named after its rules
    assert groups and any(g.rglob("*.log") for g in groups)
    results = work / "results"
    for figure in FIGURES:
        assert (results / "figures" / f"{figure}.png").stat().st_size > 10_000
    claims = pd.read_parquet(results / "claims.parquet")
    assert claims["verdict"].isin(["supported", "refuted", "inconclusive"]).all()
    # Local rules (figures, tables) ran here and were never submitted.
    assert not (logs / "rule_figure_capacity").exists()
