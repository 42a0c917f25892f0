"""A plain-PyTorch causal LM of the pipeline's Llama shape, written only for `physlm bench`.

It has what physlm.engine.models.build_model's Llama has, matrix for matrix (tied embeddings, RMSNorm,
rotary positions, causal attention, a SwiGLU MLP of width 8d/3), and nothing else: one fused
query/key/value map, PyTorch's scaled-dot-product attention, no masks, caches or output objects.
The bench trains it beside the pipeline's model: where the pipeline is slower, the gap is the
overhead of our stack (transformers, the data path, the loop), not the hardware's.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotary position embedding on the last dimension, halves rotated as in Llama."""
    first, second = x.chunk(2, dim=-1)
    return x * cos + torch.cat((-second, first), dim=-1) * sin


class Block(nn.Module):
    def __init__(self, d_model: int, n_head: int, ffn: int):
        super().__init__()
        self.n_head = n_head
        self.attn_norm, self.mlp_norm = nn.RMSNorm(d_model, eps=1e-6), nn.RMSNorm(d_model, eps=1e-6)
        self.qkv = nn.Linear(d_model, 3 * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)
        self.gate_up = nn.Linear(d_model, 2 * ffn, bias=False)
        self.down = nn.Linear(ffn, d_model, bias=False)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
        batch, length, width = x.shape
        qkv = self.qkv(self.attn_norm(x)).view(batch, length, 3, self.n_head, -1)
        q, k, v = qkv.transpose(1, 3).unbind(2)  # each batch x heads x length x head width
        y = F.scaled_dot_product_attention(_rotate(q, cos, sin), _rotate(k, cos, sin), v, is_causal=True)
        x = x + self.out(y.transpose(1, 2).reshape(batch, length, width))
        gate, up = self.gate_up(self.mlp_norm(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class ReferenceGPT(nn.Module):
    """Token ids (batch x length) to next-token logits; `loss(ids)` is the mean cross-entropy of
    predicting each token from the ones before it."""

    def __init__(self, vocab_size: int, n_layer: int, n_head: int, d_model: int, context: int):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, d_model)
        self.blocks = nn.ModuleList(Block(d_model, n_head, (8 * d_model) // 3) for _ in range(n_layer))
        self.norm = nn.RMSNorm(d_model, eps=1e-6)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.embed.weight
        half = d_model // n_head // 2
        angle = torch.outer(torch.arange(context), 10000.0 ** (-torch.arange(half) / half))
        self.register_buffer("cos", angle.cos().repeat(1, 2), persistent=False)
        self.register_buffer("sin", angle.sin().repeat(1, 2), persistent=False)
        for module in self.modules():
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=0.02)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids)
        cos, sin = self.cos[: ids.shape[1]], self.sin[: ids.shape[1]]
        for block in self.blocks:
            x = block(x, cos, sin)
        return self.head(self.norm(x))

    def loss(self, ids: torch.Tensor) -> torch.Tensor:
        logits = self(ids)[:, :-1]  # as transformers does: the whole window in, labels shifted
        return F.cross_entropy(logits.flatten(0, 1).float(), ids[:, 1:].flatten())
