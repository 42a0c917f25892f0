import fcntl

import pytest
import torch
from transformers import AutoModelForCausalLM

from physlm.engine.config_types import ModelConfig
from physlm.engine.models import add_lora, build_model, count_parameters

SHAPE = {"n_layer": 2, "n_head": 2, "d_model": 32, "context": 16}


@pytest.mark.parametrize("arch", ["gpt2", "llama", "qwen3"])
def test_saved_model_loads_with_auto_class_and_gives_the_same_logits(arch, tmp_path):
    model = build_model(ModelConfig(arch=arch, **SHAPE), vocab_size=50, eos_id=2, pad_id=0, seed=0).eval()
    assert model.get_input_embeddings().weight is model.get_output_embeddings().weight
    model.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    ids = torch.randint(0, 50, (2, 16))
    assert torch.allclose(model(ids).logits, loaded(ids).logits)
    assert count_parameters(model) == count_parameters(loaded)


def test_same_seed_same_init_and_unknown_arch_rejected():
    a = build_model(ModelConfig(arch="llama", **SHAPE), 50, 2, 0, seed=1)
    b = build_model(ModelConfig(arch="llama", **SHAPE), 50, 2, 0, seed=1)
    assert all(torch.equal(x, y) for x, y in zip(a.parameters(), b.parameters(), strict=True))
    with pytest.raises(ValueError, match=r"model\.arch"):
        build_model(ModelConfig(arch="rnn", **SHAPE), 50, 2, 0, seed=1)


@pytest.mark.parametrize("arch", ["gpt2", "llama", "qwen3"])
def test_lora_trains_only_adapters_and_merges_into_a_plain_model(arch, tmp_path):
    model = add_lora(build_model(ModelConfig(arch=arch, **SHAPE), 50, 2, 0, seed=0), rank=2, embedding_rank=4)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and all("lora" in n for n in trainable)
    assert any("embed" in n or "wte" in n for n in trainable)
    for p in model.parameters():  # make the adapters non-trivial
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.1)
    ids = torch.randint(0, 50, (2, 16))
    expected = model(ids).logits
    merged = model.merge_and_unload()
    merged.save_pretrained(tmp_path)
    loaded = AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert torch.allclose(loaded(ids).logits, expected, atol=1e-5)


def test_qwen3_is_llama_with_normalized_queries_and_keys():
    llama = build_model(ModelConfig(arch="llama", **SHAPE), 50, 2, 0, seed=1)
    qwen3 = build_model(ModelConfig(arch="qwen3", **SHAPE), 50, 2, 0, seed=1)
    extra = {n for n, _ in qwen3.named_parameters()} - {n for n, _ in llama.named_parameters()}
    assert extra and all(n.endswith(("q_norm.weight", "k_norm.weight")) for n in extra)
    head = SHAPE["d_model"] // SHAPE["n_head"]
    assert qwen3.model.layers[0].self_attn.q_norm.weight.shape == (head,)


def test_on_a_node_with_several_gpus_each_job_takes_its_own(monkeypatch, tmp_path):
    from physlm.engine import environment
    from physlm.engine.models import pick_device

    monkeypatch.setenv("PHYSLM_DEVICE", "cuda")
    monkeypatch.setenv("PHYSLM_GPU_LOCKS", str(tmp_path))
    monkeypatch.setattr(environment, "_CLAIMED", [])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU node, faked
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    (tmp_path / "slot0.lock").touch()
    with open(tmp_path / "slot0.lock") as other_job:  # another job holds slot 0 (GPU 0)
        fcntl.flock(other_job, fcntl.LOCK_EX)
        assert pick_device() == torch.device("cuda", 1)
        assert pick_device() == torch.device("cuda", 1)  # asked again, the job keeps its GPU
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert pick_device() == torch.device("cuda")  # one GPU (or SLURM's one): no claim
