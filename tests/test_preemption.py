"""A training job killed mid-run, as SLURM preempts one, resumes from its checkpoint on rerun."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file
from smk import copy_workflow, environment

PRETRAIN = Path("results/smoke/knowledge/single/seed0/pretrain")


def _long_pretraining(workdir: Path) -> None:
    """Smoke scale with a pretraining long enough to be killed, and no automatic retries, so that
    the rerun is the user's."""
    config = yaml.safe_load((workdir / "workflow" / "config" / "smoke.yaml").read_text())
    config["pretrain"].update(steps=1500, checkpoint_every=100, log_every=50)
    config["resources"]["train"]["retries"] = 0
    (workdir / "long.yaml").write_text(yaml.safe_dump(config))


def _command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "snakemake",
        "--cores",
        "1",
        "--configfile=long.yaml",  # with `=`: the option takes several files and would swallow the target
        str(PRETRAIN / "model"),
    ]


def _training_process(workdir: Path) -> int | None:
    """The pid of the `physlm train` process running in `workdir`, if any."""
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
            ours = (proc / "cwd").resolve() == workdir.resolve()
            if ours and b"train" in cmdline and any(a.endswith(b"physlm") for a in cmdline[:2]):
                return int(proc.name)
        except (OSError, ValueError):
            continue
    return None


def _run(workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run(_command(), cwd=workdir, capture_output=True, text=True, env=environment())


@pytest.mark.e2e
def test_killed_training_job_resumes_on_rerun_and_matches_an_unbroken_run(tmp_path):
    unbroken = copy_workflow(tmp_path / "unbroken")
    _long_pretraining(unbroken)
    assert _run(unbroken).returncode == 0

    work = copy_workflow(tmp_path / "killed")
    _long_pretraining(work)
    workflow = subprocess.Popen(
        _command(), cwd=work, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment()
    )
    checkpoint = work / PRETRAIN / "checkpoint.pt"
    deadline = time.time() + 300
    while not checkpoint.exists() and time.time() < deadline and workflow.poll() is None:
        time.sleep(0.1)
    pid = _training_process(work)
    assert pid is not None, "training finished before it could be killed"
    os.kill(pid, signal.SIGTERM)
    workflow.communicate(timeout=120)
    assert workflow.returncode != 0
    log = (work / PRETRAIN / "train.log").read_text()
    saved = int(re.search(r"SIGTERM: checkpoint saved at step (\d+)", log).group(1))
    assert torch.load(checkpoint, weights_only=False)["step"] == saved
    # Nothing a rerun could take as complete: the model folder and log table are gone.
    assert not (work / PRETRAIN / "model").exists() and not (work / PRETRAIN / "train_log.parquet").exists()

    rerun = _run(work)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    log = (work / PRETRAIN / "train.log").read_text()
    assert f"resumed from step {saved}" in log
    steps_run = [int(line.split()[1].split("/")[0]) for line in log.splitlines() if line.startswith("step ")]
    assert min(steps_run) > saved  # only the steps after the checkpoint ran again
    a = load_file(unbroken / PRETRAIN / "model" / "model.safetensors")
    b = load_file(work / PRETRAIN / "model" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not checkpoint.exists()
