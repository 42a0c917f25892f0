"""Teacher-forced scoring: what a model predicts at every position of given texts, batched.

The losses a capacity measure sums over a name or a value (physlm.knowledge.qa), the uncertainty the
mistake detectors read (physlm.reasoning.mistakes): each reads the model's logits at every position of token
rows it is given, teacher-forced, with no generation.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast


def span_tokens(offsets: list[tuple[int, int]], start: int, end: int) -> list[int]:
    """Indices of the tokens whose characters lie in text[start:end] ("▁" tokens may start one
    character before it)."""
    return [i for i, (s, e) in enumerate(offsets) if s >= start - 1 and e <= end]


def teacher_forced(
    model: PreTrainedModel,
    rows: list[list[int]],
    pad: int,
    read: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    batch_size: int,
) -> list[torch.Tensor]:
    """`read(logits, ids)` (one value per position, batch x width) of each row of token ids, on the
    CPU, cut to the row's length. Rows run `batch_size` at a time, sorted by length and right-padded:
    under causal attention padding after a row changes none of its positions, and one forward pass
    per row would leave a GPU idle between launches."""
    device = next(model.parameters()).device
    order = sorted(range(len(rows)), key=lambda i: len(rows[i]))
    out: list[torch.Tensor] = [torch.empty(0)] * len(rows)
    for start in range(0, len(order), batch_size):
        chunk = order[start : start + batch_size]
        width = max(len(rows[i]) for i in chunk)
        ids = torch.tensor([rows[i] + [pad] * (width - len(rows[i])) for i in chunk], device=device)
        values = read(model(ids, use_cache=False).logits, ids).cpu()
        for r, i in enumerate(chunk):
            out[i] = values[r, : len(rows[i])]
    return out


def _next_token_loss(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """Loss in nats of each next token: position i predicts ids[i + 1] (the last position's value
    is meaningless: it wraps around to the first token)."""
    logp = torch.log_softmax(logits.float(), -1)
    return -logp.gather(-1, torch.roll(ids, -1, dims=1)[..., None])[..., 0]


def text_losses(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerFast, texts: list[str], batch_size: int = 64
) -> list[tuple[torch.Tensor, list[tuple[int, int]]]]:
    """Per text: the teacher-forced loss in nats of each of its tokens, with the tokens' character
    offsets.

    Each text is preceded by EOS, as every document is in training, so that even a name at the very
    start has a prediction.
    """
    encoded = tokenizer(texts, return_offsets_mapping=True)
    rows = [[tokenizer.eos_token_id, *ids] for ids in encoded["input_ids"]]
    losses = teacher_forced(model, rows, tokenizer.pad_token_id, _next_token_loss, batch_size)
    # Token i of a text is row[i + 1], predicted at position i: drop the last position's.
    return [(loss[:-1], offsets) for loss, offsets in zip(losses, encoded["offset_mapping"], strict=True)]


def span_loss(nll: torch.Tensor, offsets: list[tuple[int, int]], start: int, length: int) -> float:
    """Loss summed over the tokens of text[start:start + length] (Part 3.3 scores whole items)."""
    return float(nll[span_tokens(offsets, start, start + length)].sum())


def masked_loss(
    model: PreTrainedModel, documents: tuple[list, list], eos: int, pad: int, batch_size: int = 64
) -> float:
    """Mean teacher-forced loss in nats over the tokens training documents learn from (`documents`:
    token ids and loss masks, as physlm.engine.corpus builds them), each preceded by EOS as in training."""
    rows = [[eos, *ids] for ids in documents[0]]
    losses = teacher_forced(model, rows, pad, _next_token_loss, batch_size)
    # Token j of a row is predicted at position j - 1: its loss is loss[j - 1].
    total = sum(
        float(loss[:-1][torch.tensor(mask, dtype=torch.bool)].sum())
        for loss, mask in zip(losses, documents[1], strict=True)
    )
    return total / sum(map(sum, documents[1]))
