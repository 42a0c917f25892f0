"""The pipeline's steps as library functions, chained on a tiny world as the rules chain them."""

import pandas as pd
import pytest
from conftest import SMALL_POOLS
from test_train import _config as training_config

from physlm.engine.artifacts import collect, collect_logs
from physlm.engine.config_types import BiosConfig, ModelConfig, ProbeConfig
from physlm.engine.fit import TrainingRun
from physlm.knowledge.biod import BioD
from physlm.knowledge.capacity import capacity_bits
from physlm.knowledge.probing import probe, probe_names
from physlm.knowledge.qa import evaluate_qa
from physlm.knowledge.templates import ATTRIBUTES
from physlm.knowledge.train import fit_knowledge, people_from_qa
from physlm.knowledge.worlds import BioDWorld, load_world, write_biographies, write_tokenizer, write_world
from physlm.reasoning.curves import CurvesSpec
from physlm.reasoning.train import fit_math

MODEL = ModelConfig(arch="llama", n_layer=1, n_head=2, d_model=16, context=64)
TRAINING = training_config(steps=20, batch_size=4, warmup_steps=2, weight_decay=0.0)


def _run(folder, training, **start) -> TrainingRun:
    """A training run of seed 0 writing into `folder`, from scratch (`tokenizer_dir`, `model`) or from
    a saved model (`init_dir`)."""
    return TrainingRun(
        training=training,
        seed=0,
        checkpoint=folder / "c.pt",
        out_dir=folder / "model",
        log=folder / "log.parquet",
        **start,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A bioS world of 30 people, its biographies and tokenizer, and a model pretrained on them."""
    root = tmp_path_factory.mktemp("steps")
    write_world(
        bios_config=BiosConfig(30, SMALL_POOLS), seed=0, out_dir=root / "world", qa=root / "qa.parquet"
    )
    write_biographies(world_dir=root / "world", variant="multi2", seed=0, out=root / "bios.parquet")
    write_tokenizer(world_dir=root / "world", out_dir=root / "tok")
    fit_knowledge(
        _run(root, TRAINING, tokenizer_dir=root / "tok", model=MODEL),
        bios=root / "bios.parquet",
    )
    return root


def test_a_world_round_trips_through_its_folder(tmp_path):
    spec = BioD(k=2, c=2, d=3, length=2, t=5)
    write_world(bios_config=BiosConfig(6, SMALL_POOLS), seed=1, out_dir=tmp_path / "w", biod_config=spec)
    world = load_world(tmp_path / "w")
    assert isinstance(world, BioDWorld) and world.spec == spec and world.strings.shape == (2, 3, 2)
    assert sorted(p.name for p in (tmp_path / "w").iterdir() if p.suffix != ".json") == [
        "people.parquet",
        "strings.parquet",
    ]
    assert len(world.biographies("multi2", seed=0)) == 12


def test_evaluate_measure_and_probe_write_tables_with_identity_and_scale(trained, tmp_path):
    identity = {"variant": "multi2", "seed": 0, "regime": "pretrain"}
    common = dict(model_dir=trained / "model", bios=trained / "bios.parquet", world_dir=trained / "world")
    evaluate_qa(
        **common, qa=trained / "qa.parquet", identity=identity, out=tmp_path / "qa.parquet", batch_size=64
    )
    qa = pd.read_parquet(tmp_path / "qa.parquet")
    assert {"variant", "seed", "regime", "people", "exposures", "pretrain_steps"} <= set(qa.columns)
    assert (qa.people == 30).all() and (qa.pretrain_steps == 20).all() and qa.accuracy.between(0, 1).all()

    capacity_bits(
        **common, identity={"size": "tiny"}, out=tmp_path / "bits.parquet", quantization=("none", "int8")
    )
    bits = pd.read_parquet(tmp_path / "bits.parquet")
    assert list(bits.quantization) == ["none", "int8"] and (bits["size"] == "tiny").all()
    assert (bits.data_bits > 0).all() and (bits.parameters > 0).all()

    cfg = ProbeConfig(p_rank=2, q_rank=2, steps=2, batch_size=8, lr=1e-3, embedding_lr=1e-4, weight_decay=0.0)
    probe(
        **common,
        model_config=MODEL,
        probing_config=cfg,
        seed=0,
        identity={"variant": "multi2", "seed": 0},
        out=tmp_path / "p.parquet",
    )
    probes = pd.read_parquet(tmp_path / "p.parquet")
    assert set(zip(probes.model, probes.probe, strict=True)) == {
        (m, p) for m in ("pretrained", "random init") for p in "PQ"
    }


def test_the_random_init_q_probe_made_once_is_what_each_probe_job_would_compute(trained, tmp_path):
    cfg = ProbeConfig(p_rank=2, q_rank=2, steps=3, batch_size=8, lr=1e-3, embedding_lr=1e-4, weight_decay=0.0)
    common = dict(model_config=MODEL, probing_config=cfg, world_dir=trained / "world", seed=0)
    probe_names(**common, tokenizer_dir=trained / "tok", identity={"seed": 0}, out=tmp_path / "names.parquet")
    tables = {}
    for name, baseline in (("computed", None), ("read", tmp_path / "names.parquet")):
        probe(
            **common,
            model_dir=trained / "model",
            bios=trained / "bios.parquet",
            identity={"variant": "multi2", "seed": 0},
            out=tmp_path / f"{name}.parquet",
            names_baseline=baseline,
        )
        tables[name] = pd.read_parquet(tmp_path / f"{name}.parquet")
    pd.testing.assert_frame_equal(tables["read"], tables["computed"])
    q = tables["read"].query("model == 'random init' and probe == 'Q'")
    assert len(q) == 6 and (q["variant"] == "multi2").all()


def test_collect_refuses_tables_whose_columns_differ(tmp_path):
    pd.DataFrame({"seed": [0], "accuracy": [0.5]}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"accuracy": [0.5]}).to_parquet(tmp_path / "b.parquet")
    with pytest.raises(ValueError, match=r"differ in the columns \['seed'\]"):
        collect(tables=[tmp_path / "a.parquet", tmp_path / "b.parquet"], out=tmp_path / "all.parquet")
    assert not (tmp_path / "all.parquet").exists()


def test_a_fine_tune_logs_the_answer_loss_of_held_out_people_at_each_checkpoint(trained, tmp_path):
    from physlm.engine.models import pick_device
    from physlm.engine.scoring import masked_loss

    fit_knowledge(
        _run(
            tmp_path,
            training_config(steps=12, batch_size=4, checkpoint_every=5, log_every=1),
            init_dir=trained / "model",
        ),
        qa=trained / "qa.parquet",
    )
    log = pd.read_parquet(tmp_path / "log.parquet")
    measured = log.dropna(subset=["held_out_loss"])
    assert measured["step"].tolist() == [5, 10, 12]  # every checkpoint and the end
    # the last one is the saved model's answer loss on held-out people's QA pairs
    from physlm.engine.artifacts import load_model
    from physlm.engine.corpus import qa_documents

    model, tokenizer = load_model(tmp_path / "model", pick_device())
    qa = pd.read_parquet(trained / "qa.parquet").query("split == 'test'").head(256)
    expected = masked_loss(model, qa_documents(tokenizer, qa), tokenizer.eos_token_id, tokenizer.pad_token_id)
    assert measured["held_out_loss"].iloc[-1] == pytest.approx(expected, rel=1e-4)


def test_qa_answers_give_each_persons_values_where_the_biographies_write_them(trained):
    people = people_from_qa(pd.read_parquet(trained / "qa.parquet"))
    world = load_world(trained / "world").people
    assert sorted(people["person_id"]) == sorted(world["person_id"])
    assert dict(zip(people.person_id, people.split, strict=True)) == dict(
        zip(world.person_id, world.split, strict=True)
    )
    bios = pd.read_parquet(trained / "bios.parquet").merge(people, on="person_id")
    for bio in bios.itertuples():  # each value read at its start: a shifted span would not match
        for attribute, start in zip(ATTRIBUTES, bio.starts, strict=True):
            value = getattr(bio, attribute)
            assert bio.text[start : start + len(value)] == value


def test_mixed_training_writes_qa_and_recall_curves_by_split_at_each_checkpoint(trained, tmp_path):
    fit_knowledge(
        _run(
            tmp_path,
            training_config(steps=7, batch_size=4, checkpoint_every=5, log_every=1),
            tokenizer_dir=trained / "tok",
            model=MODEL,
        ),
        bios=trained / "bios.parquet",
        qa=trained / "qa.parquet",
        qa_ratio=0.5,
        curves_out=tmp_path / "curves.parquet",
        curves_identity={"variant": "multi2", "seed": 0},
    )
    curves = pd.read_parquet(tmp_path / "curves.parquet").dropna(subset=["value"])
    assert (curves["variant"] == "multi2").all()
    assert sorted(set(zip(curves.step, curves.measure, curves.split, strict=True))) == [
        (step, measure, split)
        for step in (5, 7)
        for measure in ("QA accuracy", "bio recall")
        for split in ("test", "train")
    ]
    # the last point is the saved model's greedy QA accuracy on the same people
    from physlm.engine.artifacts import load_model
    from physlm.knowledge.qa import answer_questions

    model, tokenizer = load_model(tmp_path / "model")
    qa = pd.read_parquet(trained / "qa.parquet")
    answered = answer_questions(model, tokenizer, qa, batch_size=64).groupby("split")["correct"].mean()
    last = curves.query("step == 7 and measure == 'QA accuracy'").set_index("split")["value"]
    assert last.to_dict() == pytest.approx(answered.to_dict())


def test_curves_of_a_knowledge_training_need_qa(trained, tmp_path):
    run = _run(tmp_path, training_config(steps=2, batch_size=4), tokenizer_dir=trained / "tok", model=MODEL)
    with pytest.raises(ValueError, match="needs --qa"):
        fit_knowledge(run, bios=trained / "bios.parquet", curves_out=tmp_path / "curves.parquet")


def test_training_logs_are_collected_each_with_its_run(tmp_path):
    logs = [tmp_path / "a.parquet", tmp_path / "b.parquet"]
    pd.DataFrame({"step": [10, 20], "loss": [2.0, 1.0]}).to_parquet(logs[0])
    pd.DataFrame({"step": [10], "loss": [3.0]}).to_parquet(logs[1])
    runs = '[{"variant": "single", "seed": 0}, {"variant": "multi5_permute", "seed": 1}]'
    collect_logs(tables=logs, identities=runs, out=tmp_path / "all.parquet")
    table = pd.read_parquet(tmp_path / "all.parquet")
    assert table.to_dict("list") == {
        "step": [10, 20, 10],
        "loss": [2.0, 1.0, 3.0],
        "variant": ["single", "single", "multi5_permute"],
        "seed": [0, 0, 1],
    }
    with pytest.raises(ValueError, match="2 training logs but 1 identities"):
        collect_logs(tables=logs, identities='[{"seed": 0}]', out=tmp_path / "x.parquet")


def test_retry_data_trains_for_the_tokens_of_clean_data(tmp_path):
    from physlm.engine.artifacts import read_scale
    from physlm.reasoning import igsm, igsm_sets

    knobs = igsm.Knobs(max_ip=6, max_layers=3, max_items=2)
    igsm_sets.write_problems(
        knobs=knobs,
        problems=igsm_sets.ProblemSet("test", 8, 4, op_distribution="each"),
        seed=0,
        out=tmp_path / "test.parquet",
        params_out=tmp_path / "test.params.parquet",
    )
    igsm_sets.write_tokenizer(out_dir=tmp_path / "tok")
    shape = ModelConfig(arch="llama", n_layer=1, n_head=2, d_model=16, context=256)
    for name, retry in (("clean", 0.0), ("retry", 0.5)):
        fit_math(
            TrainingRun(
                training=training_config(
                    steps=40, batch_size=4, warmup_steps=2, weight_decay=0.0, checkpoint_every=20
                ),
                seed=0,
                checkpoint=tmp_path / f"{name}.pt",
                out_dir=tmp_path / name,
                log=tmp_path / f"{name}.log.parquet",
                tokenizer_dir=tmp_path / "tok",
                model=shape,
            ),
            knobs=knobs,
            problem_set=igsm_sets.ProblemSet("train", 1, 4, retry=retry),
            equal_tokens=retry > 0,
            curves=CurvesSpec(
                problems=tmp_path / "test.parquet",
                per_op=1,
                out=tmp_path / f"{name}.curves.parquet",
                identity={"data": name},
            ),
        )
    curves = pd.read_parquet(tmp_path / "clean.curves.parquet")
    # checkpoint_every 20 of 40 steps: curves at steps 20 and 40, both greedy measures on ops 1-4
    greedy = curves[curves["measure"] == "greedy"]
    assert sorted(set(greedy["step"])) == [20, 40] and (greedy["n"] == 1).all() and len(greedy) == 8
    assert set(curves["data"]) == {"clean"}
    assert {"name", "stop", "answer"} <= set(curves.loc[curves["measure"] == "teacher-forced", "group"])
    clean, retry = read_scale(tmp_path / "clean"), read_scale(tmp_path / "retry")
    assert retry["pretrain_steps"] < clean["pretrain_steps"] == 40  # retry documents are longer
    assert retry["train_tokens"] == pytest.approx(clean["train_tokens"], rel=0.05)
