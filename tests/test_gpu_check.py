"""scripts/gpu-check refuses what it cannot run before it installs or measures anything (the GPU
lease is short: a typo must not spend it)."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "gpu-check"


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True)


def test_without_an_output_folder_it_prints_its_usage():
    result = run()
    assert result.returncode != 0 and "usage: scripts/gpu-check OUT_DIR" in result.stderr


def test_a_missing_config_or_a_bare_option_stops_it_before_any_work(tmp_path):
    missing = run(str(tmp_path / "out"), "workflow/config/nonexistent.yaml", "--dag-seconds", "30")
    assert missing.returncode == 2 and "no config workflow/config/nonexistent.yaml" in missing.stderr
    bare = run(str(tmp_path / "out"), "--dag-seconds")
    assert bare.returncode != 0 and "--dag-seconds needs a number" in bare.stderr
    bare = run(str(tmp_path / "out"), "--compile")
    assert bare.returncode != 0 and "--compile needs a torch.compile mode" in bare.stderr
    assert not (tmp_path / "out").exists()
