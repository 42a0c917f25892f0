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


def copy_workflow(dst: Path) -> Path:
    dst.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Snakefile", dst)
    shutil.copytree(ROOT / "workflow", dst / "workflow")
    return dst


def environment() -> dict:
    """Rules call the `physlm` console script: find it next to this interpreter, activated or not."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def snakemake(workdir: Path, *args: str, **popen) -> subprocess.CompletedProcess:
    """`snakemake ARGS` in `workdir` (smoke scale, 2 cores unless ARGS say otherwise)."""
    command = [sys.executable, "-m", "snakemake", "--cores", "2", *SMOKE, *args]
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=environment(), **popen)
