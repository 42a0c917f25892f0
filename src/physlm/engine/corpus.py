"""Turn biographies and QA pairs into token documents with a loss mask (iGSM problems:
physlm.reasoning.problem_stream).

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


def prompt_ids(tokenizer: PreTrainedTokenizerFast, texts: list[str]) -> list[list[int]]:
    """Token ids of each text preceded by the document separator (EOS), as in training."""
    return [[tokenizer.eos_token_id, *ids] for ids in tokenizer(list(texts))["input_ids"]]
