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

from physlm.models import count_parameters, pick_device
from physlm.sections import TrainConfig

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


class Rows:
    """One document per row, right-padded to the batch's longest: a math solution must see its whole
    problem, which packing would cut. Documents longer than `context` are dropped (as the paper drops
    over-length problems). Padding comes after the document, so under causal attention it changes
    nothing the loss sees.

    Batches are grouped by length (as transformers' `group_by_length`): each epoch's shuffled order is
    cut into pools of `POOL_BATCHES` batches, each pool sorted by length and cut into batches, and the
    batches shuffled. A batch then pads to a length close to its every row's instead of to the
    longest of a random sample (on the default iGSM sets a third of the tokens were padding). Row k of
    the endless stream stays fixed by (seed, k), and every document is still seen once per epoch.
    """

    POOL_BATCHES = 50

    def __init__(
        self,
        docs: list[list[int]],
        masks: list[list[bool]],
        context: int,
        seed: int,
        pad: int,
        batch_size: int,
    ):
        kept = [i for i, d in enumerate(docs) if len(d) <= context]
        if not kept:
            raise ValueError(f"every document is longer than the context ({context} tokens)")
        self.dropped = len(docs) - len(kept)
        self.docs = [docs[i] for i in kept]
        self.masks = [masks[i] for i in kept]
        self.per_epoch, self.seed, self.pad, self.batch_size = len(kept), seed, pad, batch_size
        self._epoch, self._order = -1, None

    def _grouped_order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, epoch])
        order = rng.permutation(self.per_epoch)
        lengths = np.array([len(self.docs[i]) for i in order])
        pool = self.POOL_BATCHES * self.batch_size
        batches = []
        for begin in range(0, self.per_epoch, pool):
            chunk = order[begin : begin + pool][np.argsort(lengths[begin : begin + pool], kind="stable")]
            batches += [chunk[i : i + self.batch_size] for i in range(0, len(chunk), self.batch_size)]
        return np.concatenate([batches[b] for b in rng.permutation(len(batches))])

    def windows(self, start: int, count: int) -> tuple[np.ndarray, np.ndarray]:
        rows = []
        for k in range(start, start + count):
            epoch, row = divmod(k, self.per_epoch)
            if epoch != self._epoch:
                self._order = self._grouped_order(epoch)
                self._epoch = epoch
            rows.append(self._order[row])
        width = max(len(self.docs[i]) for i in rows)
        ids = np.full((count, width), self.pad, dtype=np.int64)
        labels = np.full((count, width), IGNORE, dtype=np.int64)
        for r, i in enumerate(rows):
            doc = np.array(self.docs[i], dtype=np.int64)
            ids[r, : len(doc)] = doc
            labels[r, : len(doc)] = np.where(self.masks[i], doc, IGNORE)
        return ids, labels


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


def run_scale(
    prior: dict | None,
    steps: int,
    n_layer: int,
    bios: tuple[Stream, int, pd.DataFrame] | None,
    qa_people: int,
) -> dict:
    """How big the training behind a model was, in the terms the papers state their conditions in.

    `bios` is (stream, windows per step, biography table) when the run trained on biographies: a
    person's exposures are the passes over that corpus times the biographies each person has. A
    run from a saved model (`prior`, its scale) is fine-tuning: it keeps the pretraining's people,
    exposures and steps and adds its own steps.
    """
    if prior is not None:
        return {**prior, "finetune_steps": steps, "qa_train_people": qa_people}
    stream, count, table = bios
    copies = len(table) / table["person_id"].nunique()
    return {
        "people": int(table["person_id"].nunique()),
        "qa_train_people": qa_people,
        "exposures": steps * count / stream.per_epoch * copies,
        "pretrain_steps": steps,
        "finetune_steps": 0,
        "n_layer": n_layer,
    }


def learning_rate(step: int, cfg: TrainConfig) -> float:
    """Linear warmup, then cosine decay from lr to lr * final_lr_ratio."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    progress = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    floor = cfg.lr * cfg.final_lr_ratio
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
) -> pd.DataFrame:
    """Train in place for cfg.steps; each step takes `count` windows from each (stream, count).

    Resumes from `checkpoint` if it exists and was written by the same run (same `fingerprint`: see
    provenance.run_fingerprint), else starts from step 0 and says why. Returns one row per logged
    step (loss, lr, tokens/s). On SIGTERM or SIGUSR1 it saves a checkpoint after the current step
    and raises Preempted. With `compile_mode` (a torch.compile mode), the forward and backward run
    compiled; the checkpoint holds the plain model's weights either way.
    """
    with _SignalFlag() as flag:
        return _train(model, mixture, cfg, checkpoint, log, flag, fingerprint, compile_mode)


def _resume(checkpoint: Path, fingerprint: str, model, optimizer, device, log) -> tuple[int, list[dict]]:
    """(step, log rows) to continue from: the checkpoint's if the same run wrote it, else (0, [])."""
    if not checkpoint.exists():
        return 0, []
    state = torch.load(checkpoint, map_location=device, weights_only=False)
    if state.get("fingerprint") != fingerprint:
        log(
            f"not resuming {checkpoint}: it was written by another run (settings, inputs, seed or "
            "code differ); starting from step 0"
        )
        return 0, []
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    torch.set_rng_state(state["rng"])
    log(f"resumed from step {state['step']} ({checkpoint})")
    return state["step"], state["rows"]


def _train(
    model, mixture, cfg, checkpoint, log, flag: _SignalFlag, fingerprint: str, compile_mode: str | None
) -> pd.DataFrame:
    device = pick_device()
    model.to(device)
    model.train()
    optimizer = make_optimizer(model, cfg)
    start, rows = _resume(checkpoint, fingerprint, model, optimizer, device, log)
    use_bf16 = device.type == "cuda"
    if use_bf16:
        torch.backends.cuda.matmul.allow_tf32 = True
    n_params = count_parameters(model)
    forward = torch.compile(model, mode=compile_mode) if compile_mode else model
    tokens, clock = 0, time.perf_counter()
    for step in range(start, cfg.steps):
        batches = [stream.windows(step * count, count) for stream, count in mixture if count]
        ids = to_device(np.concatenate([b[0] for b in batches]), device)
        labels = to_device(np.concatenate([b[1] for b in batches]), device)
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(step, cfg)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
            # use_cache=False: transformers otherwise fills a KV cache that training throws away
            loss = forward(input_ids=ids, labels=labels, use_cache=False).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += ids.numel()
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            elapsed = time.perf_counter() - clock
            rate = tokens / elapsed
            rows.append(
                {
                    "step": done,
                    "loss": loss.item(),
                    "lr": learning_rate(step, cfg),
                    "tokens_per_s": rate,
                    "model_tflops_per_s": 6 * n_params * rate / 1e12,
                }
            )
            log(f"step {done}/{cfg.steps} loss {loss.item():.4f} lr {rows[-1]['lr']:.2e} {rate:,.0f} tok/s")
            tokens, clock = 0, time.perf_counter()
        stop = flag.signum is not None and done < cfg.steps
        if stop or (done % cfg.checkpoint_every == 0 and done < cfg.steps):
            _save_checkpoint(
                checkpoint,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "rng": torch.get_rng_state(),
                    "step": done,
                    "rows": rows,
                    "fingerprint": fingerprint,
                },
            )
        if stop:
            name = signal.Signals(flag.signum).name
            log(f"{name}: checkpoint saved at step {done}, exiting; rerun to resume")
            raise Preempted(done, flag.signum)
    return pd.DataFrame(rows)
