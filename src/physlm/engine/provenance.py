"""What produced a file: written beside every checkpoint, model and table the pipeline makes, so a
result found on disk months later still says which code, settings and machine made it."""

from __future__ import annotations

import ast
import dataclasses
import datetime
import functools
import hashlib
import json
import platform
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
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


@functools.cache
def source_commit() -> str | None:
    """The git commit of the physlm code this process runs ("-dirty" when it has uncommitted
    changes), None outside a git checkout (an installed wheel)."""
    try:
        git = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=7"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return git.stdout.strip() or None if git.returncode == 0 else None


def _settings(arguments: dict) -> dict:
    """The step's arguments, config sections as plain dicts."""
    settings = {}
    for key, value in arguments.items():
        if callable(value):  # the function the CLI calls
            continue
        if dataclasses.is_dataclass(value):
            value = dataclasses.asdict(value)
        elif isinstance(value, str) and value[:1] in "{[":
            value = json.loads(value)
        settings[key] = str(value) if isinstance(value, Path) else value
    return settings


# The arguments of the step this process runs (set by the CLI), recorded beside every file it writes.
_STEP: dict = {}


@contextmanager
def recording(arguments: dict) -> Iterator[None]:
    """Record `arguments` as the settings of every file written inside this block."""
    _STEP.update(arguments)
    try:
        yield
    finally:
        _STEP.clear()


def provenance(arguments: dict) -> dict:
    settings = _settings(arguments)
    return {
        "physlm": __version__,
        "commit": source_commit(),
        "step": settings.pop("step", None),
        "code": {m: code_hash(m) for m in settings.pop("code", [])},
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


def write_provenance(path: Path) -> None:
    """Write what produced `path` beside it: the running step's settings, code, packages, machine."""
    beside(path).write_text(json.dumps(provenance(_STEP), indent=2, default=str) + "\n")


def _file_digest(path: Path) -> str:
    """sha256 of a file, or of every file in a folder (with their relative paths)."""
    digest = hashlib.sha256()
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()


def run_fingerprint(settings: dict, inputs: list[Path]) -> str:
    """A digest of everything that defines a run: its settings (the code hash among them) and the
    contents of its input files, not where it writes or how many threads it uses. Two runs with the
    same fingerprint do the same computation, so one may resume the other's checkpoint."""
    record = {"settings": _settings(settings), "inputs": {str(p): _file_digest(Path(p)) for p in inputs}}
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _source(module: str) -> Path | None:
    """The file of a physlm module (without importing it), None if the name is not one."""
    path = Path(__file__).parents[1].joinpath(*module.split(".")[1:])
    for candidate in (path.with_suffix(".py"), path / "__init__.py"):
        if module.split(".")[0] == "physlm" and candidate.is_file():
            return candidate
    return None


def _imported(module: str) -> set[str]:
    """The physlm modules a module's code imports, at its top or inside functions."""
    source = _source(module)
    package = module if source.name == "__init__.py" else module.rpartition(".")[0]
    return {name for name in _import_names(source.read_bytes(), package) if _source(name) is not None}


@functools.cache
def _import_names(code: bytes, package: str) -> frozenset[str]:
    """Every name the code imports (modules, and module.name for `from` imports). Cached by content:
    parsing the workflow hashes the code of every rule, and the same modules come up hundreds of
    times."""
    names = set()
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from . import x, from .y import z
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names.add(base)
            # `from physlm import probing` names a module; `from physlm.x import f` a function.
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return frozenset(names)


def code_closure(*modules: str) -> list[str]:
    """`modules` and every physlm module they import, directly or through others, sorted."""
    unknown = [m for m in modules if _source(m) is None]
    if unknown:
        raise ValueError(f"not physlm modules: {', '.join(unknown)}")
    seen, todo = set(), list(modules)
    while todo:
        module = todo.pop()
        if module not in seen:
            seen.add(module)
            todo.extend(_imported(module))
    return sorted(seen)


def code_hash(*modules: str) -> str:
    """A digest of the source of `modules` and of the physlm modules they import: a rule that runs
    them carries it among its params, so an edit reruns exactly the steps whose code it touches
    (bumping the package version reruns nothing)."""
    digest = hashlib.sha256()
    for module in code_closure(*modules):
        digest.update(module.encode())
        digest.update(hashlib.sha256(_source(module).read_bytes()).digest())
    return digest.hexdigest()[:16]
