import pytest
import torch

from physlm.engine.config_types import ModelConfig
from physlm.engine.models import build_model
from physlm.engine.quantize import quantized, round_to_nearest


@pytest.fixture(scope="module")
def model():
    return build_model(ModelConfig(arch="llama", n_layer=2, n_head=2, d_model=64, context=64), 300, 2, 0, 0)


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
    for weight in (q.get_input_embeddings().weight, q.get_output_embeddings().weight):
        assert len(torch.unique(weight[1])) <= 16


def test_round_to_nearest_uses_torchaos_symmetric_codes():
    """Scale max|w| / 7.5 at 4 bits, codes -8..7: +max clips to 7, the rest round to nearest."""
    row = torch.tensor([[1.0, 0.5, -0.26, -0.62, 0.0]])
    expected = torch.tensor([[7.0, 4.0, -2.0, -5.0, 0.0]]) / 7.5
    assert torch.allclose(round_to_nearest(row, 4), expected)
    assert torch.equal(round_to_nearest(torch.zeros(1, 3), 8), torch.zeros(1, 3))


def test_unknown_scheme_is_named(model):
    with pytest.raises(ValueError, match="unknown quantization 'fp4'"):
        quantized(model, "fp4")
