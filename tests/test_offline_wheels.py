"""The GPU node's wheel list (scripts/offline_wheels.py): what it carries and what it leaves out.
Downloading needs the package index, so only the choices are tested here."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "offline_wheels.py"
spec = importlib.util.spec_from_file_location("offline_wheels", SCRIPT)
wheels = importlib.util.module_from_spec(spec)
spec.loader.exec_module(wheels)


def test_names_compare_as_pip_compares_them():
    assert (
        wheels.requirement_name("Snakemake_Executor.Plugin-slurm>=2.0") == "snakemake-executor-plugin-slurm"
    )
    assert wheels.requirement_name("connection_pool==0.0.3") == "connection-pool"


def test_what_the_node_has_is_read_from_pip_freeze_or_plain_names(tmp_path):
    listing = tmp_path / "have.txt"
    listing.write_text("PyYAML==6.0.2\n# a comment\n\ntorch @ file:///wheels/torch.whl\njinja2\n")
    assert wheels.read_have(listing) == {"pyyaml", "torch", "jinja2"}


def test_only_what_the_node_lacks_is_carried_and_never_torch():
    have = {"pandas", "pyyaml"}
    needed = wheels.missing(
        ["torch>=2.4", "pandas>=2.2", "PyYAML>=6", "snakemake>=9.0,<10", "faker>=30"], have
    )
    assert needed == ["snakemake>=9.0,<10", "faker>=30"]


def test_the_h200_list_lacks_snakemake_and_has_torch_and_transformers():
    have = wheels.read_have(SCRIPT.parent / "gpu-node-packages.txt")
    assert {"torch", "transformers", "peft", "pandas", "pyarrow", "seaborn"} <= have
    assert not {"snakemake", "faker", "snakemake-executor-plugin-slurm"} & have


def test_a_wheel_built_here_must_be_pure_python():
    assert wheels.is_pure("connection_pool-0.0.3-py3-none-any.whl")
    assert not wheels.is_pure("rpds_py-0.1-cp312-cp312-manylinux_2_17_x86_64.whl")
