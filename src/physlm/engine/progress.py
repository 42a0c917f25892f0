"""Where every training under a results folder stands, read from the logs its jobs write.

A training job prints its progress into its `train.log` (Snakemake's log of the rule): a line per
logged step ("step 350/4000 loss 0.98 lr 1.00e-03 grad norm 0.59 5,421 tok/s, 40m26s left") and,
when it is done, where the model went and how long the run took. `physlm status` reads the last of
those lines in every `train.log` below a folder, so a user sees every running and finished training
in one table without knowing where the logs lie. It reads text only: nothing heavy is imported.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

STEP = re.compile(r"step (\d+)/(\d+) loss ([\d.]+) .*?([\d,]+) tok/s, (\S+) left")
DONE = re.compile(r"model written to \S+ .*this run took (\S+)")
STALE_AFTER = 600  # seconds without a new line: the job is not running (stopped, killed or waiting)


def training_status(results: Path, now: float | None = None) -> list[dict]:
    """One row per `train.log` below `results`: the training (its folder, relative), its state
    (finished, running, stopped, or starting: no step logged yet), step / total, the last logged
    loss and tokens/s, and the time left (running) or taken (finished)."""
    now = time.time() if now is None else now
    rows = []
    for log in sorted(results.rglob("train.log")):
        lines = log.read_text(errors="replace").splitlines()
        steps = [m for m in map(STEP.search, lines) if m]
        done = next((m for m in map(DONE.search, reversed(lines)) if m), None)
        row = {
            "training": str(log.parent.relative_to(results)),
            "step": "",
            "loss": "",
            "tok/s": "",
            "time": "",
        }
        if steps:
            last = steps[-1]
            row |= {"step": f"{last[1]}/{last[2]}", "loss": last[3], "tok/s": last[4]}
        if done:
            row |= {"state": "finished", "time": f"took {done[1]}"}
        elif steps and steps[-1][1] == steps[-1][2]:  # a log from before the closing line existed
            row |= {"state": "finished"}
        elif now - log.stat().st_mtime > STALE_AFTER:
            row |= {"state": "stopped"}
        else:
            row |= {
                "state": "running" if steps else "starting",
                "time": f"{steps[-1][5]} left" if steps else "",
            }
        rows.append(row)
    return rows


def status(*, results: Path) -> None:
    """Step `status`: print where every training under `results` stands (see training_status)."""
    rows = training_status(results)
    if not rows:
        print(f"no training log (train.log) under {results}")
        return
    columns = ["training", "state", "step", "loss", "tok/s", "time"]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for row in rows:
        print("  ".join(str(row[c]).ljust(widths[c]) for c in columns))
