"""Config validation: the JSON schema, then checks a schema cannot express.

Errors name the key (dotted path) and what is allowed, and are raised before any job runs.
"""

from __future__ import annotations

from pathlib import Path

import jsonschema
import yaml

from physlm.engine.config_types import SCHEMA, describe, shape_problem
from physlm.knowledge.pools import make_pools


class ConfigError(ValueError):
    """A config value that the pipeline cannot run with."""


def coerce_numbers(value):
    """Turn numeric strings into numbers, recursively.

    Snakemake's `--config key=value` types only top-level scalars: `seeds=[0,1]` or
    `bios={n_people: 50}` arrive as strings inside lists and dicts. Config files are unaffected.
    """
    if isinstance(value, dict):
        return {k: coerce_numbers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [coerce_numbers(v) for v in value]
    if isinstance(value, str):
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def merged(base: dict, over: dict) -> dict:
    """`over` merged into `base`: dicts key by key, anything else (lists included) replaced, as
    Snakemake merges a --configfile over the Snakefile's configfile."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = merged(out[key], value) if both else value
    return out


def scale_config(path: Path) -> dict:
    """A scale file as the workflow runs it: default.yaml of the same folder with the scale file (which
    holds only what differs) merged over it."""
    default = path.with_name("default.yaml")
    config = yaml.safe_load(path.read_text())
    return (
        config if path.resolve() == default.resolve() else merged(yaml.safe_load(default.read_text()), config)
    )


def _read_yaml(path: Path) -> dict:
    """A YAML file's contents; ConfigError naming the file, line and column where YAML cannot read it."""
    try:
        return yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(
            f"{path}{where}: not valid YAML: {getattr(error, 'problem', None) or error}"
        ) from None


def check_config(*, config: Path, default: Path) -> None:
    """Step `check-config`: a config file checked as `snakemake --configfile` would run it (merged over
    the workflow's default.yaml), every problem named: a file YAML cannot read by its line and column
    (Snakemake says only that a config file "is not valid JSON or YAML"), then the schema's and the
    semantic checks."""
    from physlm.reasoning.igsm_sets import check_math

    base = _read_yaml(default)
    full = coerce_numbers(base if config.resolve() == default.resolve() else merged(base, _read_yaml(config)))
    validate(full)
    check_math(full["math"])
    print(f"{config}: valid (merged over {default})")


def check_results_folder(configfiles: list[str]) -> None:
    """Raise ConfigError if config files are given on the command line and none of them says where
    its outputs go (`pathvars.results`): merged over default.yaml, it would write into the default
    scale's folder, overwriting or silently reusing its outputs. A file that sets the folder on
    purpose (a variant of a scale that shares its upstream outputs) passes."""
    named = [(yaml.safe_load(Path(f).read_text()) or {}).get("pathvars") for f in configfiles]
    if not configfiles or any(named):
        return
    files, scale = ", ".join(map(str, configfiles)), Path(configfiles[-1]).stem
    raise ConfigError(
        f"invalid config:\n  config key pathvars.results: not set in {files}, so its outputs would go to "
        f"the default scale's results/default; add `pathvars: {{results: results/{scale}}}`"
    )


def validate(config: dict, schema_path: Path = SCHEMA) -> None:
    """Raise ConfigError listing every problem in `config`."""
    schema = yaml.safe_load(schema_path.read_text())
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.path))
    problems = [f"config key {describe(e)}" for e in errors]
    if not problems:
        problems = _semantic_problems(config)
    if problems:
        raise ConfigError("invalid config:\n  " + "\n  ".join(problems))


def _semantic_problems(config: dict) -> list[str]:
    problems = []
    n_names = make_pools(config["bios"]["pools"], seed=0).n_names
    if config["bios"]["n_people"] > n_names:
        problems.append(
            f"config key bios.n_people: {config['bios']['n_people']} is larger than the "
            f"{n_names} distinct full names bios.pools allows; lower it or enlarge the pools"
        )
    model = config["model"]
    shapes = {"model": model, "math.model": config["math"]["model"]}
    shapes |= {f"capacity.models[{i}]": {**model, **m} for i, m in enumerate(config["capacity"]["models"])}
    for key, shape in shapes.items():
        problem = shape_problem(shape["arch"], shape["n_head"], shape["d_model"])
        if problem:
            problems.append(f"config key {key}: {problem}")
    finetune = config["finetune"]
    for key in ("lora_rank", "lora_embedding_rank"):
        if finetune[key] > model["d_model"]:
            problems.append(
                f"config key finetune.{key}: {finetune[key]} is larger than the model width "
                f"model.d_model={model['d_model']}; a LoRA rank can be at most the width"
            )
    knowledge = config["knowledge"]
    for key, needed in (
        ("finetune_variants", "single"),
        ("finetune_variants", "multi5_permute"),
        ("mixed_variants", "single"),
    ):
        if needed not in knowledge[key]:
            problems.append(f"config key knowledge.{key}: must include {needed!r} (the claim compares it)")
    for variant in config["mixed"].get("length", {}):
        if variant not in knowledge["mixed_variants"]:
            problems.append(
                f"config key mixed.length.{variant}: {variant!r} is not trained mixed; the variants in "
                f"knowledge.mixed_variants are {knowledge['mixed_variants']}"
            )
    for variant, tasks in config["manipulation"]["runs"].items():
        if variant.endswith("_reverse") and not any(t.startswith("inverse") for t in tasks):
            problems.append(
                f"config key manipulation.runs.{variant}: a reversed-biography control needs an inverse "
                "task (inverse_first, inverse1, inverse2 or inverse_all)"
            )
    main = config["manipulation"]["runs"].get("multi5_permute", [])
    if "forward" not in main or not any(t.startswith("inverse") for t in main):
        problems.append(
            "config key manipulation.runs.multi5_permute: must include forward and an inverse task "
            "(the finding 5 claim compares them)"
        )
    names = [m["name"] for m in config["capacity"]["models"]]
    if len(set(names)) < len(names):
        problems.append(f"config key capacity.models: names must be unique, got {names}")
    for needed in ("single", "multi5_permute"):
        if needed not in config["probing"]["variants"]:
            problems.append(f"config key probing.variants: must include {needed!r} (the claim compares it)")
    return problems
