import json
from pathlib import Path

from physlm import __version__
from physlm.provenance import beside, provenance, write_provenance


def test_provenance_records_code_settings_seed_and_machine():
    args = {"step": "train", "run": print, "seed": 3, "model": '{"n_layer": 2}', "out": Path("m")}
    info = provenance(args)
    assert info["physlm"] == __version__ and info["step"] == "train" and info["seed"] == 3
    assert info["config"] == {"seed": 3, "model": {"n_layer": 2}, "out": "m"}  # JSON decoded
    assert info["torch"] and info["transformers"] and info["python"]
    assert info["device"] == "cpu" and "cuda" in info  # torch is imported in this process


def test_provenance_goes_inside_a_directory_and_next_to_a_file(tmp_path):
    table, model = tmp_path / "bits.parquet", tmp_path / "model"
    model.mkdir()
    for path in (table, model):
        write_provenance(path, {"step": "collect", "seed": 0})
    assert beside(table) == tmp_path / "bits.parquet.provenance.json"
    assert beside(model) == model / "provenance.json"
    assert json.loads(beside(table).read_text())["step"] == "collect"
    assert json.loads(beside(model).read_text())["seed"] == 0
