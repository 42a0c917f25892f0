"""Stand-in models for evaluation tests: they answer without training."""

import torch


class NextToken(torch.nn.Module):
    """Teacher-forced 'model' whose logits are `scale` on the true next token and 0 elsewhere; it
    never predicts `blind` (that token's target becomes token 0), and before `unsure` its logits are
    all equal (it does not know what comes)."""

    def __init__(self, vocab: int, scale: float = 1.0, blind: int | None = None, unsure: int | None = None):
        super().__init__()
        self.vocab, self.scale, self.blind, self.unsure = vocab, scale, blind, unsure
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, ids, use_cache: bool = True):  # use_cache: as a transformers model takes it
        target = torch.roll(ids, -1, dims=1)
        unsure = target == self.unsure
        if self.blind is not None:
            target[target == self.blind] = 0
        logits = self.scale * torch.nn.functional.one_hot(target, self.vocab).float()
        logits[unsure] = 0.0
        return type("Output", (), {"logits": logits})
