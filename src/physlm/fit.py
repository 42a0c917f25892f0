"""The training step: pretraining, mixed training, fine-tuning and the capacity models, one function.

It builds the model (from a config, or from a saved model to continue), optionally wraps it in LoRA,
turns biographies and QA pairs into the data mixture, runs the training loop (which checkpoints and
resumes), and saves the model folder with the scale of its training and the loss log.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from pathlib import Path

import pandas as pd
import torch

from physlm.artifacts import load_model, read_scale, save_model, with_identity, write_table
from physlm.corpus import Documents, bio_documents, qa_documents
from physlm.curves import MathCurves
from physlm.data.igsm import Knobs, ProblemSet
from physlm.environment import compile_mode
from physlm.models import add_lora, build_model, count_parameters, pick_device
from physlm.problem_stream import FreshProblems
from physlm.provenance import beside, code_hash, run_fingerprint, write_provenance
from physlm.scoring import masked_loss
from physlm.sections import LoraConfig, ModelConfig, TrainConfig
from physlm.train import build_mixture, run_scale, train


def _start(
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


def _sources(
    tokenizer, bios: Path | None, qa: Path | None
) -> tuple[dict[str, Documents], pd.DataFrame | None, int]:
    """The documents to train on, by source (biographies first), the biography table and the number
    of QA-train people."""
    if bios is None and qa is None:
        raise ValueError("training needs biographies, QA pairs or both")
    sources, bio_table, qa_people = {}, None, 0
    if bios is not None:
        bio_table = pd.read_parquet(bios)
        sources["biographies"] = bio_documents(tokenizer, bio_table)
    if qa is not None:
        qa_train = pd.read_parquet(qa).query("split == 'train'")
        sources["QA"] = qa_documents(tokenizer, qa_train)
        qa_people = int(qa_train["person_id"].nunique())
    return sources, bio_table, qa_people


# Held-out QA pairs whose answer loss a knowledge training reports at every checkpoint.
HELD_OUT_QA = 256


def _held_out_qa_loss(tokenizer, qa: pd.DataFrame):
    """The evaluation hook of a training with QA: the answer loss (the fine-tuning loss) on the first
    HELD_OUT_QA QA pairs of held-out people, the ones QA accuracy is measured on."""
    documents = qa_documents(tokenizer, qa.query("split == 'test'").head(HELD_OUT_QA))
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id

    def evaluate(model, step: int) -> list[dict]:
        model.eval()
        with torch.no_grad():
            return [
                {
                    "measure": "QA answer loss, held-out people",
                    "loss": masked_loss(model, documents, eos, pad),
                }
            ]

    return evaluate


def math_scale(prior: dict | None, stream, training: TrainConfig, network) -> dict:
    """A math model's training in the terms of Part 2.1's conditions, summed over curriculum stages
    (a run from a saved model continues its predecessor's count)."""
    prior = prior or {"pretrain_steps": 0, "train_tokens": 0, "stages": 0}
    return {
        "train_problems": prior.get("train_problems", 0) + training.steps * training.batch_size,
        "pretrain_steps": prior["pretrain_steps"] + training.steps,
        "train_tokens": prior["train_tokens"]
        + round(training.steps * training.batch_size * stream.mean_length),
        "stages": prior["stages"] + 1,
        "n_layer": network.config.num_hidden_layers,
    }


def _math_stream(tokenizer, context, seed, training, knobs, problem_set, solution_only, equal_tokens):
    """(stream, training): fresh problems of `problem_set`; with `equal_tokens` (retry data), the
    steps that give the tokens `training.steps` would take on the same problems without retries. On
    a GPU, worker processes (the job's threads) draw problems ahead: there the generator would be
    slower than the model; on a CPU it costs under 1% of a step."""
    workers = torch.get_num_threads() if pick_device().type == "cuda" else 0

    def stream_of(problems: ProblemSet, workers: int = 0) -> FreshProblems:
        return FreshProblems(
            tokenizer, knobs, problems, seed, context, training.batch_size, solution_only, workers
        )

    first = dataclasses.replace(problem_set, problems=training.steps * training.batch_size)
    stream = stream_of(first, 0 if equal_tokens else workers)
    print(f"{stream.dropped_share:.1%} of the problems are longer than the context ({context}): dropped")
    if equal_tokens:
        clean = stream_of(dataclasses.replace(problem_set, problems=training.batch_size, retry=0.0))
        steps = max(1, round(training.steps * clean.mean_length / stream.mean_length))
        print(f"{steps} steps: the tokens of {training.steps} on the same problems without retries")
        training = dataclasses.replace(training, steps=steps)
        stream = stream_of(dataclasses.replace(problem_set, problems=steps * training.batch_size), workers)
    return stream, training


def fit(
    *,
    training_config: TrainConfig,
    seed: int,
    checkpoint: Path,
    out_dir: Path,
    log: Path,
    tokenizer_dir: Path | None = None,
    model_config: ModelConfig | None = None,
    init_dir: Path | None = None,
    bios: Path | None = None,
    qa: Path | None = None,
    qa_ratio: float = 0.8,
    epochs: float | None = None,
    lora_config: LoraConfig | None = None,
    knobs: Knobs | None = None,
    problem_set: ProblemSet | None = None,
    solution_only: bool = True,
    equal_tokens: bool = False,
    curve_problems: Path | None = None,
    curves_per_op: int = 20,
    curves_out: Path | None = None,
    curves_identity: dict | None = None,
    threads: int = 1,
) -> None:
    """Train a model from scratch (`model_config`, `tokenizer_dir`) or from a saved one (`init_dir`)
    on biographies, QA pairs (their train split) or both mixed with QA share `qa_ratio` of tokens;
    `epochs` passes over the biographies set the length instead of `training.steps`. Or on iGSM
    problems alone (`knobs`, `problem_set`: drawn while training, none repeated), one problem per
    row, the loss on the solution only if `solution_only`; with `equal_tokens` (retry data), as many
    steps as give the tokens `training.steps` would take on the same problems without retries (Part
    2.2). With `curve_problems` (held-out problems), learning curves at every checkpoint on the first
    `curves_per_op` problems of each op, written to `curves_out` with the columns of
    `curves_identity` (physlm.curves)."""
    torch.set_num_threads(threads)
    training = training_config
    network, tokenizer, context = _start(tokenizer_dir, model_config, init_dir, lora_config, seed)
    evaluate = None
    if problem_set is not None:
        if bios is not None or qa is not None:
            raise ValueError("math problems are trained on alone: drop the biographies and QA pairs")
        stream, training = _math_stream(
            tokenizer, context, seed, training, knobs, problem_set, solution_only, equal_tokens
        )
        sources, mixture = {"problems": None}, [(stream, training.batch_size)]
        scale = math_scale(read_scale(init_dir) if init_dir else None, stream, training, network)
        if curve_problems is not None:
            held_out = pd.read_parquet(curve_problems)
            evaluate = MathCurves(tokenizer, held_out, curves_per_op, problem_set.max_op, batch_size=64)
    else:
        sources, bio_table, qa_people = _sources(tokenizer, bios, qa)
        mixture = build_mixture(list(sources.values()), training.batch_size, qa_ratio, context, seed)
        if qa is not None:
            evaluate = _held_out_qa_loss(tokenizer, pd.read_parquet(qa))
    if epochs is not None:  # the length follows from the corpus: this many passes over the first source
        stream, count = mixture[0]
        training = dataclasses.replace(training, steps=math.ceil(epochs * stream.per_epoch / count))
    for name, (stream, count) in zip(sources, mixture, strict=True):
        planned = training.steps * count / stream.per_epoch
        print(f"{name}: {stream.per_epoch} windows per epoch, {planned:.1f} epochs planned", flush=True)
    print(f"{count_parameters(network):,} parameters on {pick_device()}", flush=True)
    if problem_set is None:
        scale = run_scale(
            read_scale(init_dir) if init_dir is not None else None,
            training.steps,
            network.config.num_hidden_layers,
            (*mixture[0], bio_table) if bio_table is not None else None,
            qa_people,
        )
    checkpoint.parent.mkdir(parents=True, exist_ok=True)
    write_provenance(checkpoint)
    # Everything that defines the run: a checkpoint written by any other run is not resumed.
    settings = dict(training=training, seed=seed, model=model_config, qa_ratio=qa_ratio, lora=lora_config)
    if problem_set is not None:
        settings |= dict(
            knobs=knobs, problems=problem_set, solution_only=solution_only, equal_tokens=equal_tokens
        )
    inputs = [p for p in (tokenizer_dir, init_dir, bios, qa, curve_problems) if p is not None]
    fingerprint = run_fingerprint({**settings, "code": code_hash(__name__)}, inputs)
    say = functools.partial(print, flush=True)
    events = log.parent / "tensorboard"  # beside the Parquet log: `tensorboard --logdir results`
    losses, curves = train(
        network, mixture, training, checkpoint, say, fingerprint, compile_mode(), evaluate, events
    )
    if lora_config is not None:
        network = network.merge_and_unload()
    save_model(network, tokenizer, scale, out_dir)
    if problem_set is None and not curves.empty:  # knowledge: the held-out loss beside the log's rows
        held_out = curves.set_index("step")["loss"].rename("held_out_loss")
        losses = losses.merge(held_out, left_on="step", right_index=True, how="left")
    write_table(losses, log)
    if curves_out is not None:
        write_table(with_identity(curves, curves_identity or {}), curves_out)
    checkpoint.unlink(missing_ok=True)
    beside(checkpoint).unlink(missing_ok=True)
