"""The smoke DAG through workflow/profiles/slurm on a real one-node SLURM cluster on this machine
(started by tests/slurm/start-cluster: Debian's slurm-wlm and munge, loopback only)."""

import os
import re
import shutil
import subprocess

import pandas as pd
import pytest
from smk import FIGURES, ROOT, copy_workflow, snakemake


def _start_cluster() -> str | None:
    """None once a cluster answers, else why the test cannot run here."""
    if shutil.which("sinfo"):
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
        if "idle" in state.stdout or "mix" in state.stdout:
            return None
    if os.geteuid() != 0:
        return "no SLURM cluster answers here, and starting one (apt-get, daemons) needs root"
    start = subprocess.run([ROOT / "tests" / "slurm" / "start-cluster"], capture_output=True, text=True)
    if start.returncode != 0:
        return f"the SLURM daemons could not start: {(start.stdout + start.stderr)[-500:]}"
    return None


@pytest.mark.e2e
def test_smoke_dag_runs_through_the_slurm_profile(tmp_path):
    reason = _start_cluster()
    if reason:
        pytest.skip(reason)
    work = copy_workflow(tmp_path / "slurm")
    run = snakemake(
        work,
        "--workflow-profile",
        "workflow/profiles/slurm",
        "--jobs",
        "4",
        # This test cluster has no accounting database (sacct) and no accounts.
        "--slurm-status-command",
        "squeue",
        "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--slurm-keep-successful-logs",
    )
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
