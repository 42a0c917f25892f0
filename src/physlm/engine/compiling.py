"""Compile where it pays: whether a training runs under torch.compile, decided by timing both on
the machine that trains.

torch.compile sped the knowledge step up 1.20x and the small capacity models' 1.35x on one 2-core
CPU, and slowed the same steps on another (docs/performance.md); compiling costs about a minute.
So no setting is right everywhere, and a choice by hand is a guess. With PHYSLM_COMPILE unset (or
`auto`), a training times TRIAL_STEPS of its own steps eager; if the rest of the run is long enough
to repay the compile, it compiles (one untimed step) and then alternates eager and compiled steps,
TRIAL_STEPS pairs, and keeps compiled only if the median of the pairs' eager / compiled ratios is at
least MIN_GAIN. Alternating puts both ways under the same load: on a machine other jobs share, two
trials run one after the other read a job starting or ending between them as a compile effect (the
same shape measured 0.99x, 1.30x and 1.56x within one hour that way). Every timed step is a real
training step: both ways compute the same step, up to float order. A checkpoint keeps the choice,
so a resumed run goes on the way it was going.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from physlm.engine.environment import AUTO

# Steps timed eager after a first one that is not counted (it warms caches), and pairs of one eager
# and one compiled step timed after the compiling step.
TRIAL_STEPS = 20
# How much faster a compiled step must be, as the median of the pairs' ratios, to be kept.
MIN_GAIN = 1.05
# What compiling a small model's step took on a 2-core CPU (docs/performance.md: 50-60 s), and how
# many times over the eager remainder of the run must exceed it before compiling is tried: a 20%
# faster step repays a minute of compiling after five minutes of training.
COMPILE_SECONDS = 60.0
PAYBACK = 5.0


class CompileChoice:
    """Runs each training step through the forward it has chosen: eager (`mode` None), compiled
    in `mode`, or, for AUTO, eager while timing, then eager and compiled in turn while timing,
    then the faster.

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
        """`run(forward)`: one optimizer step through the forward this step times. A compiled step
        that fails in the trial falls back to eager and the step runs again: it fails in the
        forward or the backward pass, before the optimizer updates anything, and the step's windows
        are drawn by its index (any gradient it left is cleared)."""
        forward = self._next_forward()
        start = time.perf_counter()
        try:
            result = run(forward)
        except Exception as error:  # the compiler's errors have no common base class
            if self.phase != "paired trial" or forward is self.model:
                raise
            self.log(f"compile: failed ({type(error).__name__}: {str(error)[:200]}); eager from here")
            self.forward, self.phase = self.model, "chosen"
            self.model.zero_grad(set_to_none=True)
            return run(self.forward)
        if self.phase != "chosen":
            self.sync()
            self._timed(time.perf_counter() - start)
        return result

    def _next_forward(self) -> torch.nn.Module:
        """In the paired trial the compiling step comes first, then eager and compiled in turn
        (an odd count of times so far: eager next)."""
        if self.phase == "paired trial" and len(self.times) % 2 == 1:
            return self.model
        return self.forward

    def _timed(self, seconds: float) -> None:
        self.times.append(seconds)
        self.steps_left -= 1
        if self.phase == "eager trial" and len(self.times) > TRIAL_STEPS:
            self._after_eager_trial(statistics.median(self.times[1:]))
        elif self.phase == "paired trial" and len(self.times) > 2 * TRIAL_STEPS:
            self._after_paired_trial()

    def _after_eager_trial(self, typical: float) -> None:
        self.times = []
        if typical * self.steps_left < PAYBACK * COMPILE_SECONDS:
            self.phase = "chosen"
            self.log(
                f"compile: not tried: eager {1e3 * typical:.1f} ms/step, and the {self.steps_left:,} "
                f"steps left ({typical * self.steps_left:.0f} s) could not repay compiling "
                f"(about {COMPILE_SECONDS:.0f} s)"
            )
            return
        self.phase = "paired trial"
        self.forward = torch.compile(self.model, mode="default")

    def _after_paired_trial(self) -> None:
        first, eager, compiled = self.times[0], self.times[1::2], self.times[2::2]
        speedup = statistics.median(e / c for e, c in zip(eager, compiled, strict=True))
        self.phase, self.times = "chosen", []
        faster = speedup >= MIN_GAIN
        if not faster:
            self.forward = self.model
        self.log(
            f"compile: {len(eager)} steps each way, in turn: eager {1e3 * statistics.median(eager):.1f} "
            f"ms/step, compiled {1e3 * statistics.median(compiled):.1f} ms/step (median ratio "
            f"{speedup:.2f}x; the first compiled step took {first:.0f} s): "
            + ("compiled from here" if faster else f"eager from here (under {MIN_GAIN:.2f}x)")
        )
