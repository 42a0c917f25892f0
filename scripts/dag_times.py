"""Where a Snakemake run's time went: per rule, its jobs, their summed and longest wall time.

Reads Snakemake's own logs (each run writes one to .snakemake/log/; several logs of one interrupted
and resumed run add up), pairs every job's start with its "Finished jobid" line, and prints a table
by rule, most time first, then the runs' spans. Jobs started but not finished in a log (interrupted)
are counted up to that log's last timestamp and flagged. With every job on one thread, the summed time
is core time: on C cores the run cannot take less than the sum over C, nor less than its longest chain
of jobs that wait on each other, which the script prints too (from each job's input and output
files in the log), with the bound for `--cores` (default 8) and the wall time a greedy scheduler
would take there with the measured job times (each ready job started by priority, as Snakemake does,
when a core frees).

    python scripts/dag_times.py .snakemake/log/*.snakemake.log [--cores 8] [--csv FILE]
"""

from __future__ import annotations

import argparse
import re
from datetime import datetime
from pathlib import Path

import pandas as pd

STAMP = re.compile(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$")
START = re.compile(r"^(?:local)?rule (\w+):$")
JOBID = re.compile(r"^\s+jobid: (\d+)$")
FILES = re.compile(r"^\s+(input|output): (.*)$")
PRIORITY = re.compile(r"^\s+priority: (-?\d+)$")
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")
FAILED = re.compile(r"^Error in rule (\w+):$")


COLUMNS = ["rule", "jobid", "start", "end", "finished", "input", "output", "priority"]


def jobs(log: Path) -> pd.DataFrame:
    """One row per job of one Snakemake log: rule, jobid, start, end, finished (False: interrupted
    or failed), its input and output files (tuples) and its priority (Snakemake prints it only when
    not 0). A failed attempt ends at its error; the profile's retry of it is a row of its own."""
    now, rule, job, started, rows, failed = None, None, None, {}, [], False
    files: dict[str, tuple[str, ...]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if stamp := STAMP.match(line):
            now = datetime.strptime(stamp.group(1), "%a %b %d %H:%M:%S %Y")
        elif start := START.match(line):
            rule, files = start.group(1), {}
        elif FAILED.match(line):
            failed = True
        elif (jobid := JOBID.match(line)) and failed:
            name, begin, inputs, outputs, rank = started.pop(int(jobid.group(1)))
            row = [name, int(jobid.group(1)), begin, now, False, inputs, outputs, rank]
            rows.append(dict(zip(COLUMNS, row, strict=True)))
            failed = False
        elif (listed := FILES.match(line)) and rule is not None:
            files[listed.group(1)] = tuple(listed.group(2).split(", "))
        elif (jobid := JOBID.match(line)) and rule is not None:
            job = int(jobid.group(1))
            started[job] = [rule, now, files.get("input", ()), files.get("output", ()), 0]
            rule = None
        elif (priority := PRIORITY.match(line)) and job in started:
            started[job][4] = int(priority.group(1))
        elif finished := FINISHED.match(line):
            done = int(finished.group(1))
            name, begin, inputs, outputs, rank = started.pop(done)
            row = [name, done, begin, now, True, inputs, outputs, rank]
            rows.append(dict(zip(COLUMNS, row, strict=True)))
    rows += [
        dict(zip(COLUMNS, [name, running, begin, now, False, inputs, outputs, rank], strict=True))
        for running, (name, begin, inputs, outputs, rank) in started.items()
    ]
    table = pd.DataFrame(rows, columns=COLUMNS)
    # typed even when empty, so that logs concatenate
    table = table.astype({"start": "datetime64[s]", "end": "datetime64[s]", "finished": bool})
    table["seconds"] = (table["end"] - table["start"]).dt.total_seconds()
    table["log"] = log.name
    return table


def by_rule(table: pd.DataFrame) -> pd.DataFrame:
    """Jobs, summed and longest minutes, and interrupted jobs per rule, most time first."""
    grouped = table.groupby("rule")
    summary = pd.DataFrame(
        {
            "jobs": grouped.size(),
            "minutes": grouped["seconds"].sum() / 60,
            "longest_minutes": grouped["seconds"].max() / 60,
            "interrupted": grouped["finished"].apply(lambda done: int((~done).sum())),
        }
    )
    return summary.sort_values("minutes", ascending=False)


def merged(table: pd.DataFrame) -> pd.DataFrame:
    """One row per job, keyed by its output files: an interrupted job and its resumption are one job
    (a job that starts over counts its lost part too); a job without output files in the log stands
    alone. Columns: seconds (summed), rule, priority, the set of its input files, and the jobs it
    waits on (the keys of those that wrote its inputs)."""
    table = table.assign(key=[row.output or (f"{row.log}#{row.jobid}",) for row in table.itertuples()])
    grouped = table.groupby("key", sort=False)
    jobs = pd.DataFrame(
        {
            "seconds": grouped["seconds"].sum(),
            "rule": grouped["rule"].first(),
            "priority": grouped["priority"].max(),
            "input": grouped["input"].agg(lambda lists: {path for files in lists for path in files}),
        }
    )
    writer = {path: key for key in jobs.index for path in key}
    jobs["after"] = [
        {writer[path] for path in inputs if path in writer and writer[path] != key}
        for key, inputs in jobs["input"].items()
    ]
    return jobs


def longest_chain(table: pd.DataFrame) -> tuple[float, list[str]]:
    """The chain of jobs, each reading a file the one before it wrote, with the most summed wall time:
    its minutes and its rules in order."""
    jobs = merged(table)
    best: dict[tuple, tuple[float, list[str]]] = {}

    def chain(key: tuple) -> tuple[float, list[str]]:
        if key not in best:
            length, rules = max((chain(before) for before in jobs.at[key, "after"]), default=(0.0, []))
            best[key] = (length + jobs.at[key, "seconds"] / 60, [*rules, jobs.at[key, "rule"]])
        return best[key]

    return max((chain(key) for key in jobs.index), default=(0.0, []))


def scheduled_minutes(table: pd.DataFrame, cores: int) -> float:
    """The wall time, in minutes, of running these jobs with their measured times on `cores` one-thread
    slots: whenever a slot frees, the ready job of highest priority starts (ties in log order), as
    Snakemake's greedy scheduler does. Job times measured two at a time on two cores stand for
    themselves; on more cores, memory bandwidth shared by more jobs may lengthen them."""
    jobs = merged(table)
    waiting = dict(jobs["after"])
    order = {key: rank for rank, key in enumerate(jobs.index)}
    finished: set[tuple] = set()
    running: list[tuple[float, tuple]] = []  # (end, key)
    now = 0.0
    while waiting or running:
        ready = sorted(
            (key for key, before in waiting.items() if before <= finished),
            key=lambda key: (-jobs.at[key, "priority"], order[key]),
        )
        for key in ready[: cores - len(running)]:
            running.append((now + jobs.at[key, "seconds"], key))
            del waiting[key]
        if not running:
            raise ValueError(f"jobs wait on each other in a cycle: {sorted(jobs.loc[list(waiting), 'rule'])}")
        now, key = min(running)
        running.remove((now, key))
        finished.add(key)
    return now / 60


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path, help="Snakemake logs (.snakemake/log/*.snakemake.log)")
    parser.add_argument("--cores", type=int, default=8, help="the core count for the lower bound printed")
    parser.add_argument("--csv", type=Path, help="also write every job's row here")
    args = parser.parse_args()
    table = pd.concat([jobs(log) for log in args.logs], ignore_index=True)
    if table.empty:
        raise SystemExit("no jobs found in these logs: are they Snakemake logs?")
    print(by_rule(table).to_string(float_format=lambda x: f"{x:.1f}"))
    for log, part in table.groupby("log", sort=False):
        span = (part["end"].max() - part["start"].min()).total_seconds() / 60
        print(f"{log}: {len(part)} jobs, {span:.1f} min from first start to last end")
    total = table["seconds"].sum() / 60
    print(f"all: {total:.1f} job-minutes")
    length, rules = longest_chain(table)
    print(f"longest chain: {length:.1f} min ({' -> '.join(rules)})")
    print(f"on {args.cores} cores, at least {max(total / args.cores, length):.1f} min")
    for cores in sorted({2, args.cores}):
        minutes = scheduled_minutes(table, cores)
        print(f"on {cores} cores, a greedy schedule of these job times: {minutes:.1f} min")
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
