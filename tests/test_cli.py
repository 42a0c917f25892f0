import json
import re
from pathlib import Path

import pandas as pd
import pytest
from conftest import SMALL_POOLS

from physlm.cli import main
from physlm.reasoning.igsm_sets import PROBLEM_COLUMNS

TRAINING = {
    "batch_size": 4,
    "lr": 1e-3,
    "final_lr_ratio": 0.1,
    "warmup_steps": 1,
    "weight_decay": 0.0,
    "checkpoint_every": 1000,
    "log_every": 1,
}
TINY = {"arch": "llama", "n_layer": 1, "n_head": 2, "d_model": 8, "context": 32}


def test_bench_bios_reports_count_and_time(capsys):
    main(["bench-bios", "--n", "300", "--variant", "multi2"])
    out = capsys.readouterr().out
    assert out.startswith("600 biographies (multi2) with QA in ") and out.rstrip().endswith(" s")


def _train(tmp_path: Path, *data: str) -> list[str]:
    return [
        "train",
        "--tokenizer-dir",
        str(tmp_path / "tok"),
        "--model-config",
        json.dumps(TINY),
        "--training-config",
        json.dumps(TRAINING),
        *data,
        "--seed",
        "0",
        "--checkpoint",
        str(tmp_path / "c.pt"),
        "--out-dir",
        str(tmp_path / "m"),
        "--log",
        str(tmp_path / "l.parquet"),
    ]


def test_train_without_any_data_is_refused(tmp_path, tokenizer):
    tokenizer.save_pretrained(tmp_path / "tok")
    with pytest.raises(SystemExit, match="physlm train: training needs biographies, QA pairs or both"):
        main(_train(tmp_path))


def test_a_bad_environment_is_refused_in_one_line_before_the_step_writes(
    tmp_path, tokenizer, monkeypatch, capsys
):
    tokenizer.save_pretrained(tmp_path / "tok")
    pd.DataFrame({"person_id": [0], "text": ["a"]}).to_parquet(tmp_path / "b.parquet")
    monkeypatch.setenv("PHYSLM_DEVICE", "tpu")
    with pytest.raises(
        SystemExit, match=r"physlm train: PHYSLM_DEVICE: 'tpu' is not one of \('cpu', 'cuda'\)"
    ):
        main(_train(tmp_path, "--bios", str(tmp_path / "b.parquet")))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.parquet", "tok"]  # nothing written


def test_a_config_section_without_a_key_is_refused_naming_it(tmp_path, capsys):
    args = _train(tmp_path, "--bios", "b.parquet")
    args[args.index("--model-config") + 1] = json.dumps({k: v for k, v in TINY.items() if k != "context"})
    with pytest.raises(SystemExit):
        main(args)
    assert "ModelConfig: missing key(s) context" in capsys.readouterr().err


def test_a_misspelt_key_is_refused_in_one_line_naming_it_and_the_allowed_keys(tmp_path, capsys):
    args = _train(tmp_path, "--bios", "b.parquet")
    training = {**TRAINING, "stpes": 10}
    args[args.index("--training-config") + 1] = json.dumps(training)
    with pytest.raises(SystemExit):
        main(args)
    error = capsys.readouterr().err
    assert "TrainConfig: unknown key(s) stpes (allowed: batch_size, lr," in error
    assert "Traceback" not in error


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("steps", "ten", "steps: 'ten' is not of type 'integer' (optimizer steps)"),
        ("steps", -5, "steps: -5 is less than the minimum of 1"),
        ("batch_size", 0, "batch_size: 0 is less than the minimum of 1"),
        ("lr", -0.003, "lr: -0.003 is less than or equal to the minimum of 0 (peak learning rate"),
        ("schedule", "linear", "schedule: 'linear' is not one of ['cosine', 'wsd']"),
    ],
)
def test_a_bad_value_is_refused_in_one_line_naming_the_option_and_key_and_nothing_is_written(
    tmp_path, tokenizer, capsys, key, value, says
):
    tokenizer.save_pretrained(tmp_path / "tok")
    pd.DataFrame({"person_id": [0], "text": ["a"]}).to_parquet(tmp_path / "b.parquet")
    args = _train(tmp_path, "--bios", str(tmp_path / "b.parquet"))
    args[args.index("--training-config") + 1] = json.dumps({**TRAINING, key: value})
    with pytest.raises(SystemExit):
        main(args)
    error = capsys.readouterr().err
    assert error.startswith("physlm train: argument --training-config: ") and says in error
    assert len(error.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.parquet", "tok"]


@pytest.mark.parametrize(
    ("option", "value", "says"),
    [
        ("--seed", "-1", "argument --seed: -1: allowed >= 0"),
        ("--threads", "0", "argument --threads: 0: allowed >= 1"),
        ("--qa-ratio", "1.5", "argument --qa-ratio: 1.5: allowed > 0 and < 1"),
        ("--epochs", "two", "argument --epochs: 'two' is not a number"),
    ],
)
def test_a_number_out_of_range_is_refused_in_one_line_saying_what_is_allowed(
    tmp_path, capsys, option, value, says
):
    args = _train(tmp_path, "--bios", "b.parquet")
    with pytest.raises(SystemExit):
        main([*args, option, value])
    error = capsys.readouterr().err
    assert error.startswith("physlm train: ") and says in error and len(error.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_step_refused_midway_removes_what_it_wrote_and_keeps_what_was_there(tmp_path, monkeypatch):
    def writes_then_refuses(*, out, params_out, **_):
        out.write_text("half")
        (tmp_path / "problems.parquet.provenance.json").write_text("{}")
        (params_out / "part").write_text("kept")
        raise ValueError("refused")

    monkeypatch.setattr("physlm.results.resolve", lambda function: writes_then_refuses)
    (tmp_path / "params").mkdir()  # an output that was there before the step: kept
    args = ["problems", "--knobs-config", '{"max_ip": 4}', "--problems-config"]
    args += ['{"split": "test", "problems": 2, "max_op": 2}', "--seed", "0"]
    with pytest.raises(SystemExit, match="physlm problems: refused"):
        main([*args, "--out", str(tmp_path / "problems.parquet"), "--params-out", str(tmp_path / "params")])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["params"]


def test_a_table_of_the_wrong_kind_is_refused_naming_what_was_expected(tmp_path, capsys):
    pd.DataFrame({"person_id": [0], "copy": [0], "text": ["a"], "starts": [[0]]}).to_parquet(
        tmp_path / "b.pq"
    )
    (tmp_path / "notes.txt").write_text("not a table")
    common = ["--model-dir", str(tmp_path), "--world-dir", str(tmp_path), "--identity", "{}"]
    for qa, says in [
        (
            "b.pq",
            "b.pq is not a QA table (`physlm people --qa`, `physlm task`): "
            "no column(s) prompt, answer, split",
        ),
        ("notes.txt", "notes.txt is not a Parquet table; expected a QA table"),
    ]:
        args = ["evaluate", "--qa", str(tmp_path / qa), "--bios", str(tmp_path / "b.pq")]
        with pytest.raises(SystemExit):
            main([*args, *common, "--out", str(tmp_path / "out.parquet")])
        error = capsys.readouterr().err
        assert error.startswith("physlm evaluate: argument --qa: ") and says in error
        assert "(it has person_id, copy, text, starts)" in error or qa == "notes.txt"
        assert len(error.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.pq", "notes.txt"]


def test_a_model_from_scratch_without_its_tokenizer_is_refused(tmp_path):
    args = _train(tmp_path, "--bios", str(tmp_path))
    del args[1:3]  # --tokenizer-dir
    with pytest.raises(
        SystemExit, match="physlm train: --model-config trains from scratch: it needs --tokenizer-dir"
    ):
        main(args)
    assert list(tmp_path.iterdir()) == []


def test_a_shape_the_model_cannot_build_is_refused_before_training(tmp_path, capsys):
    args = _train(tmp_path, "--bios", "b.parquet")
    args[args.index("--model-config") + 1] = json.dumps({**TINY, "n_head": 4, "d_model": 12})
    with pytest.raises(SystemExit):
        main(args)
    assert "head width d_model/n_head = 3 must be even for llama" in capsys.readouterr().err


def test_epochs_sets_the_number_of_steps_from_the_corpus(tmp_path, people, tokenizer, capsys):
    from physlm.knowledge.bios import make_biographies

    tokenizer.save_pretrained(tmp_path / "tok")
    make_biographies(people.head(20), "multi3", seed=0).to_parquet(tmp_path / "bios.parquet")
    main(_train(tmp_path, "--bios", str(tmp_path / "bios.parquet"), "--epochs", "2"))
    out = capsys.readouterr().out
    windows = int(out.split("biographies: ")[1].split(" windows")[0])
    assert re.search(
        rf"model written to {tmp_path / 'm'} \(log {tmp_path / 'l.parquet'}\); this run took \d+m\d\ds", out
    )
    assert pd.read_parquet(tmp_path / "l.parquet")["step"].max() == -(-2 * windows // 4)
    assert json.loads((tmp_path / "m" / "scale.json").read_text())["pretrain_steps"] == -(-2 * windows // 4)


def test_biod_world_steps_refuse_what_bioD_does_not_have(tmp_path):
    knobs = json.dumps({"k": 2, "c": 1, "d": 3, "length": 1, "t": 4})
    bios = json.dumps({"n_people": 5, "pools": SMALL_POOLS})
    world = str(tmp_path / "world")
    draw = ["people", "--bios-config", bios, "--biod-config", knobs, "--seed", "0", "--out-dir", world]
    with pytest.raises(SystemExit, match="physlm people: bioD people have no QA pairs"):
        main([*draw, "--qa", str(tmp_path / "qa.parquet")])
    main(draw)
    out = tmp_path / "bios.parquet"
    write = ["biographies", "--world-dir", world, "--seed", "0", "--out", str(out), "--variant"]
    with pytest.raises(SystemExit, match="bioD takes the variant single or multiM, not 'multi2_permute'"):
        main([*write, "multi2_permute"])
    main([*write, "multi2"])
    assert len(pd.read_parquet(out)) == 10


def test_figure_and_claim_call_the_function_they_name(tmp_path):
    from test_claims import metrics, settings

    table = tmp_path / "qa.parquet"
    metrics(settings(0.8, 0.1, 0.9)).to_parquet(table)
    rows = tmp_path / "rows.parquet"
    thresholds = json.dumps({"min_gap": 0.2, "min_fit": 0.5})
    claim = [
        "claim",
        "--function",
        "physlm.knowledge.finding2_pretraining:knowledge_claims",
        "--table",
        f"metrics={table}",
    ]
    main([*claim, "--thresholds-config", thresholds, "--out", str(rows)])
    assert pd.read_parquet(rows)["finding"].str.startswith("F2").all()
    figure = [
        "figure",
        "--plot",
        "physlm.knowledge.finding2_pretraining:plot_extraction",
        "--table",
        f"metrics={table}",
    ]
    main([*figure, "--out", str(tmp_path / "f.png")])
    assert (tmp_path / "f.png").stat().st_size > 10_000
    with pytest.raises(SystemExit, match=r"'os:getcwd': expected 'physlm\.<module>:<function>'"):
        main(["figure", "--plot", "os:getcwd", "--table", f"metrics={table}", "--out", "x.png"])


def test_a_write_killed_midway_leaves_no_table_that_looks_complete(tmp_path, monkeypatch):
    from physlm.engine.artifacts import write_table

    def dies_midway(self, path, **kwargs):
        Path(path).write_bytes(b"PAR1 half a table")
        raise KeyboardInterrupt  # what SIGINT does; SIGKILL stops even earlier

    monkeypatch.setattr(pd.DataFrame, "to_parquet", dies_midway)
    out = tmp_path / "metrics.parquet"
    with pytest.raises(KeyboardInterrupt):
        write_table(pd.DataFrame({"a": [1]}), out)
    assert not out.exists()


def test_a_missing_input_is_named_in_one_line_and_outputs_need_not_exist(tmp_path):
    tables = tmp_path / "a.parquet"
    tables.write_bytes(b"")
    with pytest.raises(SystemExit) as refused:
        main(
            [
                "collect",
                str(tables),
                str(tmp_path / "b.parquet"),
                "--out",
                str(tmp_path / "new" / "c.parquet"),
            ]
        )
    assert str(refused.value) == f"physlm collect: no such file or folder: --tables {tmp_path / 'b.parquet'}"
    with pytest.raises(
        SystemExit, match=r"physlm evaluate-math: no such file or folder: --model-dir \S*nowhere"
    ):
        problems = tmp_path / "problems.parquet"
        pd.DataFrame(columns=PROBLEM_COLUMNS).to_parquet(problems)
        args = ["--model-dir", str(tmp_path / "nowhere"), "--problems", str(problems), "--train-max-op", "3"]
        outputs = ["--solutions-out", str(tmp_path / "s.parquet"), "--out", str(tmp_path / "o.parquet")]
        main(["evaluate-math", *args, *outputs, "--identity", "{}"])
