"""Where a training's numbers go besides its Parquet log: TensorBoard event files beside the log
(`tensorboard --logdir results` shows every run), and Weights & Biases or MLflow when
PHYSLM_TRACKERS names them ("wandb", "mlflow" or both, comma-separated) and the package is there.

A tracker is how a person follows a run, not what it computes: a missing package costs a log line,
never the run. Each training job is its own tracker run, named by its folder. W&B keeps a run's steps
increasing: a resumed job starts a new W&B run (TensorBoard's events are rewritten from step 0).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

from physlm.engine.environment import trackers


class _WandB:
    def __init__(self, name: str):
        import wandb

        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "physlm"), name=name)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.run.log({tag: value}, step=step)

    def close(self) -> None:
        self.run.finish()


class _MLflow:
    def __init__(self, name: str):
        import mlflow

        self.mlflow = mlflow
        mlflow.start_run(run_name=name)

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.mlflow.log_metric(tag, value, step=step)

    def close(self) -> None:
        self.mlflow.end_run()


TRACKERS = {"wandb": _WandB, "mlflow": _MLflow}


class _Fanout:
    """One add_scalar for every writer a training has (none at all is fine)."""

    def __init__(self, writers: list):
        self.writers = writers

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        for writer in self.writers:
            writer.add_scalar(tag, value, step)


@contextlib.contextmanager
def event_writer(folder: Path | None, log):
    """For the length of a training: TensorBoard events into `folder` (when given) and the trackers
    PHYSLM_TRACKERS asks for, each closed (its events flushed) at the end."""
    writers = []
    if folder is not None:
        try:
            from torch.utils.tensorboard import SummaryWriter

            shutil.rmtree(folder, ignore_errors=True)  # a resumed run writes its earlier steps again
            writers.append(SummaryWriter(str(folder)))
        except ImportError:
            log(
                "no TensorBoard events: the tensorboard package is not installed (the Parquet log has it all)"
            )
    name = str(folder.parent) if folder is not None else "physlm"
    writers += [TRACKERS[tracker](name) for tracker in trackers()]
    try:
        yield _Fanout(writers)
    finally:
        for writer in writers:
            writer.close()
