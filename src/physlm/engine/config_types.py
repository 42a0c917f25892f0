"""Typed config sections: every JSON section a step receives is decoded here, into one of these.

Snakemake passes each step the sections it needs as JSON (a rule's params, so that a changed setting
reruns exactly the jobs that use it); `decode` turns one into its dataclass, checking the keys and
each value against the config schema (physlm/config.schema.yaml, the one list of types and ranges:
the workflow validates the whole config with it before any job runs, a step called directly checks
its own sections with it), and the CLI uses `decoder` as the argparse type. These types give the
library named fields instead of dicts.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Self, TypeVar

SCHEMA = Path(__file__).resolve().parents[1] / "config.schema.yaml"


@functools.cache
def _validator():
    import jsonschema
    import yaml

    return jsonschema.Draft202012Validator(yaml.safe_load(SCHEMA.read_text()))


def schema_at(pointer: str) -> dict:
    """The part of the config schema at a JSON pointer such as "#/properties/model"."""
    part = _validator().schema
    for key in pointer.removeprefix("#/").split("/"):
        part = part[key]
    return part


def describe(error, at: str = "") -> str:
    """One schema error as a line naming the key (dotted, after `at`) and what is allowed."""
    key = ".".join([*filter(None, [at]), *map(str, error.absolute_path)]) or "(top level)"
    if error.validator == "additionalProperties":
        known = ", ".join(sorted(error.schema.get("properties", {})))
        return f"{key}: {error.message}; allowed keys here: {known}"
    if error.validator == "enum":
        return f"{key}: {error.instance!r} is not one of {error.validator_value}"
    allowed = error.schema.get("description")
    return f"{key}: {error.message}" + (f" ({allowed})" if allowed else "")


def value_problems(pointer: str, section: dict) -> list[str]:
    """What the schema object at `pointer` says is wrong with each value of `section`, key by key
    (a step's section may leave out keys the workflow's holds, such as the probing variants)."""
    properties = schema_at(pointer)["properties"]
    validator = _validator()
    return [
        describe(error, key)
        for key, value in section.items()
        for error in validator.evolve(schema=properties[key]).iter_errors(value)
    ]


class FromSection:
    """Mixin for a frozen dataclass that mirrors a config section: a missing or an unknown key (a
    typo such as "stpes") raises ValueError naming it and the allowed keys, and so does a value the
    schema object at `SCHEMA` (a JSON pointer) refuses, before any work starts."""

    SCHEMA: ClassVar[str | None] = None

    @classmethod
    def from_config(cls, section: dict) -> Self:
        if not isinstance(section, dict):
            raise ValueError(f"{cls.__name__}: expected a JSON object of keys, got {section!r}")
        fields = {f.name: f for f in dataclasses.fields(cls)}
        missing = [
            name
            for name, f in fields.items()
            if name not in section
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        unknown = [name for name in section if name not in fields]
        if missing or unknown:
            problems = [f"missing key(s) {', '.join(missing)}"] * bool(missing)
            problems += [f"unknown key(s) {', '.join(unknown)}"] * bool(unknown)
            allowed = ", ".join(fields)
            raise ValueError(f"{cls.__name__}: {'; '.join(problems)} (allowed: {allowed})")
        given = {k: v for k, v in section.items() if not (v is None and fields[k].default is None)}
        if cls.SCHEMA and (problems := value_problems(cls.SCHEMA, given)):
            raise ValueError("; ".join(problems))
        return cls(**section)


T = TypeVar("T", bound=FromSection)


def decode(kind: type[T], text: str) -> T:
    """A JSON config section as its typed dataclass."""
    return kind.from_config(json.loads(text))


def decoder(kind: type[T]):
    """An argparse `type=` that decodes a JSON option into `kind`."""

    def parse(text: str) -> T:
        try:
            return decode(kind, text)
        except (ValueError, TypeError) as error:  # bad JSON, a missing or unknown key: say which
            raise argparse.ArgumentTypeError(str(error)) from None

    return parse


@dataclass(frozen=True)
class ModelConfig(FromSection):
    """The `model` section: architecture and shape (capacity models override the shape)."""

    SCHEMA = "#/properties/model"

    arch: str
    n_layer: int
    n_head: int
    d_model: int
    context: int

    def __post_init__(self):
        problem = shape_problem(self.arch, self.n_head, self.d_model)
        if problem:
            raise ValueError(f"model: {problem}")


ROTARY = ("llama", "qwen3")  # rotary position embeddings rotate pairs of a head's dimensions


def shape_problem(arch: str, n_head: int, d_model: int) -> str | None:
    """Why a model of this shape cannot be built (None if it can): the width must split into
    `n_head` heads, and a rotary model's head width must be even. Checked by the config check before
    any job runs, and again by ModelConfig for a step called directly."""
    if d_model % n_head:
        return f"d_model={d_model} must be divisible by n_head={n_head}"
    if arch in ROTARY and (d_model // n_head) % 2:
        return f"head width d_model/n_head = {d_model // n_head} must be even for {arch} (rotary embeddings)"
    return None


@dataclass(frozen=True)
class TrainConfig(FromSection):
    """A training section (`pretrain`, `finetune.training`, `manipulation.training`,
    `capacity.training`, `math.training`). `steps` is None where the length follows from the data
    (capacity: one pass over the biographies, set by the train step's `--epochs`). `schedule`:
    `cosine` decays from the end of warmup to the last step; `wsd` (warmup-stable-decay) holds the
    rate and decays linearly over the last `decay_fraction` of the steps, so a run that sits on a loss
    plateau is not already at a low rate when it leaves it."""

    SCHEMA = "#/$defs/training"

    batch_size: int
    lr: float
    final_lr_ratio: float
    warmup_steps: int
    weight_decay: float
    checkpoint_every: int
    log_every: int
    steps: int | None = None
    schedule: str = "cosine"
    decay_fraction: float = 0.2


@dataclass(frozen=True)
class LoraConfig(FromSection):
    """LoRA ranks of a fine-tune: `rank` on the query/value maps, `embedding_rank` on the input
    embedding (the train step's `--lora-config`; the config's finetune.lora_rank and
    finetune.lora_embedding_rank)."""

    SCHEMA = "#/$defs/lora"

    rank: int
    embedding_rank: int


@dataclass(frozen=True)
class BiosConfig(FromSection):
    """The `bios` section: how many people, and the size of each attribute pool."""

    SCHEMA = "#/properties/bios"

    n_people: int
    pools: dict[str, int]


@dataclass(frozen=True)
class ProbeTraining(FromSection):
    """How a probe trains (what physlm.engine.probe.fit reads): steps, batch, the heads' and the
    embedding update's learning rates, weight decay."""

    steps: int
    batch_size: int
    lr: float
    embedding_lr: float
    weight_decay: float


@dataclass(frozen=True, kw_only=True)
class ProbeConfig(ProbeTraining):
    """The `probing` section (minus the variant list): P- and Q-probe ranks, and the training."""

    SCHEMA = "#/properties/probing"

    p_rank: int
    q_rank: int


@dataclass(frozen=True, kw_only=True)
class VProbeConfig(ProbeTraining):
    """The math domain's `vprobe` section: which tasks, queries per problem and task, the rank of the
    embedding update, and the training."""

    SCHEMA = "#/properties/math/properties/vprobe"

    tasks: list[str]
    queries: int
    rank: int


@dataclass(frozen=True, kw_only=True)
class MistakeProbeConfig(ProbeTraining):
    """The math domain's `mistakes` section: random-parameter steps per problem, the rank of the
    embedding update, and the training."""

    SCHEMA = "#/properties/math/properties/mistakes"

    queries: int
    rank: int


@dataclass(frozen=True)
class DecodingConfig(FromSection):
    """The math domain's `decoding` section: k for best of k, resamples allowed per step for the
    retry decoders, the entropy (nats) above which the entropy decoder resamples, the length
    limit of a solution in new tokens; optionally, how many test problems of each op count to decode
    (the retry decoders write one problem at a time, which a GPU-scale test set makes the slowest job
    of the DAG) and how many sequences greedy and best of k generate together."""

    SCHEMA = "#/properties/math/properties/decoding"

    samples: list[int]
    retries: int
    entropy_threshold: float
    max_new_tokens: int
    problems_per_op: int | None = None
    batch_size: int = 64
