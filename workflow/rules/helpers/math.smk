# The math rules' helpers (findings 3 and 4). Included by math.smk (Snakemake's lint keeps
# functions out of files with rules).
import dataclasses
import shlex

from physlm.reasoning.igsm_sets import check_math, stage_problems

# The math curriculum, test and probe sets. Each kind of training data ("clean",
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
