import json
from pathlib import Path

import torch  # noqa: F401  (provenance records the device only when a step imported torch)

from physlm import __version__
from physlm.engine.config_types import ModelConfig
from physlm.engine.provenance import beside, code_closure, code_hash, provenance, recording, write_provenance


def test_provenance_records_code_settings_seed_and_machine():
    model = ModelConfig(arch="llama", n_layer=2, n_head=2, d_model=8, context=16)
    args = {
        "step": "train",
        "code": ["physlm.engine.fit"],
        "seed": 3,
        "model_config": model,
        "out": Path("m"),
    }
    info = provenance(args)
    assert info["physlm"] == __version__ and info["step"] == "train" and info["seed"] == 3
    assert info["code"] == {"physlm.engine.fit": code_hash("physlm.engine.fit")}
    assert info["config"]["model_config"]["n_layer"] == 2 and info["config"]["out"] == "m"
    assert info["torch"] and info["transformers"] and info["python"]
    assert info["device"] == "cpu" and "cuda" in info  # torch is imported in this process


def test_provenance_goes_inside_a_directory_and_next_to_a_file(tmp_path):
    table, model = tmp_path / "bits.parquet", tmp_path / "model"
    model.mkdir()
    with recording({"step": "collect", "seed": 0}):
        for path in (table, model):
            write_provenance(path)
    assert beside(table) == tmp_path / "bits.parquet.provenance.json"
    assert beside(model) == model / "provenance.json"
    assert json.loads(beside(table).read_text())["step"] == "collect"
    assert json.loads(beside(model).read_text())["seed"] == 0


def test_code_closure_follows_imports_inside_functions_and_stays_in_the_package():
    closure = code_closure("physlm.knowledge.capacity")
    # capacity_bits imports evaluate and quantize inside the function; torch is not physlm.
    assert {
        "physlm.knowledge.capacity",
        "physlm.knowledge.qa",
        "physlm.engine.quantize",
        "physlm.knowledge.worlds",
    } <= set(closure)
    assert "physlm.knowledge.probing" not in closure and "physlm.cli" not in closure


def test_code_hash_changes_with_a_module_it_imports_and_only_then(tmp_path, monkeypatch):
    import physlm.engine.provenance as provenance_module

    package = Path(provenance_module.__file__).parents[1]
    copy = tmp_path / "physlm"
    import shutil

    shutil.copytree(package, copy)
    monkeypatch.setattr(provenance_module, "__file__", str(copy / "engine" / "provenance.py"))
    before = {m: code_hash(m) for m in ("physlm.knowledge.probing", "physlm.knowledge.qa")}
    with (copy / "knowledge" / "probing.py").open("a") as source:
        source.write("\n# an edit\n")
    assert code_hash("physlm.knowledge.probing") != before["physlm.knowledge.probing"]
    assert code_hash("physlm.knowledge.qa") == before["physlm.knowledge.qa"]
