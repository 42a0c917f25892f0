"""The knowledge half of the smoke DAG (smk.SECOND_RUN) through profiles/slurm on a real
one-node SLURM cluster on this machine (started by tests/slurm/start-cluster: Debian's slurm-wlm
and munge, loopback only)."""

import re

import pytest
from smk import SECOND_RUN_FIGURES


@pytest.mark.e2e
def test_smoke_dag_runs_through_the_slurm_profile(slurm_run):
    work, run = slurm_run
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    out = run.stdout + run.stderr
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", out)
    # Every compute job went through sbatch, each in a submission of its own (no group asks for the
    # summed threads of its jobs, which would pend for ever on this 2-CPU node).
    assert len(submitted) >= 30 and len(set(submitted)) == len(submitted)
    logs = work / ".snakemake" / "slurm_logs"
    for rule in ("rule_people", "rule_biographies", "rule_pretrain", "rule_capacity_train", "rule_probe"):
        assert any((logs / rule).rglob("*.log")), f"no SLURM log for {rule}"
    results = work / "results" / "smoke"
    for figure in SECOND_RUN_FIGURES:
        assert (results / "figures" / f"{figure}.png").stat().st_size > 10_000
    # Local rules (figures, tables) ran here and were never submitted.
    assert not (logs / "rule_figure_p_probing").exists()
    assert not (logs / "rule_collect_knowledge_qa_accuracy").exists()
