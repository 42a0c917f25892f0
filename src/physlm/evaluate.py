"""QA evaluation: greedy generation, scored by exact match of the answer's tokens."""

from __future__ import annotations

import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast


def exact_match(generated: list[int], answer: list[int], eos: int) -> bool:
    """The generation up to its first EOS must be the answer, token for token."""
    stop = generated.index(eos) if eos in generated else len(generated)
    return generated[:stop] == answer


@torch.no_grad()
def answer_questions(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, qa: pd.DataFrame, batch_size: int
) -> pd.DataFrame:
    """Add `generated` and `correct` columns to `qa`.

    Prompts are batched by token length, so no padding is ever needed (names all have three words,
    so there are only a handful of lengths) and positions match training exactly.
    """
    model.eval()
    device = next(model.parameters()).device
    eos = tokenizer.eos_token_id
    prompts = tokenizer(list(qa["prompt"]))["input_ids"]
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
    return scored


def accuracy_table(scored: pd.DataFrame) -> pd.DataFrame:
    """Exact-match accuracy per (split, attribute), with the number of questions."""
    grouped = scored.groupby(["split", "attribute"], sort=True)["correct"]
    return grouped.agg(accuracy="mean", n="size").reset_index()
