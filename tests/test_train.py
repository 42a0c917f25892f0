import dataclasses
import itertools
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.torch import load_file
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from physlm.engine.config_types import ModelConfig, TrainConfig
from physlm.engine.corpus import bio_documents
from physlm.engine.fit import TrainingRun
from physlm.engine.loop import (
    IGNORE,
    Stream,
    build_mixture,
    learning_rate,
    make_optimizer,
    to_device,
    train,
    weighted_loss,
)
from physlm.engine.models import build_model
from physlm.engine.tokenizer import build_tokenizer
from physlm.knowledge.bios import lexicon, make_biographies, make_people
from physlm.knowledge.train import run_scale

TINY_MODEL = ModelConfig(arch="llama", n_layer=1, n_head=2, d_model=32, context=32)


def _config(**overrides) -> TrainConfig:
    base = dict(
        steps=60,
        batch_size=8,
        lr=3e-3,
        final_lr_ratio=0.1,
        warmup_steps=5,
        weight_decay=0.1,
        checkpoint_every=1000,
        log_every=10,
    )
    return TrainConfig(**{**base, **overrides})


def test_learning_rate_warms_up_then_decays_to_the_floor():
    cfg = _config(steps=100, warmup_steps=10, lr=1.0, final_lr_ratio=0.1)
    rates = [learning_rate(s, cfg) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert all(a >= b for a, b in itertools.pairwise(rates[9:]))
    assert learning_rate(100, cfg) == pytest.approx(0.1)
    no_warmup = _config(steps=100, warmup_steps=0, lr=1.0, final_lr_ratio=0.1)  # the paper's LoRA
    assert learning_rate(0, no_warmup) == pytest.approx(1.0)
    assert learning_rate(99, no_warmup) == pytest.approx(0.1, abs=1e-3)


def test_warmup_stable_decay_holds_the_rate_then_decays_over_the_last_fraction():
    cfg = _config(steps=100, warmup_steps=10, lr=1.0, final_lr_ratio=0.01, schedule="wsd", decay_fraction=0.2)
    rates = [learning_rate(s, cfg) for s in range(100)]
    assert rates[0] == pytest.approx(0.1) and rates[9] == pytest.approx(1.0)
    assert rates[10:81] == [1.0] * 71  # held until the decay's first step (80)
    assert rates[90] == pytest.approx(1.0 - 0.99 * 0.5)  # halfway down, linearly
    assert all(a > b for a, b in itertools.pairwise(rates[80:]))
    assert learning_rate(100, cfg) == pytest.approx(0.01)
    with pytest.raises(ValueError, match=r"schedule: 'linear' is not one of \['cosine', 'wsd'\]"):
        TrainConfig.from_config(dataclasses.asdict(_config(schedule="linear")))


def test_the_weighted_loss_is_the_plain_mean_at_weight_one_and_shifts_by_one_token():
    torch.manual_seed(0)
    logits, labels = torch.randn(2, 5, 7), torch.randint(0, 7, (2, 5))
    labels[0, :2] = IGNORE
    plain = torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1), labels[:, 1:].flatten(), ignore_index=IGNORE
    )
    assert torch.isclose(weighted_loss(logits, labels, torch.ones(2, 5)), plain)
    # label 3 of row 1 is predicted at position 2: weighing it 3 counts its loss three times
    per_token = torch.nn.functional.cross_entropy(logits[1, 2], labels[1, 3], reduction="none")
    weights = torch.ones(2, 5)
    weights[1, 3] = 3.0
    n = (labels[:, 1:] != IGNORE).sum()
    expected = (plain * n + 2 * per_token) / (n + 2)
    assert torch.isclose(weighted_loss(logits, labels, weights), expected)
    weights[0, 1] = 5.0  # an ignored label weighs nothing, whatever its weight
    assert torch.isclose(weighted_loss(logits, labels, weights), expected)


def test_adamw_is_fused_and_decays_matrices_only():
    model = build_model(TINY_MODEL, vocab_size=50, eos_id=0, pad_id=1, seed=0)
    optimizer = make_optimizer(model, _config(weight_decay=0.1))
    assert optimizer.defaults["fused"] is True  # on a CPU too
    decayed, plain = optimizer.param_groups
    assert decayed["weight_decay"] == 0.1 and all(p.dim() == 2 for p in decayed["params"])
    assert plain["weight_decay"] == 0.0 and plain["params"] and all(p.dim() == 1 for p in plain["params"])
    loop = torch.optim.AdamW(  # the same groups, updated one tensor at a time
        [
            {**g, "fused": False, "foreach": False, "params": [p.detach().clone() for p in g["params"]]}
            for g in optimizer.param_groups
        ]
    )
    assert not any(g["fused"] for g in loop.param_groups)
    for group in (*optimizer.param_groups, *loop.param_groups):
        for p in group["params"]:
            p.grad = torch.ones_like(p)
    optimizer.step(), loop.step()
    for fused, single in zip(optimizer.param_groups, loop.param_groups, strict=True):
        for a, b in zip(fused["params"], single["params"], strict=True):
            torch.testing.assert_close(a, b)  # the one kernel makes the same update


def test_a_batch_reaches_cuda_through_pinned_memory_without_blocking(monkeypatch):
    batch = np.arange(6).reshape(2, 3)
    assert torch.equal(to_device(batch, torch.device("cpu")), torch.from_numpy(batch))
    calls = []
    monkeypatch.setattr(torch.Tensor, "pin_memory", lambda t: calls.append("pin") or t)
    monkeypatch.setattr(
        torch.Tensor, "to", lambda t, device, non_blocking=False: calls.append(non_blocking) or t
    )
    moved = to_device(batch, torch.device("cuda"))  # no GPU needed: the copy itself is recorded
    assert calls == ["pin", True] and torch.equal(moved, torch.from_numpy(batch))


def test_stream_reshuffles_documents_each_epoch_and_is_reproducible():
    docs = [[i] * 4 for i in range(1, 41)]
    masks = [[True, True, False, False]] * 40
    stream = Stream(docs, masks, context=8, seed=0)
    assert stream.per_epoch == 20
    first, labels = stream.windows(0, 20)
    second, _ = stream.windows(20, 20)
    assert not np.array_equal(first, second)  # people land in other windows next epoch
    assert sorted(first.ravel().tolist()) == sorted(t for d in docs for t in d)
    assert (labels[:, 2:4] == IGNORE).all() and (labels[:, :2] != IGNORE).all()
    again, _ = Stream(docs, masks, context=8, seed=0).windows(20, 20)
    assert np.array_equal(second, again)


def test_mixed_batches_hold_pure_windows_with_the_qa_share_of_tokens():
    bio = ([[1, 2, 3, 4, 5, 0]] * 40, [[True] * 6] * 40)
    qa = ([[7, 8, 9, 0]] * 40, [[False, False, True, True]] * 40)
    mixture = build_mixture([bio, qa], batch_size=10, qa_ratio=0.8, context=8, seed=0)
    windows = [stream.windows(0, count)[0] for stream, count in mixture]
    assert [len(w) for w in windows] == [2, 8]  # 80% of the batch's tokens are QA
    assert set(np.unique(windows[0])) <= {0, 1, 2, 3, 4, 5}  # biography windows hold no QA token
    assert set(np.unique(windows[1])) <= {0, 7, 8, 9}
    with pytest.raises(ValueError, match="leaves no window"):
        build_mixture([bio, qa], batch_size=4, qa_ratio=0.9, context=8, seed=0)


def test_loss_falls_on_a_tiny_corpus(people, tmp_path):
    tokenizer = build_tokenizer(lexicon(people))
    docs, masks = bio_documents(tokenizer, make_biographies(people.head(20), "single", seed=0))
    model = build_model(TINY_MODEL, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0)
    lines = []
    log, _ = train(
        model, [(Stream(docs, masks, 32, seed=0), 8)], _config(), tmp_path / "ck.pt", log=lines.append
    )
    assert re.fullmatch(
        r"step 10/60 loss [\d.]+ lr [\d.e-]+ grad norm [\d.]+ [\d,]+ tok/s, \d+m\d\ds left", lines[0]
    )
    assert lines[-1].endswith("tok/s, 0m00s left")
    uniform = np.log(len(tokenizer))
    assert log["loss"].iloc[0] < uniform  # already learning by the first log line
    assert log["loss"].iloc[-1] < log["loss"].iloc[0] - 1.0
    assert (log["tokens_per_s"] > 0).all()
    assert (log["grad_norm"] > 0).all() and log["grad_norm"].nunique() == len(log)


def test_training_fills_no_kv_cache(people, tmp_path, no_kv_cache):
    tokenizer = build_tokenizer(lexicon(people))
    docs, masks = bio_documents(tokenizer, make_biographies(people.head(20), "single", seed=0))
    model = build_model(TINY_MODEL, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0)
    stream = Stream(docs, masks, 32, seed=0)
    log, _ = train(
        model, [(stream, 8)], _config(steps=2, log_every=1), tmp_path / "ck.pt", log=lambda _: None
    )
    assert len(log) == 2


def test_evaluations_at_checkpoints_survive_a_resume_and_leave_training_unchanged(people, tmp_path):
    tokenizer = build_tokenizer(lexicon(people))
    docs, masks = bio_documents(tokenizer, make_biographies(people.head(20), "single", seed=0))
    events = tmp_path / "tensorboard"

    def run(evaluate, checkpoint):
        model = build_model(
            TINY_MODEL, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0
        )
        cfg = _config(steps=6, checkpoint_every=2, log_every=1)
        stream = Stream(docs, masks, 32, seed=0)
        return train(model, [(stream, 8)], cfg, checkpoint, lambda _: None, "", None, evaluate, events)

    plain, none = run(None, tmp_path / "plain.pt")
    assert none.empty
    calls = []

    def noisy(model, step):  # draws random numbers, as a sampling evaluation would
        calls.append(step)
        torch.rand(100)
        if step == 6 and len(calls) == 3:
            raise KeyboardInterrupt  # killed during the last evaluation: checkpoint at step 4 kept
        return [{"measure": "x", "accuracy": step / 10}]

    with pytest.raises(KeyboardInterrupt):
        run(noisy, tmp_path / "ck.pt")
    log, evaluations = run(noisy, tmp_path / "ck.pt")
    assert calls == [2, 4, 6, 6]  # the resumed run evaluates only what the checkpoint lacks
    assert evaluations["step"].tolist() == [2, 4, 6] and evaluations["accuracy"].tolist() == [0.2, 0.4, 0.6]
    assert log["loss"].tolist() == plain["loss"].tolist()  # the evaluations' draws changed nothing
    # TensorBoard holds every logged step once, the resumed run's earlier steps included
    board = EventAccumulator(str(events))
    board.Reload()
    assert set(board.Tags()["scalars"]) == {
        "train/loss",
        "train/lr",
        "train/grad_norm",
        "train/tokens_per_s",
        "train/model_tflops_per_s",
        "held-out/x/accuracy",
    }
    losses = board.Scalars("train/loss")
    assert [e.step for e in losses] == [1, 2, 3, 4, 5, 6]
    assert [e.value for e in losses] == pytest.approx(log["loss"].tolist())
    held_out = board.Scalars("held-out/x/accuracy")
    assert [e.step for e in held_out] == [2, 4, 6]
    assert [e.value for e in held_out] == pytest.approx([0.2, 0.4, 0.6])


def _train_command(workdir: Path, out: str, steps: int) -> list[str]:
    training = (
        f'{{"steps": {steps}, "batch_size": 8, "lr": 0.003, "final_lr_ratio": 0.1, "warmup_steps": 5,'
        ' "weight_decay": 0.1, "checkpoint_every": 10, "log_every": 10}'
    )
    return [
        sys.executable,
        "-m",
        "physlm",
        "train",
        "--tokenizer-dir",
        str(workdir / "tok"),
        "--model-config",
        '{"arch": "gpt2", "n_layer": 2, "n_head": 2, "d_model": 48, "context": 32}',
        "--training-config",
        training,
        "--bios",
        str(workdir / "bios.parquet"),
        "--seed",
        "0",
        "--checkpoint",
        str(workdir / f"{out}.ckpt"),
        "--out-dir",
        str(workdir / out),
        "--log",
        str(workdir / f"{out}.parquet"),
    ]


STEPS = 400


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory) -> Path:
    """A tokenizer, biographies and a training run that nothing interrupts, shared by the kill tests."""
    workdir = tmp_path_factory.mktemp("train")
    people = make_people(
        60,
        {"first": 10, "middle": 10, "last": 10, "cities": 5, "universities": 5, "majors": 5, "companies": 5},
        seed=0,
    )
    build_tokenizer(lexicon(people)).save_pretrained(workdir / "tok")
    make_biographies(people, "multi2", seed=0).to_parquet(workdir / "bios.parquet")
    subprocess.run(_train_command(workdir, "unbroken", STEPS), check=True, capture_output=True)
    return workdir


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM, signal.SIGUSR1])
def test_a_killed_run_resumes_and_ends_with_the_same_weights(unbroken, sig):
    """SIGKILL resumes from the last periodic checkpoint; SIGTERM and SIGUSR1 (SLURM's warnings)
    save one after the current step and exit with 128 + signal."""
    work, name = unbroken, f"resumed_{sig.name}"
    killed = subprocess.Popen(_train_command(work, name, STEPS), stdout=subprocess.PIPE, text=True)
    checkpoint = work / f"{name}.ckpt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    assert killed.poll() is None, "training finished before it could be killed"
    killed.send_signal(sig)
    out, _ = killed.communicate()
    assert killed.returncode in (-sig, 128 + sig)
    saved = None
    if sig != signal.SIGKILL:
        assert killed.returncode == 128 + sig
        saved = int(re.search(rf"{sig.name}: checkpoint saved at step (\d+)", out).group(1))
        assert torch.load(checkpoint, weights_only=False)["step"] == saved
    assert not (work / name).exists()  # no output that looks complete

    rerun = subprocess.run(_train_command(work, name, STEPS), check=True, capture_output=True, text=True)
    resumed_at = int(rerun.stdout.split("resumed from step ")[1].split()[0])
    assert 0 < resumed_at < STEPS and resumed_at == (saved or resumed_at)
    assert not checkpoint.exists()  # removed once the model is saved
    a = load_file(work / "unbroken" / "model.safetensors")
    b = load_file(work / name / "model.safetensors")
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    log = pd.read_parquet(work / f"{name}.parquet")
    assert log["step"].tolist() == list(range(10, STEPS + 1, 10))


def test_a_checkpoint_of_another_run_is_not_resumed(unbroken):
    """Interrupted, then rerun with another learning rate: the old checkpoint must not be resumed
    under the new settings (an unchanged rerun resumes: see the test above)."""
    work, name = unbroken, "changed"
    command = _train_command(work, name, STEPS)
    killed = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    checkpoint = work / f"{name}.ckpt"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.05)
    killed.send_signal(signal.SIGTERM)
    killed.communicate()
    assert checkpoint.exists()
    changed = [arg.replace('"lr": 0.003', '"lr": 0.004') for arg in command]
    assert changed != command
    rerun = subprocess.run(changed, check=True, capture_output=True, text=True)
    assert "resumed from step" not in rerun.stdout
    assert "it was written by another run" in rerun.stdout
    log = pd.read_parquet(work / f"{name}.parquet")
    assert log["step"].tolist() == list(range(10, STEPS + 1, 10))  # every step ran under the new settings


def test_compiled_training_computes_what_eager_training_does(people, tmp_path):
    """PHYSLM_COMPILE's path: the same run compiled ends with the same losses and weights (up to
    float rounding), and the checkpointed model is the plain one."""
    tokenizer = build_tokenizer(lexicon(people))
    docs, masks = bio_documents(tokenizer, make_biographies(people.head(20), "single", seed=0))
    runs = {}
    for mode in (None, "default"):
        model = build_model(
            TINY_MODEL, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed=0
        )
        cfg = _config(steps=10, log_every=5)
        stream = Stream(docs, masks, 32, seed=0)
        log, _ = train(
            model, [(stream, 8)], cfg, tmp_path / f"{mode}.pt", log=lambda _: None, compile_mode=mode
        )
        runs[mode] = (log["loss"].to_numpy(), model.state_dict())
    (eager_loss, eager_weights), (compiled_loss, compiled_weights) = runs.values()
    np.testing.assert_allclose(compiled_loss, eager_loss, rtol=1e-4)
    assert eager_weights.keys() == compiled_weights.keys()  # no "_orig_mod." prefix: the plain model
    for name, weight in eager_weights.items():
        torch.testing.assert_close(compiled_weights[name], weight, rtol=1e-3, atol=1e-4)


def test_the_resume_fingerprint_covers_seed_code_and_input_contents(unbroken, tmp_path, monkeypatch):
    """What fit hands the training loop as the run's fingerprint changes with the seed, the training
    code's hash and the contents of an input file, and not with where the run writes or its threads."""
    import physlm.engine.fit
    import physlm.knowledge.train

    seen = []

    def record(model, mixture, cfg, checkpoint, log, fingerprint, *rest):
        seen.append(fingerprint)
        return pd.DataFrame({"step": [], "loss": []}), []

    monkeypatch.setattr(physlm.engine.fit, "train", record)
    bios = tmp_path / "bios.parquet"
    bios.write_bytes((unbroken / "bios.parquet").read_bytes())

    def fingerprint(seed=0, out="a", threads=1):
        physlm.knowledge.train.fit_knowledge(
            TrainingRun(
                training=_config(steps=10, log_every=5),
                seed=seed,
                checkpoint=tmp_path / out / "ckpt",
                out_dir=tmp_path / out / "model",
                log=tmp_path / out / "log.parquet",
                tokenizer_dir=unbroken / "tok",
                model=ModelConfig("gpt2", 1, 2, 16, 32),
                threads=threads,
            ),
            bios=bios,
        )
        return seen[-1]

    base = fingerprint()
    assert fingerprint(out="b", threads=2) == base
    assert fingerprint(seed=1) != base
    monkeypatch.setattr(physlm.knowledge.train, "code_hash", lambda module: "another version of the code")
    assert fingerprint() != base
    monkeypatch.undo()
    monkeypatch.setattr(physlm.engine.fit, "train", record)
    pd.read_parquet(bios).head(-1).to_parquet(bios)  # one biography less
    assert fingerprint() != base


def test_exposures_are_passes_over_the_corpus_times_biographies_per_person():
    """10 people x 2 biographies of 16 tokens, windows of 32: 10 windows per pass. 50 steps of 4
    windows are 20 passes, and each pass shows each person twice: 40 exposures (the paper's 540-exposure
    condition is counted this way). Fine-tuning keeps the pretraining's count."""
    docs = [[1] * 16 for _ in range(20)]
    stream = Stream(docs, [[True] * 16 for _ in docs], context=32, seed=0)
    table = pd.DataFrame({"person_id": [p for p in range(10) for _ in range(2)]})
    scale = run_scale(None, steps=50, n_layer=2, bios=(stream, 4, table), qa_people=5)
    assert stream.per_epoch == 10
    assert scale["exposures"] == 40 and scale["people"] == 10 and scale["pretrain_steps"] == 50
    tuned = run_scale(scale, steps=7, n_layer=2, bios=None, qa_people=5)
    assert tuned["exposures"] == 40 and tuned["pretrain_steps"] == 50 and tuned["finetune_steps"] == 7
