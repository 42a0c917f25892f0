import copy
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from smk import copy_workflow

from physlm.config import ConfigError, coerce_numbers, merged, scale_config, validate
from physlm.reasoning.decoding import DECODERS

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "src" / "physlm" / "config.schema.yaml"
SCALES = ["smoke", "default", "mid", "gpu", "paper"]


def load(scale: str) -> dict:
    """A scale's config as the workflow runs it (merged over default.yaml)."""
    return scale_config(ROOT / "workflow" / "config" / f"{scale}.yaml")


@pytest.mark.parametrize("scale", SCALES)
def test_every_scale_is_valid(scale):
    validate(load(scale), SCHEMA)


def test_a_scale_merges_over_the_default_as_snakemake_merges_it():
    from snakemake.utils import update_config

    default = yaml.safe_load((ROOT / "workflow" / "config" / "default.yaml").read_text())
    for scale in SCALES:
        expected = copy.deepcopy(default)
        update_config(expected, yaml.safe_load((ROOT / "workflow" / "config" / f"{scale}.yaml").read_text()))
        assert load(scale) == expected
    assert merged({"a": {"b": 1, "c": [1, 2]}, "d": 0}, {"a": {"c": [3]}}) == {
        "a": {"b": 1, "c": [3]},
        "d": 0,
    }


@pytest.mark.parametrize("scale", [s for s in SCALES if s != "default"])
def test_a_scale_file_holds_only_what_differs_from_the_default(scale):
    default = yaml.safe_load((ROOT / "workflow" / "config" / "default.yaml").read_text())
    own = yaml.safe_load((ROOT / "workflow" / "config" / f"{scale}.yaml").read_text())

    def repeated(mine, theirs, path=""):
        if isinstance(mine, dict) and isinstance(theirs, dict):
            return [r for k, v in mine.items() if k in theirs for r in repeated(v, theirs[k], f"{path}.{k}")]
        return [path] if mine == theirs else []

    assert repeated(own, default) == []


def _error(config: dict) -> str:
    with pytest.raises(ConfigError) as info:
        validate(config, SCHEMA)
    return str(info.value)


def dry_run(tmp_path: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`snakemake -n ARGS` in a copy of the workflow (with `env` added to the environment): plans the
    DAG, runs nothing."""
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", *args]
    workdir, environment = copy_workflow(tmp_path), {**os.environ, **(env or {})}
    return subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=environment)


def test_unknown_key_is_named_with_the_allowed_keys():
    config = load("smoke")
    config["pretrain"]["learning_rate"] = 0.1
    message = _error(config)
    assert "config key pretrain" in message and "'learning_rate' was unexpected" in message
    assert "allowed keys here: batch_size, checkpoint_every" in message


def test_wrong_type_negative_rate_and_bad_enum_are_named():
    config = load("smoke")
    config["bios"]["n_people"] = "many"
    config["pretrain"]["lr"] = -1e-3
    config["model"]["arch"] = "mamba"
    message = _error(config)
    assert "config key bios.n_people: 'many' is not of type 'integer'" in message
    assert "config key pretrain.lr: -0.001 is less than or equal to the minimum of 0" in message
    assert "config key model.arch: 'mamba' is not one of ['gpt2', 'llama', 'qwen3']" in message


def test_more_people_than_names_is_rejected():
    config = copy.deepcopy(load("smoke"))
    config["bios"]["n_people"] = 10**9
    assert "config key bios.n_people: 1000000000 is larger than the" in _error(config)


def test_lora_rank_above_the_width_and_qa_share_outside_zero_one_are_rejected():
    config = copy.deepcopy(load("smoke"))
    config["finetune"]["lora_embedding_rank"] = config["model"]["d_model"] + 1
    assert "config key finetune.lora_embedding_rank: 33 is larger than the model width" in _error(config)
    for share in (0, 1, 1.5):
        config = copy.deepcopy(load("smoke"))
        config["mixed"]["qa_ratio"] = share
        assert "config key mixed.qa_ratio" in _error(config)


def test_model_shapes_that_cannot_be_built_are_rejected_in_every_model_section():
    config = copy.deepcopy(load("smoke"))
    config["model"]["n_head"] = 3  # width 32 does not split into 3 heads
    config["math"]["model"] = {**config["math"]["model"], "n_head": 2, "d_model": 6}  # rotary head width 3
    config["capacity"]["models"][0] = {**config["capacity"]["models"][0], "n_head": 5}
    message = _error(config)
    assert "config key model: d_model=32 must be divisible by n_head=3" in message
    assert "config key math.model: head width d_model/n_head = 3 must be even" in message
    assert "config key capacity.models[0]: d_model=" in message and "must be divisible by n_head=5" in message


def test_a_mixed_length_for_a_variant_not_trained_mixed_is_rejected():
    config = copy.deepcopy(load("smoke"))
    config["mixed"]["length"] = {"multi5": 2}
    assert (
        "config key mixed.length.multi5: 'multi5' is not trained mixed; the variants in "
        "knowledge.mixed_variants are ['single', 'multi5_permute']"
    ) in _error(config)
    config["mixed"]["length"] = {"multi5_permute": 0}
    assert "config key mixed.length.multi5_permute" in _error(config)


def test_mixed_runs_take_their_length_in_pretraining_steps(tmp_path):
    """The default doubles multi5_permute's mixed run (2 x 2,540) and leaves single's at 2,540."""
    result = dry_run(
        tmp_path,
        "--printshellcmds",
        *(
            f"results/default/knowledge/{variant}/seed0/mixed/model"
            for variant in ("single", "multi5_permute")
        ),
    )
    assert result.returncode == 0, result.stderr
    steps = {
        variant: n
        for n, variant in re.findall(r'"steps": (\d+).*--bios \S+/bios/(\w+)\.parquet --qa', result.stdout)
    }
    assert steps == {"single": "2540", "multi5_permute": "5080"}


def test_manipulation_and_probing_settings_are_checked():
    config = copy.deepcopy(load("smoke"))
    config["manipulation"]["runs"]["multi5_permute"] = ["forward", "mod7"]
    assert "config key manipulation.runs.multi5_permute.1: 'mod7' is not one of" in _error(config)
    config["manipulation"]["runs"] = {"multi5_permute": ["forward"], "single_reverse": ["parity"]}
    config["probing"]["variants"] = ["single"]
    message = _error(config)
    assert "manipulation.runs.single_reverse: a reversed-biography control needs an inverse task" in message
    assert "manipulation.runs.multi5_permute: must include forward and an inverse task" in message
    assert "config key probing.variants: must include 'multi5_permute'" in message
    config = copy.deepcopy(load("smoke"))
    config["capacity"]["models"].append(dict(config["capacity"]["models"][0]))
    assert "config key capacity.models: names must be unique" in _error(config)
    config = copy.deepcopy(load("smoke"))
    config["manipulation"]["runs"]["multi5_permut"] = ["forward"]
    assert "config key manipulation.runs: 'multi5_permut' does not match" in _error(config)


def test_decoding_sizes_are_checked():
    config = copy.deepcopy(load("smoke"))
    config["math"]["decoding"].update(problems_per_op=0, batch_size=0)
    message = _error(config)
    assert "config key math.decoding.problems_per_op: 0 is less than the minimum of 1" in message
    assert "config key math.decoding.batch_size: 0 is less than the minimum of 1" in message


def test_snakemake_fails_before_any_job_on_bad_config(tmp_path):
    bad = load("smoke")
    bad["finetune"]["method"] = "qlora"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = dry_run(tmp_path, f"--configfile={path}")
    assert result.returncode != 0
    assert (
        "config key finetune.method: 'qlora' is not one of ['full', 'lora']" in result.stdout + result.stderr
    )
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(
    ("variable", "value"),
    [("PHYSLM_COMPILE", "fast"), ("PHYSLM_DEVICE", "tpu"), ("PHYSLM_TRACKERS", "neptune")],
)
def test_a_bad_environment_setting_fails_before_any_job(tmp_path, variable, value):
    result = dry_run(tmp_path, env={variable: value})
    assert result.returncode != 0
    assert f"{variable}: " in result.stdout + result.stderr and value in result.stdout + result.stderr


def test_math_knobs_that_cannot_make_a_problem_fail_before_any_job(tmp_path):
    bad = load("smoke")
    bad["math"]["test"]["max_op"] = 40  # 4 links cannot hold 40 operations
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = dry_run(tmp_path, f"--configfile={path}")
    assert result.returncode != 0
    assert "math.test.max_op: 40 operations cannot be reached" in result.stdout + result.stderr
    assert not (tmp_path / "results").exists()


def test_schema_is_well_formed_and_documents_every_leaf_key():
    schema = yaml.safe_load(SCHEMA.read_text())

    def walk(node, path):
        assert None not in node.values(), f"{path}: a key without a value (unquoted comma in YAML?)"
        for key, child in node.get("properties", {}).items():
            assert isinstance(child, dict), f"{path}.{key}"
            walk(child, f"{path}.{key}")

    walk(schema, "config")
    for name, definition in schema["$defs"].items():
        walk(definition, f"$defs.{name}")


def test_command_line_overrides_are_typed_like_config_files():
    given = {"seeds": ["0", "1"], "bios": {"n_people": "50", "name": "single"}, "lr": "3e-4"}
    assert coerce_numbers(given) == {"seeds": [0, 1], "bios": {"n_people": 50, "name": "single"}, "lr": 3e-4}


def test_schema_pool_maxima_are_what_the_word_lists_allow():
    from physlm.knowledge.pools import pool_limits

    pools = yaml.safe_load(SCHEMA.read_text())["properties"]["bios"]["properties"]["pools"]["properties"]
    assert {key: spec["maximum"] for key, spec in pools.items()} == pool_limits()


def test_capacity_models_stop_at_their_max_people(tmp_path):
    """The default grid trains the 2x64 and 2x16 models at N=400 only; 2x32 at every N."""
    result = dry_run(tmp_path, "results/default/capacity/bits.parquet")
    assert result.returncode == 0, result.stderr
    trained = set(re.findall(r"results/default/capacity/(\w+)/N(\d+)/E100/(\w+)/seed0/model", result.stdout))
    assert trained == {
        (data, n, size)
        for data in ("bioS", "bioD")
        for n, sizes in (("400", "sml"), ("5000", "m"))
        for size in sizes
    }


@pytest.mark.parametrize("scale", ["default", "mid", "gpu", "paper"])
def test_every_scale_plans_the_whole_dag(scale, tmp_path):
    """A scale no test runs must still make a DAG: every finding's claim reachable, no missing rule."""
    result = dry_run(tmp_path, f"--configfile=workflow/config/{scale}.yaml", "--printshellcmds")
    assert result.returncode == 0, result.stderr
    claims = ["capacity", "knowledge", "manipulation", "probing", "math", "mistakes"]
    for rule in (f"claim_{name}" for name in claims):
        assert re.search(rf"^{rule}\s+1$", result.stdout, re.M), rule
    # one decoding job per decoder the library knows
    assert set(re.findall(r"seed0/decoding/(\w+?)(?:_solutions)?\.parquet", result.stdout)) == set(DECODERS)
    # every output (and every path the steps are given) under the scale's own folder
    outputs = re.findall(r"^    output: (.*)$", result.stdout, re.M)
    assert outputs and all(path.startswith(f"results/{scale}/") for o in outputs for path in o.split(", "))
    assert "--checkpoint results/" in result.stdout and "<results>" not in result.stdout


def test_a_config_file_that_does_not_name_its_results_folder_is_refused(tmp_path):
    (tmp_path / "mine.yaml").write_text("seeds: [1]\n")
    result = dry_run(tmp_path, f"--configfile={tmp_path / 'mine.yaml'}")
    assert result.returncode != 0
    out = result.stdout + result.stderr
    assert "config key pathvars.results: not set in" in out
    assert "add `pathvars: {results: results/mine}`" in out
    (tmp_path / "mine.yaml").write_text("seeds: [1]\npathvars: {results: results/mine}\n")
    assert dry_run(tmp_path / "named", f"--configfile={tmp_path / 'mine.yaml'}").returncode == 0


def test_a_local_run_takes_the_default_profile_on_its_own(tmp_path):
    """`snakemake` in the checkout loads profiles/default unasked, so an interrupted run goes on
    (rerun-incomplete) with the same command; a profile Snakemake cannot find would be ignored."""
    result = dry_run(tmp_path, "--configfile=workflow/config/smoke.yaml")
    assert result.returncode == 0, result.stderr
    assert "Using workflow specific profile profiles/default" in result.stdout + result.stderr
    profile = yaml.safe_load((tmp_path / "profiles" / "default" / "config.yaml").read_text())
    assert profile["rerun-incomplete"] is True


def test_check_config_names_the_line_yaml_cannot_read_and_each_bad_key(tmp_path, capsys):
    from physlm.config import ConfigError, check_config

    default = ROOT / "workflow" / "config" / "default.yaml"
    broken = tmp_path / "broken.yaml"
    broken.write_text("pathvars: {results: results/b}\nseeds: [0\n  bios: x\n")
    with pytest.raises(
        ConfigError, match=r"broken.yaml line 3, column 7: not valid YAML: expected ',' or ']'"
    ):
        check_config(config=broken, default=default)
    bad = tmp_path / "bad.yaml"
    bad.write_text("pathvars: {results: results/b}\npretrain: {lr: -1}\n")
    with pytest.raises(
        ConfigError, match=r"config key pretrain\.lr: -1 is less than or equal to the minimum of 0"
    ):
        check_config(config=bad, default=default)
    check_config(config=ROOT / "workflow" / "config" / "smoke.yaml", default=default)
    assert capsys.readouterr().out.startswith(f"{ROOT / 'workflow' / 'config' / 'smoke.yaml'}: valid")
