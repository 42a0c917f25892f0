"""Where a Snakemake run's time went: per rule, its jobs, their summed and longest wall time.

Reads Snakemake's own logs (each run writes one to .snakemake/log/; several logs of one interrupted
and resumed run add up), pairs every job's start with its "Finished jobid" line, and prints a table
by rule, most time first, then the runs' spans. Jobs started but not finished in a log (interrupted)
are counted up to that log's last timestamp and flagged. With every job on one thread, the summed time
is core time: on C cores the run cannot take less than the sum over C, nor less than its longest chain
of jobs that wait on each other, which the script prints too (from each job's input and output
files in the log), with the bound for `--cores` (default 8).

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
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


COLUMNS = ["rule", "jobid", "start", "end", "finished", "input", "output"]


def jobs(log: Path) -> pd.DataFrame:
    """One row per job of one Snakemake log: rule, jobid, start, end, finished (False: interrupted),
    and its input and output files (tuples)."""
    now, rule, started, rows = None, None, {}, []
    files: dict[str, tuple[str, ...]] = {}
    for line in log.read_text(errors="replace").splitlines():
        if stamp := STAMP.match(line):
            now = datetime.strptime(stamp.group(1), "%a %b %d %H:%M:%S %Y")
        elif start := START.match(line):
            rule, files = start.group(1), {}
        elif (listed := FILES.match(line)) and rule is not None:
            files[listed.group(1)] = tuple(listed.group(2).split(", "))
        elif (jobid := JOBID.match(line)) and rule is not None:
            started[int(jobid.group(1))] = (rule, now, files.get("input", ()), files.get("output", ()))
            rule = None
        elif finished := FINISHED.match(line):
            job = int(finished.group(1))
            name, begin, inputs, outputs = started.pop(job)
            rows.append(dict(zip(COLUMNS, [name, job, begin, now, True, inputs, outputs], strict=True)))
    rows += [
        dict(zip(COLUMNS, [name, job, begin, now, False, inputs, outputs], strict=True))
        for job, (name, begin, inputs, outputs) in started.items()
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


def longest_chain(table: pd.DataFrame) -> tuple[float, list[str]]:
    """The chain of jobs, each reading a file the one before it wrote, with the most summed wall time:
    its minutes and its rules in order. Rows with the same output files are one job: an interrupted
    training and its resumption add up (a job that starts over counts its lost part too). A job
    without output files in the log stands alone."""
    table = table.assign(key=[row.output or (f"{row.log}#{row.jobid}",) for row in table.itertuples()])
    grouped = table.groupby("key", sort=False)
    seconds = grouped["seconds"].sum()
    rule = grouped["rule"].first()
    inputs = grouped["input"].agg(lambda lists: {path for files in lists for path in files})
    writer = {path: key for key in seconds.index for path in key}
    best: dict[tuple, tuple[float, list[str]]] = {}

    def chain(key: tuple) -> tuple[float, list[str]]:
        if key not in best:
            before = [chain(writer[path]) for path in inputs[key] if path in writer and writer[path] != key]
            length, rules = max(before, default=(0.0, []))
            best[key] = (length + seconds[key] / 60, [*rules, rule[key]])
        return best[key]

    return max((chain(key) for key in seconds.index), default=(0.0, []))


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
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
