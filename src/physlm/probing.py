"""Where does a model keep a person's attributes? P-probing and Q-probing (Part 3.1).

A probe is the frozen language model plus a low-rank update of its input embedding and linear heads
on its last hidden state. The embedding update lets the probe re-weight input tokens a little, which
the paper found makes probes far more sensitive than a linear head alone, while staying too small to
learn the attributes itself (a random-init model under the same probe is the check).

- P-probing reads a biography at the token just before each attribute value (positions 1-6 in text
  order) and asks for all six attributes there: knowledge readable at position 1 is already attached
  to the name, before the text states it.
- Q-probing reads the full name alone, at its last token.

Probes train on QA-train people and are scored on held-out people only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from physlm.data.templates import ATTRIBUTES
from physlm.models import pick_device
from physlm.sections import FromSection


@dataclass(frozen=True)
class ProbeConfig(FromSection):
    """Mirrors the config's `probing` section (minus the variant list)."""

    p_rank: int
    q_rank: int
    steps: int
    batch_size: int
    lr: float
    embedding_lr: float
    weight_decay: float


class Probe(nn.Module):
    """Frozen `body` fed by a frozen embedding plus a trainable rank-r update, with linear heads.

    Head h reads the hidden state at positions[:, h]. The update starts at zero, so an untrained
    probe sees exactly the model's own hidden states. Initialisation follows `seed`.
    """

    def __init__(
        self,
        embedding: torch.Tensor,
        body: Callable[[torch.Tensor], torch.Tensor],
        rank: int,
        classes: list[int],
        seed: int,
    ):
        super().__init__()
        torch.manual_seed(seed)
        vocab, width = embedding.shape
        self.register_buffer("embedding", embedding.detach().clone())
        self.body = body
        # The per-token table starts at zero (as peft does for embeddings): a token the probe never
        # trained on keeps exactly the model's embedding.
        self.down = nn.Parameter(torch.zeros(vocab, rank))
        self.up = nn.Parameter(torch.randn(rank, width) / width**0.5)
        self.heads = nn.ModuleList(nn.Linear(width, c) for c in classes)

    def forward(self, ids: torch.Tensor, positions: torch.Tensor) -> list[torch.Tensor]:
        hidden = self.body(self.embedding[ids] + self.down[ids] @ self.up)
        rows = torch.arange(len(ids), device=ids.device)
        return [head(hidden[rows, positions[:, h]]) for h, head in enumerate(self.heads)]


def probe_model(model: PreTrainedModel, rank: int, classes: list[int], seed: int) -> Probe:
    """A probe on a frozen HF causal LM: its input embedding, its last hidden state."""
    model.to(pick_device()).eval().requires_grad_(False)
    return Probe(
        model.get_input_embeddings().weight,
        lambda embeds: model.base_model(inputs_embeds=embeds).last_hidden_state,
        rank,
        classes,
        seed,
    ).to(pick_device())


def fit_and_score(
    probe: Probe,
    ids: torch.Tensor,
    positions: torch.Tensor,
    labels: torch.Tensor,
    train: np.ndarray,
    cfg: ProbeConfig,
    seed: int,
) -> np.ndarray:
    """Train on rows where `train`, return per-row, per-head correctness on the other rows.

    Minibatches are drawn with a seeded generator, so a probe result is a function of its inputs.
    """
    device = probe.embedding.device
    ids, positions, labels = ids.to(device), positions.to(device), labels.to(device)
    generator = torch.Generator().manual_seed(seed)
    # The embedding update trains slower than the heads: at the same rate, Adam lets its per-token
    # table memorise training inputs instead of the heads learning a read-out that generalises.
    optimizer = torch.optim.AdamW(
        [{"params": [probe.down, probe.up], "lr": cfg.embedding_lr}, {"params": probe.heads.parameters()}],
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )
    train_rows = torch.from_numpy(np.flatnonzero(train))
    for _ in range(cfg.steps):
        pick = torch.randint(len(train_rows), (min(cfg.batch_size, len(train_rows)),), generator=generator)
        batch = train_rows[pick].to(device)
        logits = probe(ids[batch], positions[batch])
        loss = sum(nn.functional.cross_entropy(out, labels[batch, h]) for h, out in enumerate(logits))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    hits = []
    with torch.no_grad():
        for chunk in torch.from_numpy(np.flatnonzero(~train)).to(device).split(cfg.batch_size):
            predicted = torch.stack([out.argmax(-1) for out in probe(ids[chunk], positions[chunk])], dim=1)
            hits.append(predicted.eq(labels[chunk]).cpu())
    return torch.cat(hits).numpy()


def attribute_labels(people: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
    """Class index per (person, attribute) and the number of classes of each attribute.

    Birth date is probed as the birth month (the first token of the value), the others as values.
    """
    columns = [people["birth_month"] if a == "birth_date" else people[a] for a in ATTRIBUTES]
    codes = [pd.factorize(c, sort=True) for c in columns]
    return np.stack([c for c, _ in codes], axis=1), [len(u) for _, u in codes]


def majority_baseline(labels: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Held-out accuracy, per column, of always answering the QA-train people's most common class."""
    return np.array(
        [np.mean(labels[~train, j] == np.bincount(labels[train, j]).argmax()) for j in range(labels.shape[1])]
    )


def value_positions(
    tokenizer: PreTrainedTokenizerFast, bios: pd.DataFrame
) -> tuple[list[list[int]], np.ndarray]:
    """Token ids of each biography, preceded by EOS as in training, and, per attribute, the index
    of the token just before its value."""
    ids, before = [], []
    for text, starts in zip(bios["text"], bios["starts"], strict=True):
        encoded = tokenizer(text, return_offsets_mapping=True)
        offsets = [s for s, _ in encoded["offset_mapping"]]
        # A Metaspace token may begin at the space before the value: allow one character.
        first = [next(i for i, s in enumerate(offsets) if i and s >= start - 1) for start in starts]
        ids.append([tokenizer.eos_token_id, *encoded["input_ids"]])
        before.append(first)  # token i of the text is at i + 1 after the EOS: i is the one before
    return ids, np.array(before)


def _pad(ids: list[list[int]], pad: int) -> torch.Tensor:
    """Right padding: causal attention keeps every probed position blind to it."""
    width = max(len(x) for x in ids)
    return torch.tensor([x + [pad] * (width - len(x)) for x in ids])


def p_probe(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    bios: pd.DataFrame,
    people: pd.DataFrame,
    cfg: ProbeConfig,
    seed: int,
) -> pd.DataFrame:
    """Held-out accuracy per (text position, attribute), over each person's first biography.

    `later_accuracy` counts only biographies that state the attribute after that position (read
    before the text gives it); `next_accuracy` only those whose value comes right after it.
    """
    first = bios[bios["copy"] == 0].merge(people, on="person_id", validate="one_to_one")
    ids, before = value_positions(tokenizer, first)
    order = np.argsort(before, axis=1)  # attribute index at each text position
    ordinal = np.argsort(order, axis=1)  # text position of each attribute
    positions = np.sort(before, axis=1)
    labels, classes = attribute_labels(first)
    train = (first["split"] == "train").to_numpy()
    n_pos, n_attr = len(ATTRIBUTES), len(ATTRIBUTES)
    probe = probe_model(model, cfg.p_rank, [classes[a] for _ in range(n_pos) for a in range(n_attr)], seed)
    heads_pos = torch.from_numpy(np.repeat(positions, n_attr, axis=1))
    heads_labels = torch.from_numpy(np.tile(labels, (1, n_pos)))
    correct = fit_and_score(
        probe, _pad(ids, tokenizer.pad_token_id), heads_pos, heads_labels, train, cfg, seed
    )
    majority = majority_baseline(labels, train)
    held_out = ordinal[~train]
    rows = []
    for k in range(n_pos):
        for a, attribute in enumerate(ATTRIBUTES):
            hit = correct[:, k * n_attr + a]
            later, nxt = held_out[:, a] > k, held_out[:, a] == k
            rows.append(
                {
                    "position": k + 1,
                    "attribute": attribute,
                    "accuracy": hit.mean(),
                    "later_accuracy": hit[later].mean() if later.any() else np.nan,
                    "next_accuracy": hit[nxt].mean() if nxt.any() else np.nan,
                    "majority": majority[a],
                    "n": len(hit),
                }
            )
    return pd.DataFrame(rows)


def q_probe(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    people: pd.DataFrame,
    cfg: ProbeConfig,
    seed: int,
) -> pd.DataFrame:
    """Held-out accuracy per attribute from the hidden state at the last token of the name alone."""
    ids = tokenizer(list(people["full_name"]))["input_ids"]
    last = torch.tensor([[len(x) - 1] * len(ATTRIBUTES) for x in ids])
    labels, classes = attribute_labels(people)
    train = (people["split"] == "train").to_numpy()
    probe = probe_model(model, cfg.q_rank, classes, seed)
    correct = fit_and_score(
        probe, _pad(ids, tokenizer.pad_token_id), last, torch.from_numpy(labels), train, cfg, seed
    )
    majority = majority_baseline(labels, train)
    return pd.DataFrame(
        {
            "position": 0,
            "attribute": list(ATTRIBUTES),
            "accuracy": correct.mean(axis=0),
            "majority": majority,
            "n": len(correct),
        }
    )
