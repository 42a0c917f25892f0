import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import SMALL_POOLS

from physlm.cli import main


def test_bench_bios_reports_count_and_time(capsys):
    main(["bench-bios", "--n", "300", "--variant", "multi2"])
    out = capsys.readouterr().out
    assert out.startswith("600 biographies (multi2) with QA in ") and out.rstrip().endswith(" s")


def test_train_without_any_data_is_refused(tmp_path, people):
    from physlm.data.bios import lexicon
    from physlm.data.tokenizer import build_tokenizer

    build_tokenizer(lexicon(people)).save_pretrained(tmp_path / "tok")
    args = ["train", "--tokenizer", str(tmp_path / "tok"), "--model", "{}", "--training", "{}"]
    args += ["--seed", "0", "--checkpoint", "c.pt", "--out", "m", "--log", "l.parquet"]
    with pytest.raises(SystemExit, match="give --bios, --qa or both"):
        main(args)


def test_epochs_sets_the_number_of_steps_from_the_corpus(tmp_path, people, tokenizer, capsys):
    from physlm.data.bios import make_biographies

    tokenizer.save_pretrained(tmp_path / "tok")
    make_biographies(people.head(20), "multi3", seed=0).to_parquet(tmp_path / "bios.parquet")
    model = {"arch": "llama", "n_layer": 1, "n_head": 2, "d_model": 8, "context": 32}
    training = {
        "batch_size": 4,
        "lr": 1e-3,
        "final_lr_ratio": 0.1,
        "warmup_steps": 1,
        "weight_decay": 0.0,
        "checkpoint_every": 1000,
        "log_every": 1,
    }
    main(
        [
            "train",
            "--tokenizer",
            str(tmp_path / "tok"),
            "--model",
            json.dumps(model),
            "--training",
            json.dumps(training),
            "--bios",
            str(tmp_path / "bios.parquet"),
            "--epochs",
            "2",
            "--seed",
            "0",
            "--checkpoint",
            str(tmp_path / "c.pt"),
            "--out",
            str(tmp_path / "m"),
            "--log",
            str(tmp_path / "l.parquet"),
        ]
    )
    windows = int(capsys.readouterr().out.split("biographies: ")[1].split(" windows")[0])
    assert pd.read_parquet(tmp_path / "l.parquet")["step"].max() == -(-2 * windows // 4)


def test_biod_world_steps_refuse_what_bioD_does_not_have(tmp_path):
    knobs = json.dumps({"k": 2, "c": 1, "d": 3, "length": 1, "t": 4})
    bios = json.dumps({"n_people": 5, "pools": SMALL_POOLS})
    people = ["--people", str(tmp_path / "people.parquet")]
    draw = ["people", "--bios", bios, "--biod", knobs, "--seed", "0", *people]
    with pytest.raises(SystemExit, match="bioD people have no QA pairs"):
        main([*draw, "--qa", "qa.parquet"])
    main(draw)
    out = tmp_path / "bios.parquet"
    write = ["biographies", *people, "--biod", knobs, "--seed", "0", "--out", str(out), "--variant"]
    with pytest.raises(SystemExit, match="bioD takes --variant single or multiM, not 'multi2_permute'"):
        main([*write, "multi2_permute"])
    main([*write, "multi2"])
    assert len(pd.read_parquet(out)) == 10


def test_a_write_killed_midway_leaves_no_table_that_looks_complete(tmp_path, monkeypatch):
    from argparse import Namespace

    from physlm.cli import _write_parquet

    def dies_midway(self, path, **kwargs):
        Path(path).write_bytes(b"PAR1 half a table")
        raise KeyboardInterrupt  # what SIGINT does; SIGKILL stops even earlier

    monkeypatch.setattr(pd.DataFrame, "to_parquet", dies_midway)
    out = tmp_path / "metrics.parquet"
    with pytest.raises(KeyboardInterrupt):
        _write_parquet(pd.DataFrame({"a": [1]}), out, Namespace(step="collect"))
    assert not out.exists()
