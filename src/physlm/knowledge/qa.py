"""QA evaluation (greedy generation, exact match of the answer's tokens) and bio recall."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from physlm.engine.artifacts import load_model, read_scale, with_identity, write_table
from physlm.engine.corpus import prompt_ids
from physlm.engine.models import pick_device
from physlm.engine.scoring import span_loss, span_tokens, teacher_forced, text_losses
from physlm.knowledge.biod import chunk_text
from physlm.knowledge.manipulation import majority_accuracy
from physlm.knowledge.templates import ATTRIBUTES, HINT_SEPARATOR
from physlm.knowledge.worlds import load_world


def exact_match(generated: list[int], answer: list[int], eos: int) -> bool:
    """The generation up to its first EOS must be the answer, token for token."""
    stop = generated.index(eos) if eos in generated else len(generated)
    return generated[:stop] == answer


def final_answer(generated: list[int], eos: int, separator: int) -> list[int]:
    """The tokens after the last hint separator (all of them if there is none), up to EOS."""
    stop = generated.index(eos) if eos in generated else len(generated)
    tokens = generated[:stop]
    cut = max((i + 1 for i, t in enumerate(tokens) if t == separator), default=0)
    return tokens[cut:]


@torch.no_grad()
def answer_questions(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, qa: pd.DataFrame, batch_size: int
) -> pd.DataFrame:
    """Add `generated` and `correct` columns to `qa`, and `label_correct` if it has a `label`.

    `label_correct` scores only what follows a chain-of-thought hint (the whole answer when the
    target has no hint), as the paper scores manipulation tasks.

    Prompts start with EOS, as every training document does after the one before it. They are
    batched by token length, so no padding is ever needed (names all have three words, so there are
    only a handful of lengths) and positions match training exactly.
    """
    model.eval()
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    prompts = prompt_ids(tokenizer, qa["prompt"])
    answers = tokenizer(list(qa["answer"]))["input_ids"]
    max_new = max(len(a) for a in answers) + 1
    generated: list[list[int]] = [[] for _ in prompts]
    by_length: dict[int, list[int]] = {}
    for i, p in enumerate(prompts):
        by_length.setdefault(len(p), []).append(i)
    for rows in by_length.values():
        for start in range(0, len(rows), batch_size):
            chunk = rows[start : start + batch_size]
            ids = torch.tensor([prompts[i] for i in chunk], device=device)
            out = model.generate(
                input_ids=ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new,
                do_sample=False,
                eos_token_id=eos,
                pad_token_id=eos,
            )
            for i, row in zip(chunk, out[:, ids.shape[1] :].tolist(), strict=True):
                generated[i] = row
    scored = qa.copy()
    scored["generated"] = [tokenizer.decode(g, skip_special_tokens=True) for g in generated]
    scored["correct"] = [exact_match(g, a, eos) for g, a in zip(generated, answers, strict=True)]
    if "label" in qa:
        (separator,) = tokenizer(HINT_SEPARATOR)["input_ids"]
        labels = tokenizer(list(qa["label"]))["input_ids"]
        hinted = (qa["answer"] != qa["label"]).to_numpy()
        scored["label_correct"] = [
            final_answer(g, eos, separator) == lab if h else exact_match(g, lab, eos)
            for g, lab, h in zip(generated, labels, hinted, strict=True)
        ]
    return scored


@torch.no_grad()
def item_losses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    bios: pd.DataFrame,
    people: pd.DataFrame,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Per person, the model's loss in nats summed over the tokens of the name and of the attribute
    values S0 counts (work city, a function of the employer, is in neither), teacher-forced on the
    person's first biography (Part 3.3's p1 and p2)."""
    model.eval()
    first = bios[bios["copy"] == 0].merge(people, on="person_id")
    losses = text_losses(model, tokenizer, first["text"].tolist(), batch_size)
    rows = []
    for person, (nll, offsets) in zip(first.itertuples(), losses, strict=True):
        values = [(a, start) for a, start in zip(ATTRIBUTES, person.starts, strict=True) if a != "work_city"]
        rows.append(
            {
                "person_id": person.person_id,
                "split": person.split,
                "name_loss": span_loss(
                    nll, offsets, person.text.index(person.full_name), len(person.full_name)
                ),
                "value_loss": sum(
                    span_loss(nll, offsets, start, len(str(getattr(person, a)))) for a, start in values
                ),
            }
        )
    return pd.DataFrame(rows)


@torch.no_grad()
def biod_chunk_losses(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    bios: pd.DataFrame,
    people: pd.DataFrame,
    strings: np.ndarray,
    batch_size: int = 64,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """On each person's first bioD biography: the loss of the name, and of every chunk of every value
    (one row per person, attribute and chunk position, with the string the chunk is)."""
    model.eval()
    first = bios[bios["copy"] == 0].merge(people, on="person_id")
    losses = text_losses(model, tokenizer, first["text"].tolist(), batch_size)
    names, chunks = [], []
    for person, (nll, offsets) in zip(first.itertuples(), losses, strict=True):
        start = person.text.index(person.full_name)
        names.append(
            {
                "person_id": person.person_id,
                "name_loss": span_loss(nll, offsets, start, len(person.full_name)),
            }
        )
        for attribute, value_start in enumerate(person.starts):
            at = value_start
            for position, string in enumerate(person.chunks[attribute]):
                text = chunk_text(strings, attribute, int(string))
                chunks.append(
                    {
                        "person_id": person.person_id,
                        "attribute": attribute,
                        "position": position,
                        "string": int(string),
                        "loss": span_loss(nll, offsets, at, len(text)),
                    }
                )
                at += len(text) + 1
    return pd.DataFrame(names), pd.DataFrame(chunks)


@torch.no_grad()
def bio_recall(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    bios: pd.DataFrame,
    people: pd.DataFrame,
    batch_size: int = 64,
) -> pd.DataFrame:
    """Whether the model predicts every token of each attribute value inside the person's biography.

    Teacher-forced on the first biography of each person: this tells "the knowledge is stored" apart
    from "the knowledge is extractable by a question", the distinction finding 2 is about.
    """
    model.eval()
    first = bios[bios["copy"] == 0].merge(people, on="person_id")
    encoded = tokenizer(first["text"].tolist(), return_offsets_mapping=True)
    argmax = teacher_forced(
        model, encoded["input_ids"], tokenizer.pad_token_id, lambda logits, ids: logits.argmax(-1), batch_size
    )
    rows = []
    for person, ids, offsets, best in zip(
        first.itertuples(), encoded["input_ids"], encoded["offset_mapping"], argmax, strict=True
    ):
        predicted = best.tolist()
        for attribute, start in zip(ATTRIBUTES, person.starts, strict=True):
            end = start + len(str(getattr(person, attribute)))
            inside = [i for i in span_tokens(offsets, start, end) if i]
            rows.append(
                {
                    "person_id": person.person_id,
                    "split": person.split,
                    "attribute": attribute,
                    "recalled": all(predicted[i - 1] == ids[i] for i in inside),
                }
            )
    return pd.DataFrame(rows)


def accuracy_table(scored: pd.DataFrame, recall: pd.DataFrame) -> pd.DataFrame:
    """Per (split, attribute): QA exact-match accuracy, number of questions, and bio recall."""
    keys = ["split", "attribute"]
    qa = scored.groupby(keys, sort=True)["correct"].agg(accuracy="mean", n="size")
    stored = recall.groupby(keys, sort=True)["recalled"].mean().rename("bio_recall")
    return qa.join(stored).reset_index()


def task_accuracy(scored: pd.DataFrame) -> pd.DataFrame:
    """Per split: label accuracy, whole-answer accuracy (hint included), size, and chance level."""
    rows = [
        {
            "split": split,
            "accuracy": part["label_correct"].mean(),
            "answer_accuracy": part["correct"].mean(),
            "n": len(part),
            "chance": majority_accuracy(part),
        }
        for split, part in scored.groupby("split", sort=True)
    ]
    return pd.DataFrame(rows)


# The evaluation steps, each called by one CLI command.


def evaluate_qa(
    *,
    model_dir: Path,
    qa: Path,
    bios: Path,
    world_dir: Path,
    identity: dict,
    out: Path,
    batch_size: int,
    threads: int = 1,
) -> None:
    """Step `evaluate`: QA accuracy per split and attribute, and bio recall on the biographies the
    model was trained on, with the run's identity and scale."""
    torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir, pick_device())
    scored = answer_questions(model, tokenizer, pd.read_parquet(qa), batch_size)
    recall = bio_recall(model, tokenizer, pd.read_parquet(bios), load_world(world_dir).people, batch_size)
    write_table(with_identity(accuracy_table(scored, recall), identity, read_scale(model_dir)), out)


def evaluate_task(
    *, model_dir: Path, task_table: Path, identity: dict, out: Path, batch_size: int, threads: int = 1
) -> None:
    """Step `evaluate-task`: held-out and QA-train accuracy on a knowledge manipulation task."""
    torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir, pick_device())
    scored = answer_questions(model, tokenizer, pd.read_parquet(task_table), batch_size)
    write_table(with_identity(task_accuracy(scored), identity, read_scale(model_dir)), out)
