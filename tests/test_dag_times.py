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


# A training (20 min) and the probe that reads its model (5 min) against an unrelated 22-minute job,
# resumed: its first 2 minutes in one log, the other 4 in the next. 20 + 5 beats 22, and 22 beats
# either alone; the resumed job's two parts add up to one job of 6 minutes.
CHAIN = """[Sun Nov 29 10:00:00 2026]
localrule math_train:
    input: results/math/tokenizer
    output: results/math/seed0/model
    jobid: 1
[Sun Nov 29 10:00:00 2026]
rule capacity_train:
    input: results/capacity/bios.parquet
    output: results/capacity/model, results/capacity/log.parquet
    jobid: 2
[Sun Nov 29 10:20:00 2026]
Finished jobid: 1 (Rule: math_train)
[Sun Nov 29 10:20:00 2026]
localrule math_vprobe:
    input: results/math/seed0/model, results/math/data/probe.parquet
    output: results/math/seed0/vprobes.parquet
    jobid: 3
[Sun Nov 29 10:22:00 2026]
Finished jobid: 2 (Rule: capacity_train)
[Sun Nov 29 10:25:00 2026]
Finished jobid: 3 (Rule: math_vprobe)
[Sun Nov 29 10:25:00 2026]
rule pretrain:
    output: results/knowledge/model
    jobid: 4
[Sun Nov 29 10:27:00 2026]
"""
RESUMED = """[Sun Nov 29 11:00:00 2026]
rule pretrain:
    output: results/knowledge/model
    jobid: 1
[Sun Nov 29 11:04:00 2026]
Finished jobid: 1 (Rule: pretrain)
"""


def test_the_longest_chain_follows_files_from_writer_to_reader(tmp_path):
    first, second = tmp_path / "a.snakemake.log", tmp_path / "b.snakemake.log"
    first.write_text(CHAIN)
    second.write_text(RESUMED)
    table = pd.concat([dag_times.jobs(first), dag_times.jobs(second)], ignore_index=True)
    assert table.set_index("jobid").loc[3, "input"] == (
        "results/math/seed0/model",
        "results/math/data/probe.parquet",
    )
    assert dag_times.longest_chain(table) == (25.0, ["math_train", "math_vprobe"])
    # Without the probe's read of the model, the 22-minute job is the longest chain.
    unlinked = table.assign(
        input=[
            () if rule == "math_vprobe" else files
            for rule, files in zip(table["rule"], table["input"], strict=True)
        ]
    )
    assert dag_times.longest_chain(unlinked) == (22.0, ["capacity_train"])
    # The interrupted pretraining (2 minutes) and its resumption (4) are one job of 6 minutes.
    assert dag_times.longest_chain(table[table["rule"] == "pretrain"]) == (6.0, ["pretrain"])


def test_the_schedule_starts_ready_jobs_by_priority_when_a_core_frees(tmp_path):
    """On one core the jobs run end to end (33 min: the interrupted pretraining is 2 of its
    minutes, the first log's last); on two, the 22-minute job runs beside the 20 + 5 chain (25);
    on three, still the chain. The priority lines are read: the math training's 20 starts first."""
    log = tmp_path / "a.snakemake.log"
    log.write_text(CHAIN.replace("    jobid: 1\n", "    jobid: 1\n    priority: 20\n"))
    table = dag_times.jobs(log)
    assert table.set_index("jobid")["priority"].to_dict() == {1: 20, 2: 0, 3: 0, 4: 0}
    assert dag_times.scheduled_minutes(table, 1) == 20 + 22 + 5 + 2
    # Two cores: math_train (20) and capacity_train (22) start; at 20 the probe (5) starts, at 22
    # the pretraining (2): all done at 25.
    assert dag_times.scheduled_minutes(table, 2) == 25
    assert dag_times.scheduled_minutes(table, 3) == 25


def test_on_two_cores_the_priority_decides_which_job_waits(tmp_path):
    """Three ready jobs of 10, 10 and 30 minutes on two cores: started by priority, the 30-minute
    job runs beside the others (30 min); started last, it runs after them (40 min)."""
    jobs = "".join(
        f"[Sun Nov 29 10:00:00 2026]\nrule {rule}:\n    output: {rule}.out\n    jobid: {job}\n"
        f"    priority: {priority}\n"
        for job, rule, priority in [(1, "a", 10), (2, "b", 10), (3, "long", 0)]
    )
    ends = "".join(
        f"[Sun Nov 29 {end}:00 2026]\nFinished jobid: {job} (Rule: {rule})\n"
        for job, rule, end in [(1, "a", "10:10"), (2, "b", "10:10"), (3, "long", "10:30")]
    )
    log = tmp_path / "a.snakemake.log"
    log.write_text(jobs + ends)
    table = dag_times.jobs(log)
    assert dag_times.scheduled_minutes(table, 2) == 10 + 30  # a and b, then long
    first = table.assign(priority=[0, 0, 10])
    assert dag_times.scheduled_minutes(first, 2) == 30


# A training that fails after 15 minutes (the job was stopped) and is retried by the profile under the
# same jobid, the retry cut off by the log's end a minute later; meanwhile a short job finishes.
RETRIED = """[Mon Dec  7 23:34:20 2026]
localrule math_train:
    output: results/math/seed7/model
    jobid: 93
[Mon Dec  7 23:40:00 2026]
localrule math_problems:
    jobid: 95
[Mon Dec  7 23:41:00 2026]
Finished jobid: 95 (Rule: math_problems)
[Mon Dec  7 23:49:20 2026]
Error in rule math_train:
    jobid: 93
    output: results/math/seed7/model
[Mon Dec  7 23:49:21 2026]
localrule math_train:
    output: results/math/seed7/model
    jobid: 93
[Mon Dec  7 23:50:21 2026]
Error in rule math_train:
    jobid: 93
"""


def test_a_failed_attempt_ends_at_its_error_and_its_retry_is_counted_too(tmp_path):
    log = tmp_path / "a.snakemake.log"
    log.write_text(RETRIED)
    table = dag_times.jobs(log)
    trainings = table[table["rule"] == "math_train"]
    assert trainings["seconds"].tolist() == [15 * 60, 60]
    assert not trainings["finished"].any()
    assert table.set_index("rule").loc["math_problems", "seconds"] == 60
    # The two attempts are one job in the chain: 16 minutes.
    assert dag_times.longest_chain(table) == (16.0, ["math_train"])
