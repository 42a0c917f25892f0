import pytest

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
