"""The package's layout is its architecture: an engine that knows no domain, and two domains
(knowledge, reasoning) that know the engine and not each other."""

import pkgutil

import pytest

import physlm
from physlm.engine.provenance import code_closure

MODULES = [m.name for m in pkgutil.walk_packages(physlm.__path__, "physlm.")]
ALLOWED = {"engine": {"engine"}, "knowledge": {"engine", "knowledge"}, "reasoning": {"engine", "reasoning"}}


def _part(module: str) -> str:
    """The package under physlm a module lies in ("" for physlm itself)."""
    return module.split(".")[1] if module.count(".") else ""


@pytest.mark.parametrize("module", [m for m in MODULES if _part(m) in ALLOWED])
def test_a_module_imports_only_its_own_package_and_the_engine(module):
    outside = [c for c in code_closure(module) if _part(c) not in ALLOWED[_part(module)] | {""}]
    assert outside == []


def test_the_check_sees_an_import_across_domains(tmp_path, monkeypatch):
    """The layout check reads imports the way the code hash does: a reasoning module that imports a
    knowledge one is caught."""
    import shutil

    import physlm.engine.provenance as provenance

    copy = tmp_path / "physlm"
    shutil.copytree(physlm.__path__[0], copy)
    monkeypatch.setattr(provenance, "__file__", str(copy / "engine" / "provenance.py"))
    with (copy / "reasoning" / "checker.py").open("a") as source:
        source.write("\nfrom physlm.knowledge.bios import lexicon\n")
    assert "physlm.knowledge.bios" in code_closure("physlm.reasoning.checker")
    assert "physlm.knowledge.bios" not in code_closure("physlm.reasoning.igsm")
