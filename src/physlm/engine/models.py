"""Model construction from transformers configs: GPT-2, Llama or Qwen3, built from scratch.

Qwen3 is Llama with QK normalization (an RMSNorm on each head's queries and keys, with a learned
gain): attention logits no longer grow only with the weights' norms, which Hoffmann et al. 2024
("Eureka moments") relate to the long loss plateaus of multi-step tasks.

Dropout is off: the paper trains on synthetic data without it, and it keeps a resumed CPU run
bit-identical to an unbroken one.
"""

from __future__ import annotations

import warnings

import torch
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    Qwen3Config,
    Qwen3ForCausalLM,
)

from physlm.engine.config_types import ModelConfig
from physlm.engine.environment import claim_gpu, device_name

ARCHITECTURES = ("gpt2", "llama", "qwen3")


def build_model(cfg: ModelConfig, vocab_size: int, eos_id: int, pad_id: int, seed: int) -> PreTrainedModel:
    """A freshly initialised causal LM of the shape `cfg` gives."""
    torch.manual_seed(seed)
    shared = dict(vocab_size=vocab_size, bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=pad_id)
    if cfg.arch == "gpt2":
        config = GPT2Config(
            n_layer=cfg.n_layer,
            n_head=cfg.n_head,
            n_embd=cfg.d_model,
            n_positions=cfg.context,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
            tie_word_embeddings=True,
            **shared,
        )
        return GPT2LMHeadModel(config)
    if cfg.arch in ("llama", "qwen3"):
        config, model = (
            (LlamaConfig, LlamaForCausalLM) if cfg.arch == "llama" else (Qwen3Config, Qwen3ForCausalLM)
        )
        shape = dict(
            num_hidden_layers=cfg.n_layer,
            num_attention_heads=cfg.n_head,
            num_key_value_heads=cfg.n_head,
            hidden_size=cfg.d_model,
            head_dim=cfg.d_model // cfg.n_head,
            intermediate_size=(8 * cfg.d_model) // 3,
            max_position_embeddings=cfg.context,
            attention_dropout=0.0,
            tie_word_embeddings=True,
        )
        return model(config(**shape, **shared))
    raise ValueError(f"config key model.arch: {cfg.arch!r} is not one of {ARCHITECTURES}")


def pick_device() -> torch.device:
    """CUDA when present unless PHYSLM_DEVICE says otherwise; the same code runs on both. On a node
    with several GPUs, each job takes its own (physlm.engine.environment.claim_gpu)."""
    name = device_name() or ("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "PHYSLM_DEVICE: 'cuda', but torch sees no CUDA device here (a CPU build of torch, or no "
            "GPU): unset it or set it to cpu"
        )
    if name == "cuda" and torch.cuda.device_count() > 1:
        return torch.device("cuda", claim_gpu(torch.cuda.device_count()))
    return torch.device(name)


def count_parameters(model: torch.nn.Module) -> int:
    """Distinct parameters (tied embeddings counted once)."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())


LORA_TARGETS = {
    "gpt2": {"attention": ["c_attn"], "embedding": "wte", "fan_in_fan_out": True},  # Conv1D weights
    "llama": {"attention": ["q_proj", "v_proj"], "embedding": "embed_tokens", "fan_in_fan_out": False},
    "qwen3": {"attention": ["q_proj", "v_proj"], "embedding": "embed_tokens", "fan_in_fan_out": False},
}


def add_lora(model: PreTrainedModel, rank: int, embedding_rank: int) -> torch.nn.Module:
    """Wrap with peft LoRA on the query/value maps and the input embedding, as the paper does.

    The output head is untied first: with tied weights, the embedding's LoRA update would be merged
    into the output head too, and the saved model would differ from the one that was trained.
    """
    from peft import LoraConfig, get_peft_model

    targets = LORA_TARGETS[model.config.model_type]
    head = model.get_output_embeddings()
    head.weight = torch.nn.Parameter(head.weight.detach().clone())
    model.config.tie_word_embeddings = False
    lora = LoraConfig(
        r=rank,
        lora_alpha=2 * rank,
        target_modules=[*targets["attention"], targets["embedding"]],
        rank_pattern={targets["embedding"]: embedding_rank},
        alpha_pattern={targets["embedding"]: 2 * embedding_rank},
        lora_dropout=0.0,
        fan_in_fan_out=targets["fan_in_fan_out"],
    )
    with warnings.catch_warnings():
        # peft asks transformers a deprecated question (is_gradient_checkpointing): not ours to fix.
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        return get_peft_model(model, lora)
