"""The whole DAG at smoke scale, end to end, in a copy of the workflow."""

import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from smk import FIGURES, snakemake


@pytest.mark.e2e
def test_smoke_dag_writes_every_output(smoke_run, tmp_path):
    results = smoke_run / "results" / "smoke"
    for name in FIGURES:
        for suffix in (".pdf", ".png"):
            assert (results / "figures" / f"{name}{suffix}").stat().st_size > 10_000
    claims = pd.read_parquet(results / "claims.parquet")
    assert claims["verdict"].str.match(r"(supported|refuted|inconclusive)").all()
    assert claims["finding"].tolist() == [
        *["F1 knowledge capacity"] * 2,  # bioS, bioD
        "F1 capacity under int8",
        "F1 capacity under int4",
        "F2a augmentation: knowledge must be in pretraining",
        "F2b mixed training: knowledge must be in pretraining",
        "F2b mixed training on multi5_permute: knowledge must be in pretraining",
        "F2 mechanism: P-probing",
        "F3 mistakes: probe",
        "F3 mistakes: retry data (0.5)",
        "F3+ decoding: probe retry vs best of k",
        "F4 planning: V-probing",
        "F5 knowledge access is one-way",
        "F5 control: reversed biographies",
    ]
    # Every claim sets this run's scale beside the paper's conditions; the smoke run is far below them,
    # so no claim can be refuted here.
    assert (claims["conditions"].str.len() > 0).all() and (claims["scale"].str.len() > 0).all()
    assert "refuted" not in set(claims["verdict"])
    f2a = claims.set_index("finding").loc["F2a augmentation: knowledge must be in pretraining"]
    assert "people 40" in f2a["scale"] and "people 100,000" in f2a["conditions"]
    markdown = (results / "claims.md").read_text()
    assert "F5" in markdown and "paper's conditions" in markdown
    tasks = pd.read_parquet(results / "manipulation" / "accuracy.parquet")
    assert set(zip(tasks.variant, tasks.task, strict=True)) == {
        ("multi5_permute", "forward"),
        ("multi5_permute", "parity_cot"),
        ("multi5_permute", "inverse_all"),
        ("multi5_permute_reverse", "inverse_all"),
    }
    assert tasks.accuracy.between(0, 1).all() and tasks.chance.between(0, 1).all()
    bits = pd.read_parquet(results / "capacity" / "bits.parquet")
    assert set(zip(bits.data, bits["size"], bits.quantization, strict=True)) == {
        (d, s, q) for d in ("bioS", "bioD") for s in ("xs", "s") for q in ("none", "int8", "int4")
    }
    # Bits are not floored at 0 (as in the paper): an untrained smoke model may score below uniform.
    assert (bits.parameters > 0).all() and (bits.data_bits > 0).all() and (bits.bits <= bits.data_bits).all()
    probes = pd.read_parquet(results / "probing" / "probes.parquet")
    assert set(zip(probes.variant, probes.model, probes.probe, strict=True)) == {
        (v, m, p) for v in ("single", "multi5_permute") for m in ("pretrained", "random init") for p in "PQ"
    }
    math = pd.read_parquet(results / "math" / "accuracy.parquet")
    for data in ("clean", "retry0.5"):
        rows = math[math["data"] == data]
        assert rows["op"].tolist() == [1, 2, 3, 4] and rows["in_distribution"].tolist() == [True] * 3 + [
            False
        ]
    vprobes = pd.read_parquet(results / "math" / "vprobes.parquet")
    assert set(zip(vprobes.task, vprobes.model, strict=True)) == {
        (t, m)
        for t in ("nece", "dep", "known", "value", "can_next", "nece_next")
        for m in ("trained", "random init")
    }

    def last_stage(data: str) -> dict:
        return json.loads((results / "math" / "seed0" / data / "stage2" / "model" / "scale.json").read_text())

    assert last_stage("clean")["stages"] == 2 and last_stage("clean")["pretrain_steps"] == 20  # chained
    # retry data trains for the clean data's tokens: fewer steps of longer solutions
    retry = last_stage("retry0.5")
    assert retry["pretrain_steps"] < 20 and retry["train_tokens"] == pytest.approx(
        last_stage("clean")["train_tokens"], rel=0.1
    )
    curves = pd.read_parquet(results / "math" / "curves.parquet")  # every checkpoint (5 steps) of each stage
    assert set(zip(curves.data, curves.stage, curves.step, strict=True)) >= {
        ("clean", stage, step) for stage in (1, 2) for step in (5, 10)
    }
    assert set(curves["measure"]) == {
        "greedy",
        "greedy, letters free",
        "teacher-forced",
        "constant errors",
        "constant errors, chance",
        "decision",
    }
    mistakes = pd.read_parquet(results / "math" / "mistakes.parquet")
    assert set(mistakes["set"]) == {
        "random parameter",
        "random parameter, balanced",
        "model's own steps",
        "model's own steps: not computable",
        "model's own steps: redefined",
        "model's prefixes, every parameter",
    }
    decision = pd.read_parquet(results / "math" / "decision.parquet")
    assert set(decision["measure"]) == {"p_end", "ends", "attention"}
    assert set(decision["model"]) == {"trained", "random init"}
    assert set(mistakes["detector"]) == {
        "probe",
        "probe, random init",
        "entropy",
        "1 - top probability",
        "majority class",
    }
    decoding = pd.read_parquet(results / "math" / "decoding.parquet")
    assert decoding["strategy"].tolist() == [
        "greedy",
        "best of 1",
        "best of 2",
        "probe retry",
        "entropy retry",
    ]
    assert (decoding["n"] == 2 * 4).all()  # decoding.problems_per_op: 2 of each of the 4 op counts
    metrics = pd.read_parquet(results / "knowledge" / "qa_accuracy.parquet")
    settings = set(zip(metrics.regime, metrics.variant, strict=True))
    assert settings == {
        *((regime, v) for regime in ("pretrain", "finetune", "mixed") for v in ("single", "multi5_permute")),
    }
    assert set(metrics.split) == {"train", "test"} and metrics.accuracy.between(0, 1).all()
    train_log = pd.read_parquet(results / "knowledge" / "single" / "seed0" / "pretrain" / "train_log.parquet")
    assert (train_log["tokens_per_s"] > 0).all()
    model = results / "knowledge" / "multi5_permute" / "seed0" / "finetune" / "model"
    assert (model / "model.safetensors").exists() and (model / "tokenizer.json").exists()
    assert not list(results.rglob("checkpoint.pt"))

    # Provenance beside every table and inside every model and tokenizer.
    for table in results.rglob("*.parquet"):
        assert Path(f"{table}.provenance.json").exists(), table
    for folder in [*results.rglob("model"), *results.rglob("tokenizer")]:
        info = json.loads((folder / "provenance.json").read_text())
        assert info["physlm"] and info["torch"] and info["device"]

    # The HTML report holds every figure and the claims table.
    report = tmp_path / "report.html"
    made = snakemake(smoke_run, "--report", str(report))
    assert made.returncode == 0, made.stderr[-3000:]
    page = report.read_text()
    for name in FIGURES:
        assert f"{name}.png" in page
    assert "claims.html" in page

    # Regenerating one figure reruns nothing upstream: the figure's rule is the only job.
    for name in FIGURES:
        target = f"results/smoke/figures/{name}.pdf"
        assert _rules_to_rerun(smoke_run, target, "--forcerun", f"figure_{name}") == {f"figure_{name}"}

    # The default scale fine-tunes fully, the smoke scale with LoRA: run the full path too, in a copy.
    copy = tmp_path / "full"
    shutil.copytree(smoke_run, copy, symlinks=True)
    full = yaml.safe_load((copy / "workflow" / "config" / "smoke.yaml").read_text())
    full["finetune"]["method"] = "full"
    (copy / "full.yaml").write_text(yaml.safe_dump(full))
    rerun = snakemake(
        copy, "--configfile=full.yaml", "results/smoke/knowledge/single/seed0/finetune/qa_accuracy.parquet"
    )
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    out = rerun.stdout + rerun.stderr
    assert "rule finetune" in out and "rule pretrain" not in out


@pytest.mark.e2e
def test_an_edit_reruns_exactly_the_steps_whose_code_it_touches(smoke_run, tmp_path):
    """Each rule carries the hash of the modules its step runs: edit P/Q probing (in a copy of the
    package the workflow imports) and only the probes and what is drawn from them are out of date;
    edit one domain's generator and only that domain's rules are."""
    import physlm

    source = Path(physlm.__file__).parent
    package = tmp_path / "src" / "physlm"
    shutil.copytree(source, package)
    env = {"PYTHONPATH": str(package.parent)}
    unchanged = snakemake(smoke_run, "-n", env_extra=env)
    assert unchanged.returncode == 0 and "Nothing to be done" in unchanged.stdout + unchanged.stderr

    def edited(module: str) -> set[str]:
        """The rules a dry run would rerun after a comment is added to `module` (a path under
        physlm), the copy otherwise as installed."""
        shutil.rmtree(package)
        shutil.copytree(source, package)
        with (package / module).open("a") as code:
            code.write("\n# an edit\n")
        return _rules_to_rerun(smoke_run, env=env)

    assert edited("knowledge/probing.py") == {
        "probe",
        "probe_names",
        "collect_probing_probes",
        "figure_p_probing",
        "figure_q_probing",
        "claim_probing",
        # the probe itself (physlm.engine.probe) is shared: an edit to P/Q probing reruns no math rule
        "claims",
        "all",
    }
    knowledge, reasoning = _domain_rules(KNOWLEDGE_RULES), _domain_rules(REASONING_RULES)
    assert not knowledge & reasoning
    math = edited("reasoning/igsm.py")
    assert {"math_problems", "math_train", "claim_math"} <= math
    assert math <= reasoning | SHARED_RULES, math - reasoning
    bios = edited("knowledge/bios.py")
    assert {"people", "pretrain", "capacity_train", "claim_knowledge"} <= bios
    assert bios <= knowledge | SHARED_RULES, bios - knowledge


ROOT = Path(__file__).resolve().parents[1]
KNOWLEDGE_RULES = ("knowledge", "manipulation", "probing", "capacity")
REASONING_RULES = ("math",)
SHARED_RULES = {"claims", "all"}


def _domain_rules(files: tuple[str, ...]) -> set[str]:
    """The names of the rules a domain's rule files define, and of those results.smk makes from what
    they register (each figure, claim, collected table and training figure)."""
    names = set()
    for name in files:
        text = (ROOT / "workflow" / "rules" / f"{name}.smk").read_text()
        names |= {a or b for a, b in re.findall(r"^(?:local)?rule (\w+):|^use rule \w+ as (\w+)", text, re.M)}
        names |= {f"figure_{f}" for f in re.findall(r'^FIGURES\["(\w+)"\]', text, re.M)}
        names |= {f"claim_{c}" for c in re.findall(r'^CLAIMS\["(\w+)"\]', text, re.M)}
        for domain in re.findall(r'^TRAINING\["(\w+)"\]', text, re.M):
            names |= {f"collect_{domain}_train_logs", f"figure_training_{domain}"}
        # Collected tables are named for the results folder they lie in, the domain's own.
        for folder in set(re.findall(r'"<results>/(\w+)/', text)):
            names |= {
                f"collect_{folder}_{stem}" for stem in re.findall(rf"<results>/{folder}/(\w+)\.parquet", text)
            }
    return names


def _rules_to_rerun(workdir: Path, *args: str, env: dict | None = None) -> set[str]:
    """The rules a dry run with `args` would run, from its job stats table ("job count" header, a
    rule of dashes, one line per rule, "total N"); not from its other output, which prints the shell
    commands (profiles/default) and so names modules such as finding2_pretraining."""
    dry = snakemake(workdir, "-n", *args, "--quiet", "rules", env_extra=env)
    assert dry.returncode == 0, dry.stderr[-3000:]
    table = (dry.stdout + dry.stderr).split("Job stats:")[1].split("total")[0].splitlines()[3:]
    return {line.split()[0] for line in table if line.strip()}
