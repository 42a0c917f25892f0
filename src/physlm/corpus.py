"""Turn biographies and QA pairs into token documents with a loss mask.

Every document ends with EOS, so packed windows separate documents and the model learns where an
answer stops. QA documents train only on the answer: the question is given, not predicted.
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
