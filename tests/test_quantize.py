import pytest
import torch

from physlm.models import build_model
from physlm.quantize import quantized


@pytest.fixture(scope="module")
def model():
    return build_model(
        {"arch": "llama", "n_layer": 2, "n_head": 2, "d_model": 64, "context": 64}, 300, 2, 0, 0
    )


def test_int8_is_close_int4_further_and_none_is_the_model(model):
    ids = torch.randint(300, (2, 24), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        reference = model(ids).logits
        error = {
            s: (quantized(model, s)(ids).logits - reference).abs().mean().item() for s in ("int8", "int4")
        }
    assert quantized(model, "none") is model
    assert 0 < error["int8"] < error["int4"]
    assert error["int8"] < 0.05 * reference.abs().mean().item()
    # The original is untouched and still tied.
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight


def test_quantized_weights_take_few_distinct_values_per_row(model):
    q = quantized(model, "int4")
    weight = q.get_input_embeddings().weight
    row = weight.dequantize()[0] if hasattr(weight, "dequantize") else weight[0]
    assert len(torch.unique(row)) <= 16


def test_unknown_scheme_is_named(model):
    with pytest.raises(ValueError, match="unknown quantization 'fp4'"):
        quantized(model, "fp4")
