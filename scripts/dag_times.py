"""Where a Snakemake run's time went: per rule, its jobs, their summed and longest wall time.

Reads Snakemake's own logs (each run writes one to .snakemake/log/; several logs of one interrupted
and resumed run add up), pairs every job's start with its "Finished jobid" line, and prints a table
by rule, most time first, then the runs' spans. Jobs started but not finished in a log (interrupted)
are counted up to that log's last timestamp and flagged. With every job on one thread, the summed time
is core time: on C cores the run cannot take less than the sum over C, nor less than its longest chain.

    python scripts/dag_times.py .snakemake/log/*.snakemake.log [--csv FILE]
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
FINISHED = re.compile(r"^Finished jobid: (\d+) \(Rule: (\w+)\)$")


def jobs(log: Path) -> pd.DataFrame:
    """One row per job of one Snakemake log: rule, jobid, start, end, finished (False: interrupted)."""
    now, rule, started, rows = None, None, {}, []
    for line in log.read_text(errors="replace").splitlines():
        if stamp := STAMP.match(line):
            now = datetime.strptime(stamp.group(1), "%a %b %d %H:%M:%S %Y")
        elif start := START.match(line):
            rule = start.group(1)
        elif (jobid := JOBID.match(line)) and rule is not None:
            started[int(jobid.group(1))] = (rule, now)
            rule = None
        elif finished := FINISHED.match(line):
            job = int(finished.group(1))
            name, begin = started.pop(job)
            rows.append({"rule": name, "jobid": job, "start": begin, "end": now, "finished": True})
    rows += [
        {"rule": name, "jobid": job, "start": begin, "end": now, "finished": False}
        for job, (name, begin) in started.items()
    ]
    table = pd.DataFrame(rows, columns=["rule", "jobid", "start", "end", "finished"])
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("logs", nargs="+", type=Path, help="Snakemake logs (.snakemake/log/*.snakemake.log)")
    parser.add_argument("--csv", type=Path, help="also write every job's row here")
    args = parser.parse_args()
    table = pd.concat([jobs(log) for log in args.logs], ignore_index=True)
    if table.empty:
        raise SystemExit("no jobs found in these logs: are they Snakemake logs?")
    print(by_rule(table).to_string(float_format=lambda x: f"{x:.1f}"))
    for log, part in table.groupby("log", sort=False):
        span = (part["end"].max() - part["start"].min()).total_seconds() / 60
        print(f"{log}: {len(part)} jobs, {span:.1f} min from first start to last end")
    print(f"all: {table['seconds'].sum() / 60:.1f} job-minutes")
    if args.csv:
        table.to_csv(args.csv, index=False)


if __name__ == "__main__":
    main()
