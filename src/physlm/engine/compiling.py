"""Compile where it pays: whether a training runs under torch.compile, decided by timing both on
the machine that trains.

torch.compile sped the knowledge step up 1.20x and the small capacity models' 1.35x on one 2-core
CPU, and slowed the same steps on another (docs/performance.md); compiling costs about a minute.
So no setting is right everywhere, and a choice by hand is a guess. With PHYSLM_COMPILE unset (or
`auto`), a training times TRIAL_STEPS of its own steps eager, then, if the rest of the run is long
enough to repay the compile, TRIAL_STEPS compiled, and keeps compiled only if it is at least
MIN_GAIN faster (the two trials are timed minutes apart on a machine other jobs share, so a smaller
difference is noise). Every timed step is a real training step: both ways compute the same step, up
to float order. A checkpoint keeps the choice, so a resumed run goes on the way it was going.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from physlm.engine.environment import AUTO

# Steps timed each way after a first one that is not counted (it warms caches, or compiles).
TRIAL_STEPS = 20
# How much faster a compiled step must be to be kept.
MIN_GAIN = 1.05
# What compiling a small model's step took on a 2-core CPU (docs/performance.md: 50-60 s), and how
# many times over the eager remainder of the run must exceed it before compiling is tried: a 20%
# faster step repays a minute of compiling after five minutes of training.
COMPILE_SECONDS = 60.0
PAYBACK = 5.0


class CompileChoice:
    """Runs each training step through the forward it has chosen: eager (`mode` None), compiled
    in `mode`, or, for AUTO, eager while timing, then compiled while timing, then the faster.

    `steps_left` is the run's remaining steps; `sync` waits for the device, so that a step's time
    is its own; `log` says what was chosen and why; `chosen` is an AUTO choice made before a resume
    (True: compiled), kept without timing again."""

    def __init__(
        self,
        model: torch.nn.Module,
        mode: str | None,
        steps_left: int,
        log: Callable[[str], None],
        sync: Callable[[], None] = lambda: None,
        chosen: bool | None = None,
    ):
        self.model, self.log, self.sync = model, log, sync
        self.forward: torch.nn.Module = model
        self.steps_left = steps_left
        self.phase = "eager trial" if mode == AUTO else "chosen"
        self.times: list[float] = []
        self.eager = float("nan")
        if mode not in (None, AUTO):
            self.forward = torch.compile(model, mode=mode)
            log(f"compile: {mode}, as PHYSLM_COMPILE says")
        elif mode == AUTO and chosen is not None:
            self.phase = "chosen"
            self.forward = torch.compile(model, mode="default") if chosen else model
            log(f"compile: {'compiled' if chosen else 'eager'}, as chosen before the resume")

    @property
    def compiled(self) -> bool | None:
        """Whether the steps run compiled; None while the trial has not chosen yet."""
        return None if self.phase != "chosen" else self.forward is not self.model

    def step(self, run: Callable[[torch.nn.Module], tuple]) -> tuple:
        """`run(forward)`: one optimizer step through `forward`. A compile that fails in the trial
        falls back to eager and the step runs again: it fails in the forward or the backward pass,
        before the optimizer updates anything, and the step's windows are drawn by its index (any
        gradient it left is cleared)."""
        start = time.perf_counter()
        try:
            result = run(self.forward)
        except Exception as error:  # the compiler's errors have no common base class
            if self.phase != "compiled trial" or self.times:
                raise
            self.log(f"compile: failed ({type(error).__name__}: {str(error)[:200]}); eager from here")
            self.forward, self.phase = self.model, "chosen"
            self.model.zero_grad(set_to_none=True)
            return run(self.forward)
        if self.phase != "chosen":
            self.sync()
            self._timed(time.perf_counter() - start)
        return result

    def _timed(self, seconds: float) -> None:
        self.times.append(seconds)
        self.steps_left -= 1
        if len(self.times) <= TRIAL_STEPS:
            return
        first, typical = self.times[0], statistics.median(self.times[1:])
        self.times = []
        if self.phase == "eager trial":
            self.eager = typical
            if typical * self.steps_left < PAYBACK * COMPILE_SECONDS:
                self.phase = "chosen"
                self.log(
                    f"compile: not tried: eager {1e3 * typical:.1f} ms/step, and the {self.steps_left:,} "
                    f"steps left ({typical * self.steps_left:.0f} s) could not repay compiling "
                    f"(about {COMPILE_SECONDS:.0f} s)"
                )
                return
            self.phase = "compiled trial"
            self.forward = torch.compile(self.model, mode="default")
            return
        self.phase = "chosen"
        faster = self.eager >= MIN_GAIN * typical
        if not faster:
            self.forward = self.model
        self.log(
            f"compile: eager {1e3 * self.eager:.1f} ms/step, compiled {1e3 * typical:.1f} ms/step "
            f"({self.eager / typical:.2f}x; the first compiled step took {first:.0f} s): "
            + ("compiled from here" if faster else f"eager from here (under {MIN_GAIN:.2f}x)")
        )
