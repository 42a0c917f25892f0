# What all rule files use - the validated config, JSON sections for the CLI, cluster resources, the
# code hash that reruns a step when its code changes, and the registries through which a domain adds
# its metrics tables, figures and claims (workflow/rules/results.smk turns them into rules).
import json
import shlex
from pathlib import Path

from physlm.config import check_results_folder, coerce_numbers, validate
from physlm.knowledge.manipulation import TASKS
from physlm.engine.environment import check_environment
from physlm.engine.provenance import code_hash

config.update(coerce_numbers(config))
# Fails before any job runs, naming the key and what is allowed.
validate(
    config
)  # against physlm/config.schema.yaml, which the steps check their sections with
# Every path below starts with <results>, which Snakemake fills with the config's pathvars.results
# (results/<scale>): each scale has its own folder; a scale file that does not name one fails here.
check_results_folder(workflow.overwrite_configfiles)
check_environment()  # a bad PHYSLM_DEVICE, PHYSLM_COMPILE or PHYSLM_TRACKERS, likewise

SEEDS = config["seeds"]


wildcard_constraints:
    seed=r"\d+",
    variant=r"(single|multi[1-9][0-9]*)(_permute)?(_fullname)?(_reverse)?",
    regime=r"mixed|finetune|pretrain",
    task="|".join(TASKS),


def as_json(section):
    """A config section as JSON for a `--X-config` option (quoted with :q in shell commands). Keys
    are sorted: their order in a config file means nothing, and must not make Snakemake rerun a job.
    """
    return json.dumps(
        config[section] if isinstance(section, str) else section, sort_keys=True
    )


def in_results(path):
    """`path` with <results> filled, for a rule's params: Snakemake fills it only in input, output
    and log."""
    return path.replace("<results>", config["pathvars"]["results"])


def code(*modules):
    """A param of every compute rule: the hash of the physlm modules its step runs (and of those
    they import), so an edit reruns exactly the steps whose code it touches."""
    return code_hash(*modules)


def identity(wildcards):
    """The `--identity` of a metrics step: the rule's wildcards, which become the table's identity
    columns (numbers as numbers)."""
    return json.dumps({k: int(v) if v.isdigit() else v for k, v in wildcards.items()})


def table_options(wildcards, input):
    """The `--table NAME=PATH` options of a figure or claim step: its named inputs."""
    return " ".join(f"--table {name}={path}" for name, path in input.items())


def cluster_resources(kind):
    """What a kind of job (train, evaluate, data) asks a cluster for, from the config's resources
    section (the SLURM profile submits with it; a local run uses only threads)."""
    section = config["resources"][kind]
    return {key: section[key] for key in ("mem_mb", "runtime", "gpu")}


def threads(kind):
    return config["resources"][kind]["threads"]


# Every training rule runs this command. Its params say where the model starts (`start`, the
# tokenizer of a fresh model, or a saved model to fine-tune), its shape (`model`), LoRA (`lora`),
# what it trains on (`data`) and how (`options`: the QA share, passes over the data). Settings go
# in plain or wildcard-function params, which Snakemake compares with the last run's to decide a
# rerun; params computed from `input` (start, data) hold only paths, which it does not compare.
TRAIN = (
    "physlm train {params.start} {params.model} {params.lora} "
    "--training-config {params.training:q} {params.data} {params.options} "
    "--seed {wildcards.seed} --threads {threads} --checkpoint {params.checkpoint} "
    "--out-dir {output.model} --log {output.log} > {log} 2>&1"
)


def model_option(model):
    """`model` of a training rule from scratch - the shape `model` (a config section, or a function
    of the wildcards giving one) as --model-config."""

    def option(wildcards):
        shape = model(wildcards) if callable(model) else model
        return f"--model-config {shlex.quote(as_json(shape))}"

    return option


# Registries a domain's rule file fills; workflow/rules/results.smk makes the rules.
# TABLES: a collected metrics table -> the per-run tables it concatenates.
# FIGURES: a figure's name -> how to draw it (figure()); CLAIMS: a claim's name -> claim().
# TRAINING: a domain -> the training logs of its models, each with the identity of its run (a dict).
TABLES, FIGURES, CLAIMS, TRAINING = {}, {}, {}, {}


def figure(plot, tables, caption, category, data):
    """A figure drawn by `plot` ("physlm.<package>.<module>:<function>") from `tables` (its argument
    name -> a collected table), shown in the report under `category` with `caption`; `data` says
    in its footer what it was measured on (people, problems), beside the scale and seeds.
    """
    return dict(plot=plot, tables=tables, caption=caption, category=category, data=data)


def footer(spec):
    """What a figure came from, written at its foot: the scale, its data, the seeds."""
    scale = Path(config["pathvars"]["results"]).name
    seeds = ", ".join(map(str, SEEDS))
    return f"scale {scale} · {spec['data']} · seed{'s' * (len(SEEDS) > 1)} {seeds}"


def claim(function, tables, thresholds):
    """Claim rows computed by `function` ("physlm.<module>:<function>") from `tables`, with the
    thresholds of the config's claims section `thresholds`."""
    return dict(function=function, tables=tables, thresholds=thresholds)


def mixed_training(variant):
    """A mixed run's schedule: pretraining's, for mixed.length times its steps (the augmented
    variant extracts only once it has stored the held-out biographies, which at the default scale
    takes it longer than pretraining: docs/finding2-mixed-training.md)."""
    multiple = config["mixed"].get("length", {}).get(variant, 1)
    return {
        **config["pretrain"],
        "steps": round(multiple * config["pretrain"]["steps"]),
    }
