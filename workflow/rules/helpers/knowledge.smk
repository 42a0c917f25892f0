# The knowledge rules' helpers (finding 2; manipulation fine-tunes the same way): LoRA, and which
# (regime, variant) pairs the config asks for. Included by knowledge.smk (Snakemake's lint keeps
# functions out of files with rules).
import shlex


def lora_option():
    """The train step's --lora-config (quoted) when fine-tuning with LoRA, else nothing."""
    finetune = config["finetune"]
    if finetune["method"] != "lora":
        return ""
    lora = {
        "rank": finetune["lora_rank"],
        "embedding_rank": finetune["lora_embedding_rank"],
    }
    return f"--lora-config {shlex.quote(as_json(lora))}"


# Which (regime, variant) pairs are trained and evaluated.
def knowledge_settings():
    """(regime, variant) pairs the config asks for. Each pretrained model is evaluated too, before
    fine-tuning, so that bio recall shows whether fine-tuning erased what pretraining stored.
    """
    finetuned = config["knowledge"]["finetune_variants"]
    return (
        [("mixed", v) for v in config["knowledge"]["mixed_variants"]]
        + [("pretrain", v) for v in finetuned]
        + [("finetune", v) for v in finetuned]
    )
