"""Run the workflow in a copy of it, as its users do, for the end-to-end tests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# `=` keeps the option to one value: `--configfile` takes several and would swallow targets after it.
SMOKE = ["--configfile=workflow/config/smoke.yaml"]
FIGURES = ["knowledge_capacity", "knowledge_extraction", "knowledge_manipulation", "p_probing", "q_probing"]
# What the second run (through SLURM, or locally where no cluster starts) makes: every rule of the
# knowledge half of the DAG (findings 2 and 5, probing) and one finding 1 model on bioD. The whole DAG
# a second time took 12-14 minutes of the suite's 22 here, mostly Snakemake starting twice in every
# SLURM job; the other steps are shown deterministic by their unit tests.
SECOND_RUN_FIGURES = [name for name in FIGURES if name != "knowledge_capacity"]
SECOND_RUN = [
    *(f"results/smoke/figures/{name}.pdf" for name in SECOND_RUN_FIGURES),
    "results/smoke/capacity/bioD/N20/E3/s/seed0/bits.parquet",
]


def copy_workflow(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Snakefile", dst)
    shutil.copytree(ROOT / "workflow", dst / "workflow")
    shutil.copytree(ROOT / "profiles", dst / "profiles")
    return dst


def environment() -> dict:
    """Rules call the `physlm` console script: find it next to this interpreter, activated or not."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def snakemake(
    workdir: Path, *args: str, cores: str | None = "2", env_extra: dict | None = None, **popen
) -> subprocess.CompletedProcess:
    """`snakemake ARGS` in `workdir` at smoke scale, on `cores` cores (None: no --cores option),
    with `env_extra` added to the environment."""
    command = [sys.executable, "-m", "snakemake", *(["--cores", cores] if cores else []), *SMOKE, *args]
    env = {**environment(), **(env_extra or {})}
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=env, **popen)


# The README's command, with the two options it gives for a cluster without an accounting database
# (sacct) and without accounts, as this test cluster is, and the one it gives for a small cluster:
# poll job states 1 s after a job ends, not 40 s as suits a busy shared cluster. Nothing else (no
# --cores).
SLURM = [
    "--workflow-profile",
    "profiles/slurm",
    "--slurm-status-command",
    "squeue",
    "--slurm-no-account",
    "--slurm-init-seconds-before-status-checks",
    "1",
]


# Starting a cluster installs packages and starts daemons: only when asked (CI asks).
START_SLURM = "PHYSLM_START_SLURM"


def start_cluster() -> str | None:
    """None once a SLURM cluster answers here, else why none can. One is started
    (tests/slurm/start-cluster) only when PHYSLM_START_SLURM=1 and as root."""
    if shutil.which("sinfo"):
        state = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
        if "idle" in state.stdout or "mix" in state.stdout:
            return None
    if os.environ.get(START_SLURM) != "1":
        return f"no SLURM cluster answers here; {START_SLURM}=1 (as root) starts one (apt-get, daemons)"
    if os.geteuid() != 0:
        return "no SLURM cluster answers here, and starting one (apt-get, daemons) needs root"
    start = subprocess.run([ROOT / "tests" / "slurm" / "start-cluster"], capture_output=True, text=True)
    if start.returncode != 0:
        return f"the SLURM daemons could not start: {(start.stdout + start.stderr)[-500:]}"
    return None
