"""A probe: what a frozen language model's hidden states say, read by a small trained head.

The probe is the frozen model plus a low-rank update of its input embedding and, per read position,
a normalization and a linear head on its last hidden state (Allen-Zhu & Li, Part 3.1). The embedding
update lets the probe re-weight input tokens a little, which the paper found makes probes far more
sensitive than a linear head alone, while staying too small to learn the answer itself (a
random-init model under the same probe is the check). P/Q-probing (physlm.knowledge.probing), V-probing
(physlm.reasoning.vprobe) and the mistake probe (physlm.reasoning.mistakes) are all this probe.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from transformers import PreTrainedModel

from physlm.engine.config_types import ProbeTraining
from physlm.engine.models import pick_device

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
        # The body is causal and the rows right-padded: nothing after the batch's last read position
        # changes what is read, so the batch is cut there (a task's rows are padded to its longest).
        ids = ids[:, : int(positions.max()) + 1]
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


def pad_right(ids: list[list[int]], pad: int) -> torch.Tensor:
    """Right padding: causal attention keeps every probed position blind to it."""
    width = max(len(x) for x in ids)
    return torch.tensor([x + [pad] * (width - len(x)) for x in ids])
