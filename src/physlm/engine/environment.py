"""Settings read from the environment: how fast a run goes, not what it computes.

This module imports nothing heavy, so that the workflow can check these settings when it starts,
before any job (the Snakefile imports it; importing torch there would slow every Snakemake start).
"""

from __future__ import annotations

import fcntl
import importlib.util
import os
import sys
import tempfile
from pathlib import Path

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")
# PHYSLM_COMPILE unset: each training decides by timing (physlm.engine.compiling.AUTO, the same word).
AUTO = "auto"
TRACKER_NAMES = ("wandb", "mlflow")
DEVICES = ("cpu", "cuda")


def device_name() -> str | None:
    """The device PHYSLM_DEVICE asks for ("cpu" or "cuda"; unset or empty: None, CUDA when the
    machine has it, else the CPU); ValueError naming the variable and the allowed values for any
    other. Whether this machine has CUDA is checked where torch is loaded
    (physlm.engine.models.pick_device)."""
    name = os.environ.get("PHYSLM_DEVICE") or None
    if name is not None and name not in DEVICES:
        raise ValueError(f"PHYSLM_DEVICE: {name!r} is not one of {DEVICES} (or unset: CUDA when present)")
    return name


def check_environment() -> None:
    """Every setting above, checked before a step or a workflow starts (ValueError: the first bad
    one, naming its variable)."""
    device_name()
    compile_mode()
    trackers()


def trackers() -> list[str]:
    """The experiment trackers PHYSLM_TRACKERS names besides TensorBoard (comma-separated; unset or
    empty: none); ValueError naming the variable and the allowed values for any other name, and
    for a tracker whose package this machine does not have (a run would otherwise log nowhere)."""
    names = [n.strip() for n in os.environ.get("PHYSLM_TRACKERS", "").split(",") if n.strip()]
    unknown = [n for n in names if n not in TRACKER_NAMES]
    if unknown:
        raise ValueError(f"PHYSLM_TRACKERS: {', '.join(unknown)} not one of {TRACKER_NAMES} (or unset: none)")
    if missing := [n for n in names if not _installed(n)]:
        raise ValueError(
            f"PHYSLM_TRACKERS: {', '.join(missing)} not installed here (pip install {' '.join(missing)})"
        )
    return names


def _installed(package: str) -> bool:
    try:
        return importlib.util.find_spec(package) is not None
    except ValueError:  # imported already, without a spec (or blocked: None)
        return sys.modules.get(package) is not None


def compile_mode() -> str | None:
    """The torch.compile choice training uses, from PHYSLM_COMPILE: unset or `auto`, decided by
    timing (physlm.engine.compiling: each training times its own steps eager and compiled, and keeps
    the faster); empty or `none`, eager; a torch.compile mode, always compiled in it.

    An environment setting, like PHYSLM_DEVICE, because it changes how fast a run goes and not what
    it computes: compiling paid on one 2-core machine and not on another (docs/performance.md), so
    the machine that trains decides; on a GPU, "reduce-overhead" (CUDA graphs) removes the
    per-kernel launch cost that bounds the small models' steps, a mode to name by hand.
    """
    mode = os.environ.get("PHYSLM_COMPILE", AUTO)
    if mode in (AUTO, "none", ""):
        return AUTO if mode == AUTO else None
    if mode not in COMPILE_MODES:
        raise ValueError(
            f"PHYSLM_COMPILE: {mode!r} is not one of {COMPILE_MODES}, {AUTO!r} (the default: timed) or 'none'"
        )
    return mode


def checked_compile_mode(mode: str | None, where: str) -> str | None:
    """`mode` if torch.compile has it (None or empty: None); else ValueError naming `where`."""
    if mode and mode not in COMPILE_MODES:
        raise ValueError(f"{where}: {mode!r} is not one of {COMPILE_MODES} (or unset: no compiling)")
    return mode or None


# The slot this process claimed and the lock that holds it, for the life of the process.
_CLAIMED: list = []


def claim_gpu(n_gpus: int, lock_dir: Path | None = None) -> int:
    """The GPU this process should use when a node has `n_gpus` and several jobs run on it at once.

    Snakemake runs local jobs side by side and tells none of them which GPU to use, so without this
    every job lands on cuda:0. Each job takes the first free slot 0, 1, 2, ... (an exclusive lock on
    a file in `lock_dir`, PHYSLM_GPU_LOCKS or the system's temporary folder; the system drops it when
    the process ends, killed or not) and uses GPU slot mod n_gpus: jobs spread round-robin, one per
    GPU before any GPU gets a second. A job under SLURM sees only its own GPU (n_gpus 1). A process
    claims once: asked again, it keeps its GPU."""
    if _CLAIMED:
        return _CLAIMED[0][0] % n_gpus
    folder = Path(
        lock_dir or os.environ.get("PHYSLM_GPU_LOCKS") or Path(tempfile.gettempdir()) / "physlm-gpus"
    )
    folder.mkdir(parents=True, exist_ok=True)
    slot = 0
    while True:
        handle = open(folder / f"slot{slot}.lock", "w")  # noqa: SIM115 - held open until the process ends
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            slot += 1
            continue
        _CLAIMED.append((slot, handle))
        return slot % n_gpus
