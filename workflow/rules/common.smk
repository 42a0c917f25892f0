# What all rule files use - the validated config, JSON sections for the CLI, cluster resources, the
# code hash that reruns a step when its code changes, and the registries through which a domain adds
# its metrics tables, figures and claims (workflow/rules/results.smk turns them into rules).
import dataclasses
import json
import shlex
from pathlib import Path

from physlm.config import check_results_folder, coerce_numbers, validate
from physlm.reasoning.igsm import check_math, stage_problems
from physlm.knowledge.manipulation import TASKS
from physlm.engine.environment import compile_mode
from physlm.engine.provenance import code_hash

config.update(coerce_numbers(config))
# Fails before any job runs, naming the key and what is allowed.
validate(config, Path(workflow.basedir) / "workflow/schemas/config.schema.yaml")
# Every path below starts with <results>, which Snakemake fills with the config's pathvars.results
# (results/<scale>): each scale has its own folder; a scale file that does not name one fails here.
check_results_folder(workflow.overwrite_configfiles)
compile_mode()  # a bad PHYSLM_COMPILE, likewise

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


# Finding 2: which (regime, variant) pairs are trained and evaluated.
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


# Finding 1: the capacity grid.
CAP_DATA = "<results>/capacity/data/N{n}/seed{seed}"
CAP_RUN = "<results>/capacity/{data}/N{n}/E{exposures}/{size}/seed{seed}"
# A dataset is drawn from a world; bioS_simple shares bioS's.
CAP_WORLD = {"bioS": "bioS", "bioS_simple": "bioS", "bioD": "bioD"}
CAP_MODELS = {m["name"]: m for m in config["capacity"]["models"]}


def cap_world(wildcards):
    """The folder of the world a capacity run's dataset comes from."""
    return f"{CAP_DATA}/{CAP_WORLD[wildcards.data]}".format(**wildcards)


def cap_model(wildcards):
    """The model section with the shape of the grid's model `size`."""
    size = CAP_MODELS[wildcards.size]
    return {**config["model"], **{k: size[k] for k in ("n_layer", "n_head", "d_model")}}


def cap_trains(size, n):
    """Whether the grid trains model `size` on N = n people (models may stop at `max_people`)."""
    return n <= CAP_MODELS[size].get("max_people", n)


# Findings 3 and 4: the math curriculum, test and probe sets. Each kind of training data ("clean",
# or "retry<q>": retries at rate q, Part 2.2) trains its own model through the curriculum; the clean
# model is the one probed and decoded.
MATH_DATA = "<results>/math/data/seed{seed}"
MATH_RUN = "<results>/math/seed{seed}"
MATH_MODEL = f"{MATH_RUN}/{{data}}"
STAGES = config["math"]["curriculum"]
MATH_VARIANTS = ["clean"] + [f"retry{q}" for q in config["math"]["retry_rates"]]
LAST_STAGE = f"{MATH_MODEL}/stage{len(STAGES)}/model"
CLEAN_MODEL = LAST_STAGE.replace("{data}", "clean")
# Fails before any job when a stage or the test set asks for more operations than its knobs allow.
check_math(config["math"])


def math_set(name):
    """(knobs, problem set) of a held-out set: the test set (the last stage's knobs, equal numbers
    of each op up to test.max_op, beyond the training ops); the probe set (the last stage's knobs
    and ops, problems the model never saw). Training problems are drawn while training.
    """
    last = STAGES[-1]
    if name == "test":
        test = config["math"]["test"]
        problems = test["problems_per_op"] * test["max_op"]
        return last["knobs"], {
            "split": "test",
            "problems": problems,
            "max_op": test["max_op"],
            "op_distribution": "each",
        }
    return last["knobs"], {
        "split": "test",
        "problems": config["math"]["probe_problems"],
        "max_op": last["max_op"],
        "op_distribution": "uniform",
    }


def math_stage_data(wildcards):
    """A stage's training problems (drawn while training): its knobs and problem set, retries at
    the data's rate; retry data trains for the clean data's tokens (Part 2.2)."""
    stage = STAGES[int(wildcards.stage) - 1]
    retry = (
        float(wildcards.data.removeprefix("retry"))
        if wildcards.data != "clean"
        else 0.0
    )
    problems = dataclasses.asdict(stage_problems(stage, retry))
    equal = " --equal-tokens" if retry else ""
    return (
        f"--knobs-config {shlex.quote(as_json(stage['knobs']))} "
        f"--problems-config {shlex.quote(as_json(problems))}{equal}"
    )


def math_start(wildcards):
    """Stage 1 starts from the tokenizer, every later stage from the stage before."""
    if wildcards.stage == "1":
        return {"tokenizer": "<results>/math/tokenizer"}
    return {
        "init": f"{MATH_MODEL}/stage{int(wildcards.stage) - 1}/model".format(
            **wildcards
        )
    }


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
