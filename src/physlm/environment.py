"""Settings read from the environment: how fast a run goes, not what it computes.

This module imports nothing heavy, so that the workflow can check these settings when it starts,
before any job (the Snakefile imports it; importing torch there would slow every Snakemake start).
"""

from __future__ import annotations

import os

COMPILE_MODES = ("default", "reduce-overhead", "max-autotune")


def compile_mode() -> str | None:
    """The torch.compile mode training uses, from PHYSLM_COMPILE (unset or empty: none, eager).

    An environment setting, like PHYSLM_DEVICE, because it changes how fast a run goes and not what
    it computes: on a GPU, "reduce-overhead" (CUDA graphs) removes the per-kernel launch cost that
    bounds the small models' steps; on a CPU, "default" paid on one 2-core machine and not on
    another (README, Benchmarks), so it is the user's choice, not the default.
    """
    return checked_compile_mode(os.environ.get("PHYSLM_COMPILE"), "PHYSLM_COMPILE")


def checked_compile_mode(mode: str | None, where: str) -> str | None:
    """`mode` if torch.compile has it (None or empty: None); else ValueError naming `where`."""
    if mode and mode not in COMPILE_MODES:
        raise ValueError(f"{where}: {mode!r} is not one of {COMPILE_MODES} (or unset: no compiling)")
    return mode or None
