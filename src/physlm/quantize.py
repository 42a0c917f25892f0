"""Weight-only quantization of a trained model with torchao (runs on CPU and GPU).

Every weight matrix, the embedding included, is rounded to int8 or int4 with one symmetric scale per
output row; activations stay in float. Part 3.3 asks how many of the learned bits survive this.
"""

from __future__ import annotations

import copy

import torch
from torchao.quantization import IntxWeightOnlyConfig, quantize_
from torchao.quantization.granularity import PerAxis

SCHEMES = {"none": None, "int8": torch.int8, "int4": torch.int4}


def quantized(model: torch.nn.Module, scheme: str) -> torch.nn.Module:
    """A quantized copy of `model` (the model itself for "none")."""
    if scheme not in SCHEMES:
        raise ValueError(f"unknown quantization {scheme!r}: expected one of {', '.join(SCHEMES)}")
    if SCHEMES[scheme] is None:
        return model
    copied = copy.deepcopy(model)
    # An untied output layer lets the embedding and the head be quantized as the separate modules
    # torchao sees; their weights start equal, so the float model is unchanged.
    head = copied.get_output_embeddings()
    if head is not None and head.weight is copied.get_input_embeddings().weight:
        head.weight = torch.nn.Parameter(head.weight.detach().clone())
    quantize_(
        copied,
        IntxWeightOnlyConfig(weight_dtype=SCHEMES[scheme], granularity=PerAxis(0)),
        filter_fn=lambda module, _: isinstance(module, torch.nn.Linear | torch.nn.Embedding),
    )
    return copied
