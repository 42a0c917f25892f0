"""The training step's shared part: start a model, train it, save it.

A model starts fresh from a config or from a saved folder (LoRA on top when asked); the training
loop checkpoints and resumes only the same run (its fingerprint); the model folder is saved with the
scale of its training, beside the loss log and the held-out measures taken at each checkpoint. The
domains' training steps (physlm.knowledge.train: biographies and QA pairs; physlm.reasoning.train: iGSM
problems) build their data and call these, so that an edit to one domain's data reruns only its
own trainings.
"""

from __future__ import annotations

import functools
from pathlib import Path

import torch

from physlm.engine.artifacts import load_model, save_model, with_identity, write_table
from physlm.engine.config_types import LoraConfig, ModelConfig, TrainConfig
from physlm.engine.environment import compile_mode
from physlm.engine.loop import train
from physlm.engine.models import add_lora, build_model, count_parameters, pick_device
from physlm.engine.provenance import beside, run_fingerprint, write_provenance


def start(
    tokenizer_dir: Path, model: ModelConfig | None, init: Path | None, lora: LoraConfig | None, seed: int
):
    """(model, tokenizer, context): a fresh model from `model`, or the saved model `init`; LoRA on top
    when `lora` is given."""
    from transformers import AutoTokenizer

    if init is not None:
        network, tokenizer = load_model(init)
        context = network.config.max_position_embeddings
    else:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        network = build_model(model, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed)
        context = model.context
    if lora is not None:
        torch.manual_seed(seed)  # LoRA's A matrices start random: same seed, same adapter
        network = add_lora(network, lora.rank, lora.embedding_rank)
    return network, tokenizer, context


def train_and_save(
    *,
    network,
    tokenizer,
    mixture: list,
    sources: dict,
    training: TrainConfig,
    run: dict,
    inputs: list[Path],
    scale: dict,
    checkpoint: Path,
    out_dir: Path,
    log: Path,
    evaluate=None,
    evaluations_out: Path | None = None,
    evaluation_identity: dict | None = None,
) -> None:
    """Train `network` on `mixture` ((stream, windows per step) per source in `sources`), resuming
    a checkpoint only of the same run (`run`: its settings and code hash; `inputs`: the files whose
    contents define it), then save the model folder with `scale`, the loss log (with any held-out
    loss `evaluate` gave at the checkpoints, as `held_out_loss`), and `evaluate`'s rows to
    `evaluations_out` (with the columns of `evaluation_identity`)."""
    for name, (stream, count) in zip(sources, mixture, strict=True):
        planned = training.steps * count / stream.per_epoch
        print(f"{name}: {stream.per_epoch} windows per epoch, {planned:.1f} epochs planned", flush=True)
    print(f"{count_parameters(network):,} parameters on {pick_device()}", flush=True)
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write_provenance(checkpoint)
    # Everything that defines the run: a checkpoint written by any other run is not resumed.
    fingerprint = run_fingerprint(run, inputs)
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
