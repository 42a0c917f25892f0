#!/usr/bin/env python3
"""Wheels that install this package on a GPU node with no network and no Snakemake.

Here, where pip reaches the package index:

    python3 scripts/offline_wheels.py --out .whl [--have NODE_PACKAGES]

There, with the folder copied next to the repository:

    python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl
    export PYTHONPATH=/tmp/site PATH=/tmp/site/bin:$PATH

NODE_PACKAGES lists what the node already has, one project per line (`pip list --format=freeze`
there gives it; versions are ignored); the default, scripts/gpu-node-packages.txt, is the H200
image's list. The script resolves, with pip's own resolver, every project this package needs that the
node lacks, downloads each as a wheel for the node (CPython 3.12, manylinux x86-64, or pure Python),
builds here the few that publish none (connection_pool, for one: pure Python, so a wheel built here
works there; the script stops if one is not), and adds physlm itself as a wheel. torch is never
carried: the node's CUDA build must stay.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NODE = [
    "--python-version",
    "3.12",
    "--implementation",
    "cp",
    "--abi",
    "cp312",
    "--abi",
    "abi3",
    "--abi",
    "none",
]
NODE += [f"--platform=manylinux_2_{n}_x86_64" for n in (39, 35, 34, 31, 28, 27, 24, 17)]
NODE += ["--platform=manylinux2014_x86_64", "--platform=manylinux1_x86_64"]
NEVER = {"torch"}  # the node's own build (CUDA) must stay


def normalize(name: str) -> str:
    """A project name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The project a requirement string names ("snakemake>=9,<10" -> "snakemake")."""
    return normalize(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement.strip()).group())


def read_have(path: Path) -> set[str]:
    """The projects a node has, from `pip list --format=freeze` output or plain names."""
    lines = (line.split("#")[0].strip() for line in path.read_text().splitlines())
    return {requirement_name(line) for line in lines if line}


def missing(requirements: list[str], have: set[str]) -> list[str]:
    """The requirements whose project the node lacks (torch never counts as missing)."""
    return [r for r in requirements if requirement_name(r) not in have | NEVER]


def is_pure(wheel: str) -> bool:
    """Whether a wheel file runs on any platform (a pure-Python tag)."""
    return wheel.endswith("-none-any.whl")


def pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def closure(requirements: list[str]) -> list[str]:
    """name==version of every project installing `requirements` takes, by pip's resolver (dry run)."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        run = pip(
            "install", "--dry-run", "--ignore-installed", "--quiet", "--report", str(report), *requirements
        )
        if run.returncode:
            raise SystemExit(f"pip could not resolve {requirements}:\n{run.stderr[-2000:]}")
        installs = json.loads(report.read_text())["install"]
    return [f"{i['metadata']['name']}=={i['metadata']['version']}" for i in installs]


def fetch(pinned: str, out: Path) -> str:
    """Download `pinned` as a wheel for the node, or build it here when it publishes none (it must
    then be pure Python). Returns how it came."""
    if pip("download", "--no-deps", "--only-binary=:all:", *NODE, "-d", str(out), pinned).returncode == 0:
        return "downloaded"
    with tempfile.TemporaryDirectory() as tmp:
        run = pip("wheel", "--no-deps", "-w", tmp, pinned)
        built = [p for p in Path(tmp).glob("*.whl")]
        if run.returncode or not built:
            raise SystemExit(
                f"{pinned}: no wheel for the node, and building one failed:\n{run.stderr[-2000:]}"
            )
        if not is_pure(built[0].name):
            raise SystemExit(f"{pinned}: no wheel for the node, and the one built here is not pure Python")
        built[0].rename(out / built[0].name)
    return "built here (pure Python)"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".whl", help="the folder of wheels")
    parser.add_argument("--have", type=Path, default=ROOT / "scripts" / "gpu-node-packages.txt")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    have = read_have(args.have)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    needed = missing(closure(missing(project, have)), have)
    for pinned in needed:
        print(f"{pinned}: {fetch(pinned, args.out)}", flush=True)
    run = pip("wheel", "--no-deps", "-w", str(args.out), str(ROOT))
    if run.returncode:
        raise SystemExit(f"building physlm's wheel failed:\n{run.stderr[-2000:]}")
    size = sum(p.stat().st_size for p in args.out.glob("*.whl")) / 2**20
    print(f"{len(needed) + 1} wheels in {args.out} ({size:.1f} MiB)")


if __name__ == "__main__":
    main()
