"""`physlm status`: every training under a folder, read from its train.log."""

import os

from physlm.cli import main
from physlm.engine.progress import STALE_AFTER, training_status


def _log(folder, *lines, age: float = 0.0):
    folder.mkdir(parents=True)
    path = folder / "train.log"
    path.write_text("\n".join(["942,048 parameters on cpu", *lines]) + "\n")
    os.utime(path, (1000.0 - age, 1000.0 - age))


def test_each_training_is_running_finished_stopped_or_starting(tmp_path, capsys):
    step = "step {}/{} loss {} lr 1.00e-03 grad norm 0.5 {} tok/s, {} left"
    _log(
        tmp_path / "math/seed0/stage1",
        step.format(50, 400, "2.1", "5,000", "9m00s"),
        step.format(100, 400, "1.5", "5,421", "8m10s"),
    )
    _log(
        tmp_path / "knowledge/single/pretrain",
        step.format(400, 400, "0.3", "6,000", "0m00s"),
        "model written to results/x/model (log results/x/train_log.parquet); this run took 41m07s",
        age=2 * STALE_AFTER,
    )
    _log(tmp_path / "capacity/bioS", step.format(10, 400, "3.0", "4,000", "1h02m"), age=2 * STALE_AFTER)
    _log(tmp_path / "probing/new")
    rows = {row["training"]: row for row in training_status(tmp_path, now=1000.0)}
    assert rows["math/seed0/stage1"] == {
        "training": "math/seed0/stage1",
        "state": "running",
        "step": "100/400",
        "loss": "1.5",
        "tok/s": "5,421",
        "time": "8m10s left",
    }
    assert rows["knowledge/single/pretrain"]["state"] == "finished"
    assert rows["knowledge/single/pretrain"]["time"] == "took 41m07s"
    assert rows["capacity/bioS"]["state"] == "stopped" and rows["capacity/bioS"]["step"] == "10/400"
    assert rows["probing/new"]["state"] == "starting"
    os.utime(tmp_path / "math/seed0/stage1/train.log")  # written just now
    main(["status", str(tmp_path)])
    out = capsys.readouterr().out
    assert out.splitlines()[0].split() == ["training", "state", "step", "loss", "tok/s", "time"]
    assert "math/seed0/stage1" in out and "8m10s left" in out


def test_a_folder_without_training_logs_says_so(tmp_path, capsys):
    main(["status", str(tmp_path)])
    assert "no training log" in capsys.readouterr().out
