"""Command line: one subcommand per pipeline step. Snakemake rules call these; so can people.

Each subcommand parses its options and calls one library function, whose keyword arguments the
options are named after. Options follow one scheme: `--X-dir` is a folder (a world, a tokenizer, a
saved model), `--X-config` is a JSON config section (decoded into its dataclass in
physlm.engine.config_types), `--identity` is the JSON of the rule's wildcards, and every other path
is a Parquet table.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from physlm import __version__
from physlm.engine.config_types import (
    BiosConfig,
    DecodingConfig,
    LoraConfig,
    MistakeProbeConfig,
    ModelConfig,
    ProbeConfig,
    TrainConfig,
    VProbeConfig,
    decoder,
)
from physlm.engine.environment import check_environment
from physlm.knowledge.biod import BioD
from physlm.knowledge.manipulation import COLUMNS as TASK_COLUMNS
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import LABEL_COLUMNS, PROBLEM_COLUMNS, ProblemSet


class Written(type(Path())):
    """A path a step writes; every other path option is an input, which must exist before it runs."""


def _table(what: str, columns: list[str]):
    """An argparse `type=` for a Parquet input: a table that lacks `columns` is refused, saying what
    it should have been and what it holds (a missing file is left to `missing_inputs`)."""

    def parse(text: str) -> Path:
        path = Path(text)
        if path.is_file():
            import pyarrow.parquet

            try:
                names = pyarrow.parquet.read_schema(path).names
            except (OSError, ValueError):
                raise argparse.ArgumentTypeError(f"{path} is not a Parquet table; expected {what}") from None
            if missing := [c for c in columns if c not in names]:
                raise argparse.ArgumentTypeError(
                    f"{path} is not {what}: no column(s) {', '.join(missing)} (it has {', '.join(names)})"
                )
        return path

    return parse


BIOS = _table("a biographies table (`physlm biographies`)", ["person_id", "text"])
QA = _table("a QA table (`physlm people --qa`, `physlm task`)", ["prompt", "answer", "split"])
TASK = _table("a task table (`physlm task`)", TASK_COLUMNS)
PROBLEMS = _table("an iGSM problem table (`physlm problems --out`)", PROBLEM_COLUMNS)
PARAMS = _table("an iGSM label table (`physlm problems --params-out`)", ["problem", *LABEL_COLUMNS])
SOLUTIONS = _table("judged solutions (`physlm evaluate-math --solutions-out`)", ["problem", "op", "solution"])


def _number(kind: type, low: float, strict: bool = False, high: float | None = None):
    """An argparse `type=` for a number option: an int or float at least `low` (above it with
    `strict`; below `high` when given), or a one-line refusal saying what is allowed."""
    allowed = f"{'>' if strict else '>='} {low}" + (f" and < {high}" if high is not None else "")

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not {'an integer' if kind is int else 'a number'}"
            ) from None
        if value < low or (strict and value == low) or (high is not None and value >= high):
            raise argparse.ArgumentTypeError(f"{value}: allowed {allowed}")
        return value

    return parse


SEED, COUNT = _number(int, 0), _number(int, 1)


class _Parser(argparse.ArgumentParser):
    """Refuses a bad option in one line (the step, the option, what is allowed) instead of the usage
    block, which for a step of twenty options buries the line that matters."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: {message} (options: {self.prog} --help)\n")


def _step(steps, name: str, function: str, help: str) -> argparse.ArgumentParser:
    """A subcommand that calls `function` ("module:name", imported only when this step runs)."""
    p = steps.add_parser(name, help=help, allow_abbrev=False)
    p.set_defaults(call=function)
    return p


class _NamedPaths(argparse.Action):
    """`--table NAME=PATH`, repeatable, collected into {NAME: PATH}."""

    def __call__(self, parser, namespace, value, option_string=None):
        name, sep, path = value.partition("=")
        if not sep:
            parser.error(f"{option_string}: expected NAME=PATH, got {value!r}")
        setattr(namespace, self.dest, {**(getattr(namespace, self.dest) or {}), name: Path(path)})


def _metrics_options(p: argparse.ArgumentParser) -> None:
    """Options of every step that writes a metrics table."""
    p.add_argument("--identity", type=json.loads, required=True, help="JSON of the run's wildcards")
    p.add_argument("--threads", type=COUNT, default=1)
    p.add_argument("--out", type=Written, required=True)


def _data_steps(steps) -> None:
    p = _step(steps, "people", "physlm.knowledge.worlds:write_world", "draw a bioS (or bioD) world")
    p.add_argument("--bios-config", type=decoder(BiosConfig), required=True)
    p.add_argument("--biod-config", type=decoder(BioD), help="bioD knobs: a bioD world instead of bioS")
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--out-dir", type=Written, required=True, help="the world's folder")
    p.add_argument("--qa", type=Written, help="also write its QA pairs here (bioS)")

    p = _step(steps, "biographies", "physlm.knowledge.worlds:write_biographies", "one variant's biographies")
    p.add_argument("--world-dir", type=Path, required=True)
    p.add_argument("--variant", required=True, help="single | multiM, then _permute, _fullname, _reverse")
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--out", type=Written, required=True)

    p = _step(steps, "tokenizer", "physlm.knowledge.worlds:write_tokenizer", "a world's word-level tokenizer")
    p.add_argument("--world-dir", type=Path, required=True)
    p.add_argument("--out-dir", type=Written, required=True)

    p = _step(steps, "task", "physlm.knowledge.manipulation:write_task", "a knowledge manipulation task")
    p.add_argument("--world-dir", type=Path, required=True)
    p.add_argument("--task", required=True, help="a task name (physlm.knowledge.manipulation.TASKS)")
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--pairs-per-person", type=COUNT, default=4, help="comparison partners per person")
    p.add_argument("--out", type=Written, required=True)

    p = _step(steps, "bench-bios", "physlm.knowledge.bios:bench", "time the bioS generator")
    p.add_argument("--n", type=COUNT, default=100_000, help="number of people")
    p.add_argument("--variant", default="single")

    p = _step(
        steps, "problems", "physlm.reasoning.igsm_sets:write_problems", "an iGSM problem set with its labels"
    )
    p.add_argument("--knobs-config", dest="knobs", type=decoder(Knobs), required=True)
    p.add_argument("--problems-config", dest="problems", type=decoder(ProblemSet), required=True)
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--threads", type=COUNT, default=1)
    p.add_argument("--out", type=Written, required=True, help="the problems")
    p.add_argument("--params-out", type=Written, required=True, help="per-parameter probe labels")

    p = _step(
        steps, "igsm-tokenizer", "physlm.reasoning.igsm_sets:write_tokenizer", "the iGSM world's tokenizer"
    )
    p.add_argument("--out-dir", type=Written, required=True)

    p = _step(steps, "bench-igsm", "physlm.reasoning.igsm_sets:bench", "time the iGSM generator")
    p.add_argument("--n", type=COUNT, default=100_000, help="number of problems")
    p.add_argument("--threads", type=COUNT, default=2)
    p.add_argument("--max-ip", type=COUNT, default=20, help="instance parameters at most (iGSM-med: 20)")
    p.add_argument("--max-op", type=COUNT, default=15, help="operations at most (iGSM-med: 15)")


def _train_step(steps) -> None:
    p = _step(steps, "train", "physlm.cli:train", "pretrain, mix-train or fine-tune a model")
    start = p.add_mutually_exclusive_group(required=True)
    start.add_argument("--model-config", type=decoder(ModelConfig), help="train from scratch")
    start.add_argument("--init-dir", type=Path, help="a saved model to continue from (fine-tuning)")
    p.add_argument("--tokenizer-dir", type=Path, help="with --model-config: the world's tokenizer")
    p.add_argument("--training-config", type=decoder(TrainConfig), required=True)
    p.add_argument("--bios", type=BIOS, help="biographies to train on")
    p.add_argument("--qa", type=QA, help="QA pairs (or a task table); only the train split is used")
    p.add_argument(
        "--qa-ratio",
        type=_number(float, 0, strict=True, high=1),
        default=0.8,
        help="QA share of tokens when mixing",
    )
    p.add_argument(
        "--epochs",
        type=_number(float, 0, strict=True),
        help="this many passes over --bios (instead of steps)",
    )
    p.add_argument("--lora-config", type=decoder(LoraConfig), help="LoRA ranks; full training if absent")
    p.add_argument(
        "--knobs-config", dest="knobs", type=decoder(Knobs), help="iGSM knobs (with --problems-config)"
    )
    p.add_argument(
        "--problems-config",
        dest="problem_set",
        type=decoder(ProblemSet),
        help="iGSM problems to train on (alone), drawn while training: split, op range and mix, retry",
    )
    p.add_argument(
        "--loss-on-all",
        dest="solution_only",
        action="store_false",
        help="with --problems-config: loss on every token",
    )
    p.add_argument(
        "--equal-tokens",
        action="store_true",
        help="with --problems-config: the tokens the steps would take on the same problems without retries",
    )
    p.add_argument(
        "--decision-weight",
        type=_number(float, 0, strict=True),
        default=1.0,
        help="with --problems-config: the loss weight of the token after each solution step's period",
    )
    p.add_argument(
        "--curve-problems", type=PROBLEMS, help="held-out problems: learning curves at each checkpoint"
    )
    p.add_argument("--curves-per-op", type=COUNT, default=20, help="problems per op the curves read")
    p.add_argument(
        "--curves-out",
        type=Written,
        help="learning curves at each checkpoint: with --curve-problems, math; with --qa, QA and bio recall",
    )
    p.add_argument(
        "--curves-identity", type=json.loads, default={}, help="JSON: the curves' identity columns"
    )
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--threads", type=COUNT, default=1)
    p.add_argument("--checkpoint", type=Written, required=True, help="resumable state, kept until done")
    p.add_argument("--out-dir", type=Written, required=True, help="the saved model's folder")
    p.add_argument("--log", type=Written, required=True, help="Parquet of loss and tokens/s")


def _knowledge_measure_steps(steps) -> None:
    """The measuring steps of the knowledge domain: QA and tasks, probes, bits."""
    p = _step(steps, "evaluate", "physlm.knowledge.qa:evaluate_qa", "QA accuracy and bio recall")
    p.add_argument("--model-dir", type=Path, required=True)
    p.add_argument("--qa", type=QA, required=True)
    p.add_argument("--bios", type=BIOS, required=True, help="biographies the model was trained on")
    p.add_argument("--world-dir", type=Path, required=True)
    p.add_argument("--batch-size", type=COUNT, default=256)
    _metrics_options(p)

    p = _step(steps, "evaluate-task", "physlm.knowledge.qa:evaluate_task", "accuracy on a manipulation task")
    p.add_argument("--model-dir", type=Path, required=True)
    p.add_argument("--task-table", type=TASK, required=True, help="written by `physlm task`")
    p.add_argument("--batch-size", type=COUNT, default=256)
    _metrics_options(p)

    p = _step(
        steps, "probe", "physlm.knowledge.probing:probe", "P- and Q-probe a model against its random init"
    )
    p.add_argument("--model-dir", type=Path, required=True, help="a pretrained model")
    p.add_argument("--model-config", type=decoder(ModelConfig), required=True, help="its shape")
    p.add_argument("--probing-config", type=decoder(ProbeConfig), required=True)
    p.add_argument("--bios", type=BIOS, required=True, help="the biographies the model was trained on")
    p.add_argument("--world-dir", type=Path, required=True)
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument(
        "--names-baseline", type=Path, help="the random-init Q-probe from probe-names (else computed here)"
    )
    _metrics_options(p)

    p = _step(
        steps,
        "probe-names",
        "physlm.knowledge.probing:probe_names",
        "Q-probe the random-init model once per seed (it reads names only)",
    )
    p.add_argument("--tokenizer-dir", type=Path, required=True, help="the world's tokenizer")
    p.add_argument(
        "--model-config", type=decoder(ModelConfig), required=True, help="the probed models' shape"
    )
    p.add_argument("--probing-config", type=decoder(ProbeConfig), required=True)
    p.add_argument("--world-dir", type=Path, required=True)
    p.add_argument("--seed", type=SEED, required=True)
    _metrics_options(p)

    p = _step(
        steps, "capacity-bits", "physlm.knowledge.capacity:capacity_bits", "bits of knowledge per parameter"
    )
    p.add_argument("--model-dir", type=Path, required=True)
    p.add_argument("--bios", type=BIOS, required=True, help="the biographies the model was trained on")
    p.add_argument("--world-dir", type=Path, required=True)
    p.add_argument("--quantization", nargs="+", default=["none", "int8", "int4"])
    p.add_argument("--batch-size", type=COUNT, default=64, help="biographies scored in one forward pass")
    _metrics_options(p)


def _math_measure_steps(steps) -> None:
    """The measuring steps of the reasoning domain: solving, curves, probes, attention, decoding."""
    p = _step(
        steps, "evaluate-math", "physlm.reasoning.solutions:evaluate_math", "solve iGSM problems, judged"
    )
    p.add_argument("--model-dir", type=Path, required=True)
    p.add_argument("--problems", type=PROBLEMS, required=True, help="held-out problems (test split)")
    p.add_argument("--train-max-op", type=COUNT, required=True, help="ops above this are out of distribution")
    p.add_argument("--solutions-out", type=Written, required=True, help="every judged solution")
    p.add_argument("--batch-size", type=COUNT, default=64)
    _metrics_options(p)

    p = _step(
        steps, "math-curves", "physlm.reasoning.curves:measure_curves", "learning-curve measures of one model"
    )
    p.add_argument("--model-dir", type=Path, required=True, help="a trained math model")
    p.add_argument("--problems", type=PROBLEMS, required=True, help="held-out problems (test split)")
    p.add_argument("--per-op", type=COUNT, default=20, help="read the first this many problems of each op")
    p.add_argument("--train-max-op", type=COUNT, required=True, help="ops above this are out of distribution")
    _metrics_options(p)

    p = _step(
        steps, "vprobe", "physlm.reasoning.vprobe:vprobe", "V-probe a math model against its random init"
    )
    p.add_argument("--model-dir", type=Path, required=True, help="a trained math model")
    p.add_argument("--model-config", type=decoder(ModelConfig), required=True, help="its shape")
    p.add_argument("--vprobe-config", type=decoder(VProbeConfig), required=True)
    p.add_argument("--problems", type=PROBLEMS, required=True, help="problems the model was not trained on")
    p.add_argument("--params", type=PARAMS, required=True, help="their per-parameter labels")
    p.add_argument("--seed", type=SEED, required=True)
    _metrics_options(p)

    p = _step(
        steps,
        "math-attention",
        "physlm.reasoning.attention:math_attention",
        "attention on necessary statements",
    )
    _against_random_init(p)
    p.add_argument("--count", type=COUNT, required=True, help="read the first this many problems")
    p = _step(
        steps,
        "math-decision",
        "physlm.reasoning.decision:math_decision",
        "end or go on after each step, and where the model looks",
    )
    _against_random_init(p)

    _mistake_steps(steps)


def _against_random_init(p) -> None:
    """The options of a step that reads a trained math model beside a random-init one of its shape."""
    p.add_argument("--model-dir", type=Path, required=True, help="a trained math model")
    p.add_argument("--model-config", type=decoder(ModelConfig), required=True, help="its shape")
    p.add_argument("--problems", type=PROBLEMS, required=True, help="problems the model was not trained on")
    p.add_argument("--params", type=PARAMS, required=True, help="their per-parameter labels")
    p.add_argument("--seed", type=SEED, required=True, help="seed of the random-init model")
    _metrics_options(p)


def _mistake_steps(steps) -> None:
    """The steps of finding 3: the mistake probe, and decoding that uses it."""
    p = _step(
        steps,
        "mistake-probe",
        "physlm.reasoning.mistakes:mistake_probe",
        "does a math model flag its mistakes?",
    )
    p.add_argument("--model-dir", type=Path, required=True, help="a trained math model")
    p.add_argument("--model-config", type=decoder(ModelConfig), required=True, help="its shape")
    p.add_argument("--probe-config", type=decoder(MistakeProbeConfig), required=True)
    p.add_argument("--probe-problems", type=PROBLEMS, required=True, help="problems to train the probe on")
    p.add_argument("--probe-params", type=PARAMS, required=True, help="their per-parameter labels")
    p.add_argument("--test-problems", type=PROBLEMS, required=True, help="the problems the model solved")
    p.add_argument("--test-params", type=PARAMS, required=True, help="their per-parameter labels")
    p.add_argument("--solutions", type=SOLUTIONS, required=True, help="its judged solutions (evaluate-math)")
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--scores-out", type=Written, required=True, help="every step's score per detector")
    p.add_argument("--probe-out", type=Written, required=True, help="the trained probe (for decoding)")
    _metrics_options(p)

    p = _step(
        steps,
        "decode",
        "physlm.reasoning.decoding:decode_with",
        "solve with one decoder, judged, with its cost",
    )
    p.add_argument("--decoder", required=True, help="greedy, best_of, probe_retry or entropy_retry")
    p.add_argument("--model-dir", type=Path, required=True, help="a trained math model")
    p.add_argument("--decoding-config", type=decoder(DecodingConfig), required=True)
    p.add_argument("--probe-config", type=decoder(MistakeProbeConfig), help="the probe's shape (probe_retry)")
    p.add_argument("--probe", type=Path, help="the trained mistake probe (mistake-probe; probe_retry)")
    p.add_argument("--problems", type=PROBLEMS, required=True, help="held-out problems (test split)")
    p.add_argument(
        "--greedy-solutions",
        type=SOLUTIONS,
        help="greedy: the model's judged solutions from evaluate-math (the same greedy decoding)",
    )
    p.add_argument("--seed", type=SEED, required=True)
    p.add_argument("--solutions-out", type=Written, required=True, help="every judged solution per decoder")
    _metrics_options(p)


def _collect_steps(steps) -> None:
    """Steps that gather a kind of table from every run."""
    p = _step(steps, "collect", "physlm.engine.artifacts:collect", "concatenate metrics tables of one kind")
    p.add_argument("tables", type=Path, nargs="+")
    p.add_argument("--out", type=Written, required=True)

    p = _step(steps, "collect-logs", "physlm.engine.artifacts:collect_logs", "training logs with their runs")
    p.add_argument("tables", type=Path, nargs="+")
    p.add_argument("--identities", required=True, help="a JSON list: each log's run, in order")
    p.add_argument("--out", type=Written, required=True)


def _result_steps(steps) -> None:
    table_help = "NAME=PATH: a table the function takes as its argument NAME (repeatable)"
    p = _step(steps, "figure", "physlm.results:draw", "draw a figure (PDF and PNG)")
    p.add_argument("--plot", required=True, help="the figure function, physlm.<module>:<function>")
    p.add_argument("--table", dest="tables", action=_NamedPaths, required=True, help=table_help)
    p.add_argument("--out", dest="outputs", type=Written, nargs="+", required=True)
    p.add_argument("--footer", default="", help="what the figure came from (scale, data, seeds)")

    p = _step(steps, "claim", "physlm.results:claim", "a domain's claim rows with their verdicts")
    p.add_argument("--function", required=True, help="the claim function, physlm.<module>:<function>")
    p.add_argument("--table", dest="tables", action=_NamedPaths, required=True, help=table_help)
    p.add_argument("--thresholds-config", dest="thresholds", required=True, help="the claim's thresholds")
    p.add_argument("--out", type=Written, required=True)

    p = _step(
        steps,
        "check-config",
        "physlm.config:check_config",
        "check a scale's config file, naming each problem",
    )
    p.add_argument("config", type=Path, help="a config file, e.g. workflow/config/smoke.yaml")
    default = Path("workflow/config/default.yaml")
    p.add_argument("--default", type=Path, default=default, help=f"what it is merged over ({default})")

    p = _step(steps, "status", "physlm.engine.progress:status", "where every training under a folder stands")
    p.add_argument("results", type=Path, help="a results folder, e.g. results/default")

    p = _step(
        steps, "bench", "physlm.bench.speed:bench", "training and evaluation speed against the matmul peak"
    )
    p.add_argument(
        "--config", type=Path, default=Path("workflow/config/default.yaml"), help="a scale's config"
    )
    p.add_argument("--out", type=Written, required=True, help="the table of rates")
    p.add_argument("--steps", type=COUNT, default=20, help="timed training steps per model")
    p.add_argument(
        "--warmup", type=_number(int, 0), default=5, help="untimed steps first (--steps: a multiple of it)"
    )
    p.add_argument("--threads", type=COUNT, default=1, help="CPU threads")
    p.add_argument("--questions", type=COUNT, default=1000, help="QA questions to answer")
    p.add_argument("--problems", type=COUNT, default=64, help="math problems to solve")
    p.add_argument("--together", type=COUNT, default=1, help="also train this many capacity models at once")
    p.add_argument(
        "--repeats", type=COUNT, default=1, help="time each training run this many times, in rounds (medians)"
    )
    p.add_argument(
        "--compile",
        dest="compile_mode",
        metavar="MODE",
        help="also time the pipeline compiled in this torch.compile mode, e.g. reduce-overhead",
    )

    p = _step(steps, "claims", "physlm.engine.verdict:write_claims", "the claims table of every domain")
    p.add_argument("rows", type=Path, nargs="+", help="claim rows written by `physlm claim`")
    p.add_argument("--markdown", type=Written, required=True)
    p.add_argument("--parquet", type=Written, required=True)
    p.add_argument("--html", type=Written, help="also write the table as a web page (for the report)")


def parser() -> argparse.ArgumentParser:
    top = _Parser(prog="physlm", description=__doc__, allow_abbrev=False)
    top.add_argument("--version", action="version", version=__version__)
    steps = top.add_subparsers(dest="step", required=True)
    measure = (_knowledge_measure_steps, _math_measure_steps, _collect_steps)
    for add in (_data_steps, _train_step, *measure, _result_steps):
        add(steps)
    return top


def _paths(args: dict) -> list[tuple[str, Path]]:
    """(option, path) of every path among a step's options, lists and NAME=PATH maps included."""
    paths = []
    for key, value in args.items():
        values = value.values() if isinstance(value, dict) else value if isinstance(value, list) else [value]
        paths += [("--" + key.replace("_", "-"), v) for v in values if isinstance(v, Path)]
    return paths


def _remove_new(outputs: list[Path]) -> None:
    """Remove the outputs (and the provenance beside each) that a refused step wrote: a step that
    fails on bad input leaves nothing that a rerun or a reader could take for a result."""
    import shutil

    from physlm.engine.provenance import beside

    for path in outputs:
        for written in (beside(path), path):
            if written.is_dir():
                shutil.rmtree(written)
            else:
                written.unlink(missing_ok=True)


def missing_inputs(args: dict) -> list[str]:
    """The input paths among a step's options that do not exist."""
    return [f"{option} {p}" for option, p in _paths(args) if not isinstance(p, Written) and not p.exists()]


# The options every training takes (physlm.engine.fit.TrainingRun's fields, by option name).
RUN_OPTIONS = {
    "training_config": "training",
    "seed": "seed",
    "checkpoint": "checkpoint",
    "out_dir": "out_dir",
    "log": "log",
    "tokenizer_dir": "tokenizer_dir",
    "model_config": "model",
    "init_dir": "init_dir",
    "lora_config": "lora",
    "threads": "threads",
}
CURVE_OPTIONS = {"curve_problems": "problems", "curves_out": "out", "curves_per_op": "per_op"}
CURVE_OPTIONS |= {"curves_identity": "identity"}
KNOWLEDGE_OPTIONS = ("bios", "qa", "qa_ratio", "epochs", "curves_out", "curves_identity")


def train(**options) -> None:
    """Step `train`: iGSM problems (--problems-config) go to the math training, biographies and QA
    pairs to the knowledge one (two modules, so that each domain's trainings rerun only on its own
    code's edits)."""
    from physlm.engine.fit import TrainingRun

    run = TrainingRun(**{field: options.pop(option) for option, field in RUN_OPTIONS.items()})
    if options["problem_set"] is None:
        from physlm.knowledge.train import fit_knowledge

        if options["decision_weight"] != 1.0:
            raise ValueError("--decision-weight weighs solution steps: it needs --problems-config")
        if options["curve_problems"] is not None:
            raise ValueError("--curve-problems are iGSM problems: they need --problems-config")

        return fit_knowledge(run, **{k: options[k] for k in KNOWLEDGE_OPTIONS})
    if options["bios"] is not None or options["qa"] is not None:
        raise ValueError("math problems are trained on alone: drop the biographies and QA pairs")
    from physlm.reasoning.curves import CurvesSpec
    from physlm.reasoning.train import fit_math

    curves = {field: options.pop(option) for option, field in CURVE_OPTIONS.items()}
    return fit_math(
        run,
        knobs=options["knobs"],
        problem_set=options["problem_set"],
        solution_only=options["solution_only"],
        equal_tokens=options["equal_tokens"],
        decision_weight=options["decision_weight"],
        curves=CurvesSpec(**curves) if curves["problems"] is not None else None,
    )


def main(argv: list[str] | None = None) -> None:
    # physlm never downloads: a model folder that is not there is an error, not a hub repo id
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from physlm.engine.provenance import recording
    from physlm.results import resolve

    args = vars(parser().parse_args(argv))
    step, function = args.pop("step"), args.pop("call")
    if missing := missing_inputs(args):
        raise SystemExit(f"physlm {step}: no such file or folder: {'; '.join(missing)}")
    try:
        check_environment()
    except ValueError as error:
        raise SystemExit(f"physlm {step}: {error}") from None
    new = [p for _, p in _paths(args) if isinstance(p, Written) and not p.exists()]
    with recording({"step": step, "code": [function.partition(":")[0]], **args}):
        try:
            resolve(function)(**args)
        except ValueError as error:  # bad input the library refused: say which step, no traceback
            _remove_new(new)
            raise SystemExit(f"physlm {step}: {error}") from None


if __name__ == "__main__":
    main(sys.argv[1:])
