"""The training step's shared part: start a model, train it, save it.

A model starts fresh from a config or from a saved folder (LoRA on top when asked); the training
loop checkpoints and resumes only the same run (its fingerprint); the model folder is saved with the
scale of its training, beside the loss log and the held-out measures taken at each checkpoint. The
domains' training steps (physlm.knowledge.train: biographies and QA pairs; physlm.reasoning.train: iGSM
problems) build their data and call these, so that an edit to one domain's data reruns only its
own trainings.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from pathlib import Path

import torch

from physlm.engine.artifacts import load_model, save_model, with_identity, write_table
from physlm.engine.config_types import LoraConfig, ModelConfig, TrainConfig
from physlm.engine.environment import compile_mode
from physlm.engine.loop import train
from physlm.engine.models import add_lora, build_model, count_parameters, pick_device
from physlm.engine.provenance import beside, run_fingerprint, write_provenance


@dataclasses.dataclass(frozen=True)
class TrainingRun:
    """What every training step is given, whatever its data: how to train (`training`, `seed`),
    what to start from (a fresh `model` with the tokenizer in `tokenizer_dir`, or the saved model
    `init_dir`; LoRA on top with `lora`), where to write (`checkpoint`, `out_dir`, the loss `log`),
    and how many threads to use."""

    training: TrainConfig
    seed: int
    checkpoint: Path
    out_dir: Path
    log: Path
    tokenizer_dir: Path | None = None
    model: ModelConfig | None = None
    init_dir: Path | None = None
    lora: LoraConfig | None = None
    threads: int = 1

    def __post_init__(self):
        if (self.model is None) == (self.init_dir is None):
            raise ValueError("give one start: --model-config (from scratch) or --init-dir (a saved model)")
        if self.model is not None and self.tokenizer_dir is None:
            raise ValueError(
                "--model-config trains from scratch: it needs --tokenizer-dir, the world's tokenizer"
            )

    def settings(self, **domain) -> dict:
        """The run's settings for its fingerprint: the shared ones, then the domain's own (which may
        replace `training`, when the domain sets the length)."""
        return {
            "training": self.training,
            "seed": self.seed,
            "model": self.model,
            "lora": self.lora,
            **domain,
        }

    def inputs(self, *domain: Path | None) -> list[Path]:
        """The files whose contents define the run: where it starts, and the domain's data."""
        return [p for p in (self.tokenizer_dir, self.init_dir, *domain) if p is not None]


def start(run: TrainingRun):
    """(model, tokenizer, context): a fresh model from `run.model`, or the saved model
    `run.init_dir`; LoRA on top when `run.lora` is given. Sets the run's threads."""
    from transformers import AutoTokenizer

    torch.set_num_threads(run.threads)
    if run.init_dir is not None:
        network, tokenizer = load_model(run.init_dir)
        context = network.config.max_position_embeddings
    else:
        tokenizer = AutoTokenizer.from_pretrained(run.tokenizer_dir)
        network = build_model(
            run.model, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, run.seed
        )
        context = run.model.context
    if run.lora is not None:
        torch.manual_seed(run.seed)  # LoRA's A matrices start random: same seed, same adapter
        network = add_lora(network, run.lora.rank, run.lora.embedding_rank)
    return network, tokenizer, context


def train_and_save(
    run: TrainingRun,
    *,
    network,
    tokenizer,
    mixture: list,
    sources: dict,
    training: TrainConfig,
    settings: dict,
    inputs: list[Path],
    scale: dict,
    evaluate=None,
    evaluations_out: Path | None = None,
    evaluation_identity: dict | None = None,
) -> None:
    """Train `network` on `mixture` ((stream, windows per step) per source in `sources`) for
    `training` (the run's, its length set by the domain), resuming a checkpoint only of the same run
    (`settings`: what defines it, with its code hash; `inputs`: the files whose contents define it),
    then save the model folder with `scale`, the loss log (with any held-out
    loss `evaluate` gave at the checkpoints, as `held_out_loss`), and `evaluate`'s rows to
    `evaluations_out` (with the columns of `evaluation_identity`)."""
    for name, (stream, count) in zip(sources, mixture, strict=True):
        planned = training.steps * count / stream.per_epoch
        print(f"{name}: {stream.per_epoch} windows per epoch, {planned:.1f} epochs planned", flush=True)
    print(f"{count_parameters(network):,} parameters on {pick_device()}", flush=True)
    started = time.monotonic()
    checkpoint, out_dir, log = run.checkpoint, run.out_dir, run.log
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write_provenance(checkpoint)
    # Everything that defines the run: a checkpoint written by any other run is not resumed.
    fingerprint = run_fingerprint(settings, inputs)
    say = functools.partial(print, flush=True)
    events = log.parent / "tensorboard"  # beside the Parquet log: `tensorboard --logdir results`
    losses, evaluations = train(
        network, mixture, training, checkpoint, say, fingerprint, compile_mode(), evaluate, events
    )
    if hasattr(network, "merge_and_unload"):  # LoRA: its update merged into the saved weights
        network = network.merge_and_unload()
    save_model(network, tokenizer, scale, out_dir)
    if "loss" in evaluations:  # a held-out loss: beside the training loss of the same step
        held_out = evaluations.dropna(subset=["loss"]).set_index("step")["loss"].rename("held_out_loss")
        losses = losses.merge(held_out, left_on="step", right_index=True, how="left")
    write_table(losses, log)
    if evaluations_out is not None:
        write_table(with_identity(evaluations, evaluation_identity or {}), evaluations_out)
    checkpoint.unlink(missing_ok=True)
    beside(checkpoint).unlink(missing_ok=True)
    minutes, seconds = divmod(round(time.monotonic() - started), 60)
    print(f"model written to {out_dir} (log {log}); this run took {minutes}m{seconds:02d}s", flush=True)
