"""Turn biographies, QA pairs and math problems into token documents with a loss mask.

Every document ends with EOS, so packed windows separate documents and the model learns where an
answer stops; in a packed window every document therefore starts right after an EOS. Prompts given
to a trained model (questions, tasks, probe inputs) start with EOS too (`prompt_ids`), so the model
reads them in the context it was trained in. QA documents train only on the answer: the question is
given, not predicted.
"""

from __future__ import annotations

import pandas as pd
from transformers import PreTrainedTokenizerFast

Documents = tuple[list[list[int]], list[list[bool]]]


def bio_documents(tokenizer: PreTrainedTokenizerFast, bios: pd.DataFrame) -> Documents:
    eos = tokenizer.eos_token_id
    ids = [[*d, eos] for d in tokenizer(list(bios["text"]))["input_ids"]]
    return ids, [[True] * len(d) for d in ids]


def qa_documents(tokenizer: PreTrainedTokenizerFast, qa: pd.DataFrame) -> Documents:
    eos = tokenizer.eos_token_id
    prompts = tokenizer(list(qa["prompt"]))["input_ids"]
    answers = tokenizer(list(qa["answer"]))["input_ids"]
    ids = [p + a + [eos] for p, a in zip(prompts, answers, strict=True)]
    masks = [[False] * len(p) + [True] * (len(a) + 1) for p, a in zip(prompts, answers, strict=True)]
    return ids, masks


def problem_documents(
    tokenizer: PreTrainedTokenizerFast, problems: pd.DataFrame, solution_only: bool
) -> Documents:
    """iGSM problems with their solutions; the loss on the solution only (the statements are random
    draws, there is nothing to learn in predicting them) or on everything (the paper's pretraining)."""
    from physlm.data.igsm import prompt

    eos = tokenizer.eos_token_id
    prompts = tokenizer([prompt(t, q) for t, q in zip(problems["text"], problems["question"], strict=True)])
    solutions = tokenizer([" ".join(steps) for steps in problems["solution"]])
    ids, masks = [], []
    for p, s in zip(prompts["input_ids"], solutions["input_ids"], strict=True):
        ids.append([eos, *p, *s, eos])
        masks.append([False] + [not solution_only] * len(p) + [True] * (len(s) + 1))
    return ids, masks


def prompt_ids(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> list[list[int]]:
    """Token ids of each text preceded by the document separator (EOS), as in training."""
    return [[tokenizer.eos_token_id, *ids] for ids in tokenizer(list(texts))["input_ids"]]
