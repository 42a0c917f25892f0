"""Experiment trackers besides TensorBoard: W&B and MLflow when PHYSLM_TRACKERS names them; a bad
name fails naming the variable; a missing package costs a log line, not the run."""

import sys
import types

import pytest

from physlm.engine import trackers
from physlm.engine.environment import trackers as requested


class Recorder:
    """Stand-ins for the wandb and mlflow packages: they record what a training sends them."""

    def __init__(self):
        self.calls = []

    def wandb(self):
        recorder = self

        class Run:
            def log(self, values, step):
                recorder.calls += [("wandb", tag, value, step) for tag, value in values.items()]

            def finish(self):
                recorder.calls.append(("wandb", "finish"))

        def init(project, name):
            recorder.calls.append(("wandb", "init", project, name))
            return Run()

        return types.SimpleNamespace(init=init)

    def mlflow(self):
        recorder = self
        return types.SimpleNamespace(
            start_run=lambda run_name: recorder.calls.append(("mlflow", "start", run_name)),
            log_metric=lambda tag, value, step: recorder.calls.append(("mlflow", tag, value, step)),
            end_run=lambda: recorder.calls.append(("mlflow", "end")),
        )


def test_each_named_tracker_gets_every_scalar_at_its_step_and_is_closed(tmp_path, monkeypatch):
    recorder = Recorder()
    monkeypatch.setitem(sys.modules, "wandb", recorder.wandb())
    monkeypatch.setitem(sys.modules, "mlflow", recorder.mlflow())
    monkeypatch.setenv("PHYSLM_TRACKERS", "wandb, mlflow")
    folder = tmp_path / "run" / "tensorboard"
    with trackers.event_writer(folder, log=print) as writer:
        writer.add_scalar("train/loss", 2.5, 10)
        writer.add_scalar("held-out/op 2/accuracy", 0.25, 20)
    assert recorder.calls == [
        ("wandb", "init", "physlm", str(tmp_path / "run")),
        ("mlflow", "start", str(tmp_path / "run")),
        ("wandb", "train/loss", 2.5, 10),
        ("mlflow", "train/loss", 2.5, 10),
        ("wandb", "held-out/op 2/accuracy", 0.25, 20),
        ("mlflow", "held-out/op 2/accuracy", 0.25, 20),
        ("wandb", "finish"),
        ("mlflow", "end"),
    ]
    assert folder.is_dir()  # TensorBoard's events are written as well


def test_no_tracker_unless_asked_and_one_this_machine_lacks_is_refused_before_a_run(monkeypatch):
    monkeypatch.delenv("PHYSLM_TRACKERS", raising=False)
    assert requested() == []
    monkeypatch.setenv("PHYSLM_TRACKERS", "mlflow")
    monkeypatch.setitem(sys.modules, "mlflow", None)  # importing it raises ImportError
    with pytest.raises(
        ValueError, match=r"PHYSLM_TRACKERS: mlflow not installed here \(pip install mlflow\)"
    ):
        requested()


def test_an_unknown_tracker_names_the_variable_and_the_allowed_values(monkeypatch):
    monkeypatch.setenv("PHYSLM_TRACKERS", "wandb,neptune")
    with pytest.raises(ValueError, match=r"PHYSLM_TRACKERS: neptune not one of \('wandb', 'mlflow'\)"):
        requested()
