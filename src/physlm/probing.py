"""Where does a model keep a person's attributes? P-probing and Q-probing (Part 3.1).

A probe is the frozen language model plus a low-rank update of its input embedding and, per read
position, a normalization and a linear head on its last hidden state. The embedding update lets the
probe re-weight input tokens a little, which the paper found makes probes far more sensitive than a
linear head alone, while staying too small to learn the attributes itself (a random-init model under
the same probe is the check). As in the paper, each probe task (attribute) has its own trainable
parameters: one task cannot shape the embedding update for another.

- P-probing reads a biography at the token just before each attribute value (positions 1-6 in text
  order) and asks for one attribute at all six (a LayerNorm with trainable affine, then a linear
  head, per position): knowledge readable at position 1 is already attached to the name, before the
  text states it.
- Q-probing reads [start] + full name + [end] at the end marker (BatchNorm before the head, as in
  Appendix F); the two markers are new tokens whose embeddings only the probe's update gives.

Probes train on QA-train people and are scored on held-out people only. Every input starts with the
document separator, as in training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from physlm.artifacts import load_model, read_scale, with_identity, write_table
from physlm.data.templates import ATTRIBUTES
from physlm.data.worlds import load_world
from physlm.models import build_model, pick_device
from physlm.sections import ModelConfig, ProbeConfig, ProbeTraining

NORMS = {"layer": nn.LayerNorm, "batch": nn.BatchNorm1d}


class Probe(nn.Module):
    """Frozen `body` fed by a frozen embedding plus a trainable rank-r update, with one
    normalization and linear head per read position.

    Head h reads the hidden state at positions[:, h]. `markers` adds that many new token ids after
    the vocabulary (zero embedding: only the update gives them one). The update starts at zero, so
    an untrained probe sees exactly the model's own hidden states. Initialisation follows `seed`.
    """

    def __init__(
        self,
        embedding: torch.Tensor,
        body: Callable[[torch.Tensor], torch.Tensor],
        rank: int,
        classes: list[int],
        seed: int,
        norm: str = "layer",
        markers: int = 0,
    ):
        super().__init__()
        torch.manual_seed(seed)
        vocab, width = embedding.shape
        table = torch.cat([embedding.detach(), embedding.new_zeros(markers, width)])
        self.register_buffer("embedding", table.clone())
        self.body = body
        # The per-token table starts at zero (as peft does for embeddings): a token the probe never
        # trained on keeps exactly the model's embedding.
        self.down = nn.Parameter(torch.zeros(vocab + markers, rank))
        self.up = nn.Parameter(torch.randn(rank, width) / width**0.5)
        self.norms = nn.ModuleList(NORMS[norm](width) for _ in classes)
        self.heads = nn.ModuleList(nn.Linear(width, c) for c in classes)

    def forward(self, ids: torch.Tensor, positions: torch.Tensor) -> list[torch.Tensor]:
        hidden = self.body(self.embedding[ids] + self.down[ids] @ self.up)
        rows = torch.arange(len(ids), device=ids.device)
        return [
            head(norm(hidden[rows, positions[:, h]]))
            for h, (norm, head) in enumerate(zip(self.norms, self.heads, strict=True))
        ]


def probe_model(
    model: PreTrainedModel, rank: int, classes: list[int], seed: int, norm: str = "layer", markers: int = 0
) -> Probe:
    """A probe on a frozen HF causal LM: its input embedding, its last hidden state."""
    model.to(pick_device()).eval().requires_grad_(False)
    return Probe(
        model.get_input_embeddings().weight,
        lambda embeds: model.base_model(inputs_embeds=embeds, use_cache=False).last_hidden_state,
        rank,
        classes,
        seed,
        norm,
        markers,
    ).to(pick_device())


def fit(
    probe: Probe,
    ids: torch.Tensor,
    positions: torch.Tensor,
    labels: torch.Tensor,
    train: np.ndarray,
    cfg: ProbeTraining,
    seed: int,
    log: Callable[[str], None] = print,
) -> None:
    """Train the probe on rows where `train`.

    Minibatches are drawn with a seeded generator, so a probe result is a function of its inputs.
    The log shows the end of the loss curve (mean loss over each tenth of the steps, and the change
    over the last tenth), so a reader can see whether training had flattened.
    """
    device = probe.embedding.device
    ids, positions, labels = ids.to(device), positions.to(device), labels.to(device)
    generator = torch.Generator().manual_seed(seed)
    # The embedding update trains slower than the heads: at the same rate, Adam lets its per-token
    # table memorise training inputs instead of the heads learning a read-out that generalises.
    optimizer = torch.optim.AdamW(
        [
            {"params": [probe.down, probe.up], "lr": cfg.embedding_lr},
            {"params": [*probe.norms.parameters(), *probe.heads.parameters()]},
        ],
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
    )
    probe.train()
    train_rows = torch.from_numpy(np.flatnonzero(train))
    losses = []
    for _ in range(cfg.steps):
        pick = torch.randint(len(train_rows), (min(cfg.batch_size, len(train_rows)),), generator=generator)
        batch = train_rows[pick].to(device)
        logits = probe(ids[batch], positions[batch])
        loss = sum(nn.functional.cross_entropy(out, labels[batch, h]) for h, out in enumerate(logits))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item() / len(logits))
    log(loss_curve_end(losses))
    probe.eval()


def predict(probe: Probe, ids: torch.Tensor, positions: torch.Tensor, batch_size: int) -> list[np.ndarray]:
    """Per head, the class probabilities of every row (rows x classes)."""
    device = probe.embedding.device
    out: list[list[torch.Tensor]] = [[] for _ in probe.heads]
    with torch.no_grad():
        for chunk in torch.arange(len(ids)).split(batch_size):
            for h, logits in enumerate(probe(ids[chunk].to(device), positions[chunk].to(device))):
                out[h].append(logits.softmax(-1).cpu())
    return [torch.cat(parts).numpy() for parts in out]


def held_out_correct(
    probe: Probe,
    ids: torch.Tensor,
    positions: torch.Tensor,
    labels: torch.Tensor,
    train: np.ndarray,
    batch_size: int,
) -> np.ndarray:
    """Per-row, per-head correctness of the probe's most likely class on the rows not in `train`."""
    test = torch.from_numpy(np.flatnonzero(~train))
    probs = predict(probe, ids[test], positions[test], batch_size)
    predicted = np.stack([p.argmax(-1) for p in probs], axis=1)
    return predicted == labels[test].numpy()


def loss_curve_end(losses: list[float]) -> str:
    """The training loss per tenth of the steps, and how much the last tenth moved from the one
    before: a probe whose loss still falls was stopped early."""
    tenths = [float(np.mean(part)) for part in np.array_split(np.array(losses), 10) if len(part)]
    change = (tenths[-1] - tenths[-2]) / tenths[-2] if len(tenths) > 1 and tenths[-2] else 0.0
    curve = " ".join(f"{v:.3f}" for v in tenths)
    return f"probe loss per tenth of {len(losses)} steps: {curve} (last tenth {change:+.1%})"


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


def pad_right(ids: list[list[int]], pad: int) -> torch.Tensor:
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
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Held-out accuracy per (text position, attribute), over each person's first biography; one
    probe per attribute, reading it at all six positions.

    `later_accuracy` counts only biographies that state the attribute after that position (read
    before the text gives it); `next_accuracy` only those whose value comes right after it.
    """
    first = bios[bios["copy"] == 0].merge(people, on="person_id", validate="one_to_one")
    ids, before = value_positions(tokenizer, first)
    ordinal = np.argsort(np.argsort(before, axis=1), axis=1)  # text position of each attribute
    positions = torch.from_numpy(np.sort(before, axis=1))
    labels, classes = attribute_labels(first)
    train = (first["split"] == "train").to_numpy()
    n_pos = len(ATTRIBUTES)
    majority = majority_baseline(labels, train)
    padded = pad_right(ids, tokenizer.pad_token_id)
    held_out = ordinal[~train]
    rows = []
    for a, attribute in enumerate(ATTRIBUTES):
        log(f"P-probe {attribute}:")
        probe = probe_model(model, cfg.p_rank, [classes[a]] * n_pos, seed, norm="layer")
        targets = torch.from_numpy(np.repeat(labels[:, [a]], n_pos, axis=1))
        fit(probe, padded, positions, targets, train, cfg, seed, log)
        correct = held_out_correct(probe, padded, positions, targets, train, cfg.batch_size)
        for k in range(n_pos):
            hit = correct[:, k]
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
                    "train_per_class": train.sum() / classes[a],
                }
            )
    return pd.DataFrame(rows).assign(probe_steps=cfg.steps)


def q_probe(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    people: pd.DataFrame,
    cfg: ProbeConfig,
    seed: int,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Held-out accuracy per attribute from [start] + full name + [end], read at the end marker;
    one probe per attribute."""
    start, end = len(tokenizer), len(tokenizer) + 1  # the two marker ids, after the vocabulary
    ids = [
        [tokenizer.eos_token_id, start, *name, end]
        for name in tokenizer(list(people["full_name"]))["input_ids"]
    ]
    read = torch.tensor([[len(x) - 1] for x in ids])
    labels, classes = attribute_labels(people)
    train = (people["split"] == "train").to_numpy()
    padded = pad_right(ids, tokenizer.pad_token_id)
    accuracy = []
    for a, attribute in enumerate(ATTRIBUTES):
        log(f"Q-probe {attribute}:")
        probe = probe_model(model, cfg.q_rank, [classes[a]], seed, norm="batch", markers=2)
        targets = torch.from_numpy(labels[:, [a]])
        fit(probe, padded, read, targets, train, cfg, seed, log)
        correct = held_out_correct(probe, padded, read, targets, train, cfg.batch_size)
        accuracy.append(correct[:, 0].mean())
    return pd.DataFrame(
        {
            "position": 0,
            "attribute": list(ATTRIBUTES),
            "accuracy": accuracy,
            "majority": majority_baseline(labels, train),
            "n": int((~train).sum()),
            "train_per_class": [train.sum() / c for c in classes],
            "probe_steps": cfg.steps,
        }
    )


def probe(
    *,
    model_dir: Path,
    model_config: ModelConfig,
    probing_config: ProbeConfig,
    bios: Path,
    world_dir: Path,
    seed: int,
    identity: dict,
    out: Path,
    threads: int = 1,
) -> None:
    """Step `probe`: P- and Q-probe a pretrained model and, as the baseline, the same architecture
    (`model_config`) at random init, on the biographies it was trained on."""
    torch.set_num_threads(threads)
    pretrained, tokenizer = load_model(model_dir)
    random_init = build_model(
        model_config, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed
    )
    table, people = pd.read_parquet(bios), load_world(world_dir).people
    tables = []
    for name, model in (("pretrained", pretrained), ("random init", random_init)):
        for kind, result in (
            ("P", p_probe(model, tokenizer, table, people, probing_config, seed)),
            ("Q", q_probe(model, tokenizer, people, probing_config, seed)),
        ):
            print(f"{kind}-probe, {name}: mean held-out accuracy {result['accuracy'].mean():.3f}", flush=True)
            tables.append(result.assign(probe=kind, model=name))
    write_table(with_identity(pd.concat(tables, ignore_index=True), identity, read_scale(model_dir)), out)
