"""One training loop for pretraining, mixed training and fine-tuning.

Data order is a pure function of (seed, step): documents are shuffled per epoch (so people are
mixed across windows, without which out-of-distribution QA collapses) and packed into fixed-length
windows. Together with a learning rate computed from the step, this makes a resumed run replay
exactly what an unbroken run would have done.
"""

from __future__ import annotations

import math
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from physlm.engine.compiling import CompileChoice
from physlm.engine.config_types import TrainConfig
from physlm.engine.models import count_parameters, pick_device
from physlm.engine.trackers import event_writer

IGNORE = -100  # label value the HF loss skips
# What SLURM sends before it kills a job: SIGTERM on preemption or scancel, and SIGUSR1 where the
# user asks for a warning before the time limit (sbatch --signal=USR1@120, set in the SLURM profile).
PREEMPT_SIGNALS = (signal.SIGTERM, signal.SIGUSR1)


class Preempted(SystemExit):
    """Training stopped on a signal after saving a checkpoint; a rerun resumes from it. Uncaught, it
    exits with 128 + the signal's number, as a shell reports a process the signal killed: the job
    fails and a retry resumes."""

    def __init__(self, step: int, signum: int):
        super().__init__(128 + signum)
        self.step, self.signum = step, signum


class Stream:
    """Documents packed into windows, reshuffled every epoch; window k is fixed by (seed, k)."""

    def __init__(self, docs: list[list[int]], masks: list[list[bool]], context: int, seed: int):
        self.docs = [np.array(d, dtype=np.int64) for d in docs]
        self.masks = [np.array(m, dtype=bool) for m in masks]
        self.context, self.seed = context, seed
        self.per_epoch = sum(len(d) for d in self.docs) // context
        if self.per_epoch == 0:
            raise ValueError(f"the corpus has fewer tokens than one window of {context}")
        self._epoch, self._ids, self._labels = -1, None, None

    def _pack(self, epoch: int) -> None:
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.docs))
        ids = np.concatenate([self.docs[i] for i in order])[: self.per_epoch * self.context]
        keep = np.concatenate([self.masks[i] for i in order])[: self.per_epoch * self.context]
        self._ids = ids.reshape(self.per_epoch, self.context)
        self._labels = np.where(keep, ids, IGNORE).reshape(self.per_epoch, self.context)
        self._epoch = epoch

    def windows(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        """Windows start .. start+count-1 of the endless stream, as (input ids, labels)."""
        ids, labels = [], []
        for k in range(start, start + count):
            epoch, row = divmod(k, self.per_epoch)
            if epoch != self._epoch:
                self._pack(epoch)
            ids.append(self._ids[row])
            labels.append(self._labels[row])
        return np.stack(ids), np.stack(labels)


def build_mixture(
    sources: list[tuple[list[list[int]], list[list[bool]]]],
    batch_size: int,
    qa_ratio: float,
    context: int,
    seed: int,
) -> list[tuple[Stream, int]]:
    """Each source (documents, loss masks) as its own stream, with its number of windows per step.

    Each window holds documents of one source only (the paper's mixed training: a 512-token window
    is all biography or all QA); with two sources (biographies, then QA) the QA share of every batch's
    tokens is `qa_ratio`, rounded to whole windows. Each source is shuffled with its own seed, so
    adding QA does not reorder the biographies.
    """
    counts = [batch_size]
    if len(sources) == 2:
        n_qa = round(batch_size * qa_ratio)
        if not 0 < n_qa < batch_size:
            raise ValueError(
                f"a QA share of {qa_ratio} leaves no window for one source in a batch of {batch_size}"
            )
        counts = [batch_size - n_qa, n_qa]
    return [
        (Stream(docs, masks, context, seed=seed * 100 + i), count)
        for i, ((docs, masks), count) in enumerate(zip(sources, counts, strict=True))
    ]


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then down from lr to lr * final_lr_ratio: a cosine over all remaining steps, or
    (wsd) held at lr, then linear over the last decay_fraction of the steps."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    floor = cfg.lr * cfg.final_lr_ratio
    if cfg.schedule == "wsd":
        decay = max(1, round(cfg.decay_fraction * cfg.steps))
        progress = (step - (cfg.steps - decay)) / decay
        return cfg.lr - (cfg.lr - floor) * min(1.0, max(0.0, progress))
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return floor + (cfg.lr - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def make_optimizer(model: torch.nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on biases and norms), as in nanoGPT.

    Fused (one kernel over all parameters, on a CPU as on a GPU): the small capacity models' steps
    are a few milliseconds, and updating their 20-odd tensors one at a time took a tenth of that."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.dim() >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.dim() < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=(0.9, 0.98), eps=1e-6, fused=True)


def to_device(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """A step's batch on the training device. On CUDA it goes through pinned memory without
    blocking: a plain copy from ordinary memory waits until the GPU has finished everything queued
    before it, so the host could not prepare and queue the next step while the GPU runs this one."""
    tensor = torch.from_numpy(batch)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


def _save_checkpoint(path: Path, state: dict) -> None:
    """Write then rename, so a kill mid-write never leaves a truncated checkpoint."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


class _SignalFlag:
    """Records the first preemption signal instead of dying, so the loop can finish its step and
    save; the previous handlers come back on exit."""

    def __enter__(self):
        self.signum = None
        self._previous = {s: signal.signal(s, self._note) for s in PREEMPT_SIGNALS}
        return self

    def _note(self, signum, frame):
        self.signum = self.signum or signum

    def __exit__(self, *exc):
        for s, handler in self._previous.items():
            signal.signal(s, handler)


def train(
    model: torch.nn.Module,
    mixture: list[tuple[Stream, int]],
    cfg: TrainConfig,
    checkpoint: Path,
    log: Callable[[str], None] = print,
    fingerprint: str = "",
    compile_mode: str | None = None,
    evaluate: Callable[[torch.nn.Module, int], list[dict]] | None = None,
    tensorboard: Path | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train in place for cfg.steps; each step takes `count` windows from each (stream, count).

    Resumes from `checkpoint` if it exists and was written by the same run (same `fingerprint`: see
    provenance.run_fingerprint), else starts from step 0 and says why. Returns one row per logged
    step (loss, lr, gradient norm before clipping, tokens/s), and the rows `evaluate(model, step)`
    gave at every checkpoint step and at the end (learning curves; empty without `evaluate`), which
    survive a resume. With `tensorboard` (a folder), the same numbers also go to TensorBoard event
    files there, as they are logged, and to the trackers PHYSLM_TRACKERS names
    (physlm.engine.trackers). On SIGTERM or
    SIGUSR1 it saves a checkpoint after the current step and raises Preempted. With `compile_mode`
    (a torch.compile mode), the forward and backward run compiled; with AUTO, compiled if timing
    its first steps both ways says it pays (physlm.engine.compiling); the checkpoint holds the plain
    model's weights either way.
    """
    with _SignalFlag() as flag, event_writer(tensorboard, log) as writer:
        return _train(model, mixture, cfg, checkpoint, log, flag, fingerprint, compile_mode, evaluate, writer)


def scalars(rows: list[dict]) -> dict[str, float]:
    """An evaluation's rows as TensorBoard scalars: each row's text fields name it ("greedy/op 2"),
    with its accuracy, loss or value ("greedy/op 2/accuracy")."""
    return {
        "/".join([*(str(v) for v in row.values() if isinstance(v, str)), key]): row[key]
        for row in rows
        for key in ("accuracy", "loss", "value")
        if key in row
    }


def _write_events(events, rows: list[dict], evaluations: list[dict]) -> None:
    """Log rows (loss, lr, gradient norm, tokens/s, model TFLOP/s) and evaluation rows as TensorBoard
    scalars."""
    for row in rows:
        for key in ("loss", "lr", "grad_norm", "tokens_per_s", "model_tflops_per_s"):
            if key in row:  # a run resumed from before the gradient norm was logged has none
                events.add_scalar(f"train/{key}", row[key], row["step"])
    for step in sorted({row["step"] for row in evaluations}):
        for tag, value in scalars([row for row in evaluations if row["step"] == step]).items():
            events.add_scalar(f"held-out/{tag}", value, step)


def _time_left(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m left" if hours else f"{minutes}m{secs:02d}s left"


def _resume(
    checkpoint: Path, fingerprint: str, model, optimizer, device, log
) -> tuple[int, list[dict], list[dict], bool | None]:
    """(step, log rows, evaluation rows, whether it was training compiled: None if not yet chosen)
    to continue from: the checkpoint's if the same run wrote it, else (0, [], [], None)."""
    if not checkpoint.exists():
        return 0, [], [], None
    state = torch.load(checkpoint, map_location=device, weights_only=False)
    if state.get("fingerprint") != fingerprint:
        log(
            f"not resuming {checkpoint}: it was written by another run (settings, inputs, seed or "
            "code differ); starting from step 0"
        )
        return 0, [], [], None
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    log(f"resumed from step {state['step']} ({checkpoint})")
    return state["step"], state["rows"], state["evaluations"], state.get("compiled")


def _evaluated(evaluate, model, step: int) -> list[dict]:
    """`evaluate`'s rows at `step`, each marked with the step; the model back in training mode, and
    the RNG as it was (sampling in an evaluation must not change the training that follows)."""
    rng = torch.get_rng_state()
    rows = [{"step": step, **row} for row in evaluate(model, step)]
    model.train()
    torch.set_rng_state(rng)
    return rows


def weighted_loss(logits: torch.Tensor, labels: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The next-token cross-entropy with a weight per label: sum(w * loss) / sum(w) over the labels
    not ignored (all weights 1: the plain mean, as the Hugging Face loss computes it)."""
    targets = labels[:, 1:].flatten()
    losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].flatten(0, 1).float(), targets, ignore_index=IGNORE, reduction="none"
    )
    w = weights[:, 1:].flatten() * (targets != IGNORE)
    return (losses * w).sum() / w.sum()


def _optimizer_step(forward, model, optimizer, mixture, step: int, cfg, use_bf16: bool):
    """One optimizer step on the step's windows of every source, at the step's learning rate:
    (loss, gradient norm before clipping, tokens). A source whose windows come with a third array
    (a weight per label) is trained on the weighted loss; the others' labels weigh 1."""
    device = next(model.parameters()).device
    batches = [stream.windows(step * count, count) for stream, count in mixture if count]
    ids = to_device(np.concatenate([b[0] for b in batches]), device)
    labels = to_device(np.concatenate([b[1] for b in batches]), device)
    weighted = any(len(b) == 3 for b in batches)
    for group in optimizer.param_groups:
        group["lr"] = learning_rate(step, cfg)
    with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
        # use_cache=False: transformers otherwise fills a KV cache that training throws away
        if weighted:
            weights = np.concatenate([b[2] if len(b) == 3 else np.ones(b[1].shape) for b in batches])
            logits = forward(input_ids=ids, use_cache=False).logits
            loss = weighted_loss(logits, labels, to_device(weights.astype(np.float32), device))
        else:
            loss = forward(input_ids=ids, labels=labels, use_cache=False).loss
    loss.backward()
    grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # read only when logged
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)
    return loss, grad_norm, ids.numel()


def _with_weights(state: dict, model, optimizer) -> dict:
    """A checkpoint: `state` (step, log rows, evaluations, fingerprint) with the weights, the
    optimizer's state and the RNG's."""
    return {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "rng": torch.get_rng_state(),
        **state,
    }


def _log_row(step: int, loss, lr: float, grad_norm, rate: float, n_params: int) -> dict:
    """A row of the loss log: the step's loss, learning rate, gradient norm before clipping,
    tokens/s and model TFLOP/s (6 FLOPs per parameter per token)."""
    return {
        "step": step,
        "loss": loss.item(),
        "lr": lr,
        "grad_norm": grad_norm.item(),
        "tokens_per_s": rate,
        "model_tflops_per_s": 6 * n_params * rate / 1e12,
    }


def _train(
    model,
    mixture,
    cfg,
    checkpoint,
    log,
    flag: _SignalFlag,
    fingerprint: str,
    compile_mode: str | None,
    evaluate,
    events,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    device = pick_device()
    model.to(device)
    model.train()
    optimizer = make_optimizer(model, cfg)
    start, rows, evaluations, compiled = _resume(checkpoint, fingerprint, model, optimizer, device, log)
    _write_events(events, rows, evaluations)
    use_bf16 = device.type == "cuda"
    if use_bf16:
        torch.backends.cuda.matmul.allow_tf32 = True
    n_params = count_parameters(model)
    sync = (lambda: torch.cuda.synchronize(device)) if device.type == "cuda" else (lambda: None)
    compiling = CompileChoice(model, compile_mode, cfg.steps - start, log, sync, chosen=compiled)
    tokens, clock = 0, time.perf_counter()
    began = clock
    for step in range(start, cfg.steps):
        loss, grad_norm, n_tokens = compiling.step(
            lambda forward, step=step: _optimizer_step(
                forward, model, optimizer, mixture, step, cfg, use_bf16
            )
        )
        tokens += n_tokens
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            now = time.perf_counter()
            rate = tokens / (now - clock)
            row = _log_row(done, loss, learning_rate(step, cfg), grad_norm, rate, n_params)
            rows.append(row)
            _write_events(events, [row], [])
            left = _time_left((now - began) / (done - start) * (cfg.steps - done))
            log(
                f"step {done}/{cfg.steps} loss {row['loss']:.4f} lr {row['lr']:.2e} grad norm "
                f"{row['grad_norm']:.3f} {rate:,.0f} tok/s, {left}"
            )
            tokens, clock = 0, time.perf_counter()
        if evaluate is not None and (done % cfg.checkpoint_every == 0 or done == cfg.steps):
            evaluated = _evaluated(evaluate, model, done)
            evaluations += evaluated
            _write_events(events, [], evaluated)
        stop = flag.signum is not None and done < cfg.steps
        if stop or (done % cfg.checkpoint_every == 0 and done < cfg.steps):
            state = {"step": done, "rows": rows, "evaluations": evaluations, "fingerprint": fingerprint}
            state["compiled"] = compiling.compiled  # a resume keeps the choice instead of timing again
            _save_checkpoint(checkpoint, _with_weights(state, model, optimizer))
        if stop:
            name = signal.Signals(flag.signum).name
            log(f"{name}: checkpoint saved at step {done}, exiting; rerun to resume")
            raise Preempted(done, flag.signum)
    return pd.DataFrame(rows), pd.DataFrame(evaluations)
