"""What produced a file: written beside every checkpoint, model and table the pipeline makes, so a
result found on disk months later still says which code, settings and machine made it."""

from __future__ import annotations

import datetime
import hashlib
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from physlm import __version__


def _package(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def _device() -> dict:
    """The device, if this step used torch at all (data steps never import it, and stay fast)."""
    torch = sys.modules.get("torch")
    if torch is None:
        return {"device": "cpu (torch not used)", "cuda": None}
    cuda = torch.cuda.is_available()
    return {
        "device": torch.cuda.get_device_name() if cuda else "cpu",
        "cuda": torch.version.cuda,
        "torch_threads": torch.get_num_threads(),
    }


def _settings(arguments: dict) -> dict:
    """The step's arguments, with the JSON config sections Snakemake passes decoded."""
    settings = {}
    for key, value in arguments.items():
        if key == "run":
            continue
        if isinstance(value, str) and value[:1] in "{[":
            value = json.loads(value)
        settings[key] = str(value) if isinstance(value, Path) else value
    return settings


def provenance(arguments: dict) -> dict:
    settings = _settings(arguments)
    return {
        "physlm": __version__,
        "step": settings.pop("step", None),
        "seed": settings.get("seed"),
        "config": settings,
        "torch": _package("torch"),
        "transformers": _package("transformers"),
        "python": platform.python_version(),
        **_device(),
        "host": platform.node(),
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def beside(path: Path) -> Path:
    """Where the provenance of `path` goes: inside a directory, next to a file."""
    return path / "provenance.json" if path.is_dir() else path.with_name(path.name + ".provenance.json")


def write_provenance(path: Path, arguments: dict) -> None:
    beside(path).write_text(json.dumps(provenance(arguments), indent=2, default=str) + "\n")


def _file_digest(path: Path) -> str:
    """sha256 of a file, or of every file in a folder (with their relative paths)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def run_fingerprint(arguments: dict, inputs: list[Path], ignore: tuple[str, ...] = ()) -> str:
    """A digest of everything that defines a run: its settings (minus `ignore`: where it writes, how
    many threads), the contents of its input files, and the package version. Two runs with the same
    fingerprint do the same computation, so one may resume the other's checkpoint."""
    settings = {k: v for k, v in _settings(arguments).items() if k not in ignore}
    record = {
        "physlm": __version__,
        "settings": settings,
        "inputs": {str(p): _file_digest(Path(p)) for p in inputs},
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
