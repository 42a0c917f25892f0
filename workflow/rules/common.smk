import json
import shlex
from pathlib import Path

from physlm import __version__
from physlm.data.manipulation import TASKS
from physlm.config import coerce_numbers, validate

config.update(coerce_numbers(config))
# Fails before any job runs, naming the key and what is allowed.
validate(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")

SEEDS = config["seeds"]
# A param of every compute rule: a new release reruns what it touched.
VERSION = __version__


wildcard_constraints:
    seed=r"\d+",
    variant=r"(single|multi[1-9][0-9]*)(_permute)?(_fullname)?(_reverse)?",
    regime=r"mixed|finetune|pretrain",
    task="|".join(TASKS),


def as_json(section):
    """A config section as JSON for the physlm CLI (quoted with :q in shell commands). Keys are
    sorted: their order in a config file means nothing, and must not make Snakemake rerun a job.
    """
    return json.dumps(
        config[section] if isinstance(section, str) else section, sort_keys=True
    )


def cluster_resources(kind):
    """What a kind of job (train, evaluate, data) asks a cluster for, from the config's resources
    section (the SLURM profile submits with it; a local run uses only threads)."""
    section = config["resources"][kind]
    return {key: section[key] for key in ("mem_mb", "runtime", "gpu")}


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


def lora_option():
    """The train CLI's --lora option (quoted) when fine-tuning with LoRA, else nothing."""
    finetune = config["finetune"]
    if finetune["method"] != "lora":
        return ""
    lora = {
        "rank": finetune["lora_rank"],
        "embedding_rank": finetune["lora_embedding_rank"],
    }
    return f"--lora {shlex.quote(as_json(lora))}"


# Finding 1: a capacity dataset is drawn from a world (people, tokenizer); bioS_simple shares bioS's.
CAP_DATA = "results/capacity/data/N{n}/seed{seed}"
CAP_WORLD = {"bioS": "bioS", "bioS_simple": "bioS", "bioD": "bioD"}


def cap_world(wildcards):
    """The folder of the world a capacity run's dataset comes from."""
    return f"{CAP_DATA}/{CAP_WORLD[wildcards.data]}".format(**wildcards)


def biod_option(world):
    """The --biod option that turns a bioS step into its bioD counterpart, else nothing."""
    if world != "bioD":
        return ""
    return f"--biod {shlex.quote(as_json(config['capacity']['biod']))}"
