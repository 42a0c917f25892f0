"""Weight-only quantization of a trained model: round to nearest, one scale per row (CPU and GPU).

Every weight matrix, the embedding included, is rounded to int8 or int4 with one symmetric scale per
output row and stored back dequantized; activations stay in float. Part 3.3 asks how many of the
learned bits survive this. The arithmetic is torchao's `IntxWeightOnlyConfig(granularity=PerAxis(0))`
(scale = max|w| / (2^(b-1) - 0.5), codes in [-2^(b-1), 2^(b-1) - 1]), checked to give identical
logits; written here in plain torch because transformers imports torchao, when installed, in every
step that loads a model (two seconds and a screen of load failures in each log). The paper uses
GPTQ, which calibrates the rounding on data; round-to-nearest can only lose more bits than it.
"""

from __future__ import annotations

import copy

import torch

BITS = {"none": None, "int8": 8, "int4": 4}
SCHEMES = tuple(BITS)


def round_to_nearest(weight: torch.Tensor, bits: int) -> torch.Tensor:
    """`weight` with each row rounded to 2^bits levels around zero, dequantized."""
    top = 2 ** (bits - 1)
    scale = weight.abs().amax(dim=1, keepdim=True) / (top - 0.5)
    scale = scale.clamp(min=torch.finfo(weight.dtype).smallest_normal)
    return torch.clamp(torch.round(weight * (1.0 / scale)), -top, top - 1) * scale


@torch.no_grad()
def quantized(model: torch.nn.Module, scheme: str) -> torch.nn.Module:
    """A quantized copy of `model` (the model itself for "none")."""
    if scheme not in BITS:
        raise ValueError(f"unknown quantization {scheme!r}: expected one of {', '.join(SCHEMES)}")
    if BITS[scheme] is None:
        return model
    copied = copy.deepcopy(model)
    # An untied output layer lets the embedding and the head be rounded as the separate matrices they
    # are at inference; their weights start equal, so the float model is unchanged.
    head = copied.get_output_embeddings()
    if head is not None and head.weight is copied.get_input_embeddings().weight:
        head.weight = torch.nn.Parameter(head.weight.detach().clone())
    for module in copied.modules():
        if isinstance(module, torch.nn.Linear | torch.nn.Embedding):
            module.weight.copy_(round_to_nearest(module.weight, BITS[scheme]))
    return copied
