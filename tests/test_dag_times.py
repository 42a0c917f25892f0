"""scripts/dag_times.py: a Snakemake log becomes per-rule wall time, interrupted jobs included."""

import importlib.util
from pathlib import Path

import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "dag_times.py"
spec = importlib.util.spec_from_file_location("dag_times", SCRIPT)
dag_times = importlib.util.module_from_spec(spec)
spec.loader.exec_module(dag_times)

# The shape of a Snakemake 9 log: two jobs at once, one finished, one cut off by the end of the log.
LOG = """Building DAG of jobs...
[Sun Nov 29 13:27:41 2026]
localrule math_train:
    output: results/math/seed0/clean/stage1/model
    jobid: 7
    wildcards: seed=0, data=clean, stage=1
[Sun Nov 29 13:27:41 2026]
rule pretrain:
    output: results/knowledge/single/seed0/pretrain/model
    jobid: 3
[Sun Nov 29 13:47:41 2026]
Finished jobid: 7 (Rule: math_train)
1 of 9 steps (11%) done
[Sun Nov 29 13:57:41 2026]
localrule math_train:
    jobid: 8
[Sun Nov 29 13:58:11 2026]
Finished jobid: 8 (Rule: math_train)
"""


def test_jobs_pair_starts_with_ends_and_flag_the_interrupted(tmp_path):
    log = tmp_path / "run.snakemake.log"
    log.write_text(LOG)
    table = dag_times.jobs(log).set_index("jobid")
    assert table.loc[7, "seconds"] == 20 * 60 and table.loc[7, "finished"]
    assert table.loc[8, "seconds"] == 30
    assert table.loc[3, "rule"] == "pretrain" and not table.loc[3, "finished"]
    assert table.loc[3, "seconds"] == 30 * 60 + 30  # up to the log's last timestamp
    summary = dag_times.by_rule(dag_times.jobs(log))
    assert summary.index.tolist() == ["pretrain", "math_train"]
    assert summary.loc["math_train", "jobs"] == 2 and summary.loc["math_train", "minutes"] == 20.5
    assert summary.loc["math_train", "longest_minutes"] == 20
    assert summary.loc["pretrain", "interrupted"] == 1 and summary.loc["math_train", "interrupted"] == 0


def test_a_log_without_jobs_adds_nothing(tmp_path):
    """A run that stopped before its first job (a locked directory) still writes a log."""
    empty, run = tmp_path / "locked.snakemake.log", tmp_path / "run.snakemake.log"
    empty.write_text("Building DAG of jobs...\nLockException:\n")
    run.write_text(LOG)
    assert dag_times.jobs(empty).empty
    both = pd.concat([dag_times.jobs(empty), dag_times.jobs(run)], ignore_index=True)
    summary = dag_times.by_rule(both)
    assert summary["jobs"].sum() == 3 and summary["interrupted"].tolist() == [1, 0]
