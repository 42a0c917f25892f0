"""The training step for knowledge (Parts 3.1-3.3): pretraining, mixed training, fine-tuning and the
capacity models, on biographies, QA pairs or both."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import pandas as pd
import torch

from physlm.engine.artifacts import read_scale
from physlm.engine.corpus import Documents, bio_documents, qa_documents
from physlm.engine.fit import TrainingRun, start, train_and_save
from physlm.engine.loop import Stream, build_mixture
from physlm.engine.provenance import code_hash
from physlm.engine.scoring import masked_loss
from physlm.knowledge.qa import answer_questions, bio_recall

# Held-out QA pairs whose answer loss a knowledge training reports at every checkpoint.
HELD_OUT_QA = 256
# People per split (QA-train, held-out) whose QA accuracy and bio recall the learning curves read.
CURVE_PEOPLE = 200


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


def people_from_qa(qa: pd.DataFrame) -> pd.DataFrame:
    """One row per person: split and each attribute's value, as the QA pairs' answers give them
    (the answer is the value as the biographies write it, which is what bio recall reads)."""
    people = qa.pivot(index=["person_id", "split"], columns="attribute", values="answer")
    return people.reset_index().rename_axis(columns=None)


def _checkpoint_measures(tokenizer, qa: pd.DataFrame, bios: Path | None, curves: bool):
    """The evaluation hook of a training with QA: at every checkpoint the answer loss (the
    fine-tuning loss) on the first HELD_OUT_QA QA pairs of held-out people, the ones QA accuracy is
    measured on; with `curves`, also QA accuracy (greedy, as the evaluate step) and bio recall of
    CURVE_PEOPLE people of each split, so that the order in which they rise can be read (Part 3.1,
    Fig. 1: QA of train people first, then their biographies, then held-out people's)."""
    documents = qa_documents(tokenizer, qa.query("split == 'test'").head(HELD_OUT_QA))
    eos, pad = tokenizer.eos_token_id, tokenizer.pad_token_id
    if curves:
        people = people_from_qa(qa).groupby("split").head(CURVE_PEOPLE)
        asked = qa[qa["person_id"].isin(people["person_id"])]
        table = pd.read_parquet(bios) if bios is not None else None
        if table is not None:
            table = table[table["person_id"].isin(people["person_id"])]

    def evaluate(model, step: int) -> list[dict]:
        model.eval()
        with torch.no_grad():
            rows = [
                {
                    "measure": "QA answer loss, held-out people",
                    "loss": masked_loss(model, documents, eos, pad),
                }
            ]
        if not curves:
            return rows
        answered = answer_questions(model, tokenizer, asked, batch_size=256)
        rows += [
            {"measure": "QA accuracy", "split": split, "value": float(part["correct"].mean())}
            for split, part in answered.groupby("split", sort=True)
        ]
        if table is not None:
            recall = bio_recall(model, tokenizer, table, people)
            rows += [
                {"measure": "bio recall", "split": split, "value": float(part["recalled"].mean())}
                for split, part in recall.groupby("split", sort=True)
            ]
        return rows

    return evaluate


def fit_knowledge(
    run: TrainingRun,
    *,
    bios: Path | None = None,
    qa: Path | None = None,
    qa_ratio: float = 0.8,
    epochs: float | None = None,
    curves_out: Path | None = None,
    curves_identity: dict | None = None,
) -> None:
    """Train a model (`run`: from scratch or from a saved one) on biographies, QA pairs (their train
    split) or both mixed with QA share `qa_ratio` of tokens; `epochs` passes over the biographies set
    the length instead of `run.training.steps`. With QA, the answer loss on held-out people's QA
    pairs at every checkpoint goes into the log, and with `curves_out` learning curves (QA accuracy
    and bio recall by split at every checkpoint, with the columns of `curves_identity`) go there."""
    if curves_out is not None and qa is None:
        raise ValueError("--curves-out of a knowledge training measures QA: it needs --qa")
    network, tokenizer, context = start(run)
    training = run.training
    sources, bio_table, qa_people = _sources(tokenizer, bios, qa)
    mixture = build_mixture(list(sources.values()), training.batch_size, qa_ratio, context, run.seed)
    if epochs is not None:  # the length follows from the corpus: this many passes over the first source
        stream, count = mixture[0]
        training = dataclasses.replace(training, steps=math.ceil(epochs * stream.per_epoch / count))
    scale = run_scale(
        read_scale(run.init_dir) if run.init_dir is not None else None,
        training.steps,
        network.config.num_hidden_layers,
        (*mixture[0], bio_table) if bio_table is not None else None,
        qa_people,
    )
    train_and_save(
        run,
        network=network,
        tokenizer=tokenizer,
        mixture=mixture,
        sources=sources,
        training=training,
        settings=run.settings(training=training, qa_ratio=qa_ratio, code=code_hash(__name__)),
        inputs=run.inputs(bios, qa),
        scale=scale,
        evaluate=(
            _checkpoint_measures(tokenizer, pd.read_parquet(qa), bios, curves_out is not None)
            if qa is not None
            else None
        ),
        evaluations_out=curves_out,
        evaluation_identity=curves_identity,
    )
