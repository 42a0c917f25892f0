"""Mistake labels from the checker, the paper's random-parameter steps, the detectors' scores."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from fakes import NextToken
from test_checker import PROBLEM, QUESTION, STEPS

from physlm.engine.config_types import MistakeProbeConfig, ModelConfig
from physlm.engine.models import build_model
from physlm.engine.tokenizer import build_tokenizer
from physlm.reasoning import checker, mistakes
from physlm.reasoning.checker import Problem as Parsed
from physlm.reasoning.decoding import probe_scorer
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import PROBE_MARKERS, ProblemSet, lexicon, make_set, write_tokenizer

HAND = pd.DataFrame({"problem": [0], "text": [PROBLEM], "question": [QUESTION]})


def own(solution: list[str]) -> pd.DataFrame:
    return mistakes.own_steps(
        HAND, pd.DataFrame({"problem": [0], "op": [7], "solution": [" ".join(solution)]})
    )


def test_own_steps_stop_at_the_first_mistake_and_say_why():
    # step 2 defines Penguin Beach's Animal before Penguin Beach's Lion: not computable
    table = own([*STEPS[:2], STEPS[3], STEPS[2], *STEPS[4:]])
    assert table["wrong"].tolist() == [False, False, True]
    assert table["error"].tolist() == ["", "", checker.NOT_COMPUTABLE]
    assert table["name"].tolist()[-1] == "Penguin Beach's Animal"
    assert table["before"].iloc[-1] == STEPS[:2]
    assert mistakes.step_start(table["before"].iloc[-1], "X") == f"{STEPS[0]} {STEPS[1]} Define X as"


def test_own_steps_skip_retries_and_unparsed_sentences_but_keep_them_before():
    retry = "Define Lion Rock's Animal as [BACK]."
    table = own([STEPS[0], retry, STEPS[1], "Lion Rock's Tiger is 4."])
    assert table["step"].tolist() == [0, 2]  # the retry (1) and the unparsed mistake (3) are not read
    assert table["before"].iloc[-1] == [STEPS[0], retry]
    assert not table["wrong"].any()
    assert own(STEPS)["wrong"].sum() == 0 and len(own(STEPS)) == len(STEPS)


@pytest.fixture(scope="module")
def data():
    return make_set(Knobs(max_ip=6, max_layers=3, max_items=2), ProblemSet("test", 24, 4), seed=0)


def test_random_parameter_steps_are_wrong_exactly_when_not_computable_next(data):
    problems, params = data
    steps = mistakes.random_parameter_steps(problems, params, queries=4, seed=0)
    assert len(steps) == 4 * len(problems) and 0 < steps["wrong"].mean() < 1
    text = problems.set_index("problem")
    for row in steps.itertuples():
        parsed = Parsed.parse(text.loc[row.problem, "text"], text.loc[row.problem, "question"])
        defined = {s.removeprefix("Define ").split(" as ")[0] for s in row.before}
        computable = row.name not in defined and set(parsed.inputs(row.name)) <= defined
        assert row.wrong == (not computable)


def test_encoded_steps_end_at_define_a_as(data):
    problems, params = data
    tokenizer = build_tokenizer(lexicon(), extra_special=PROBE_MARKERS)
    steps = mistakes.random_parameter_steps(problems, params, queries=2, seed=0)
    ids, starts = mistakes.encode(tokenizer, problems, steps)
    for x, start, row in zip(ids, starts, steps.itertuples(), strict=True):
        assert x[0] == tokenizer.eos_token_id
        assert tokenizer.decode(x[start:]).strip() == f"Define {row.name} as"


def test_uncertainty_is_read_over_the_name_alike_in_batches_or_alone(data):
    problems, params = data
    tokenizer = build_tokenizer(lexicon(), extra_special=PROBE_MARKERS)
    steps = mistakes.random_parameter_steps(problems, params, queries=2, seed=0)
    ids, starts = mistakes.encode(tokenizer, problems, steps)
    pad, vocab = tokenizer.pad_token_id, len(tokenizer)
    entropy, top = mistakes.uncertainty(NextToken(vocab, scale=0.0), ids, starts, pad, batch_size=5)
    # equal logits: the entropy of a uniform distribution, and its top probability 1 / vocab
    assert np.allclose(entropy, np.log(vocab)) and np.allclose(top, 1 - 1 / vocab)
    model = build_model(ModelConfig("llama", 1, 2, 16, 512), vocab, tokenizer.eos_token_id, pad, seed=0)
    batched = mistakes.uncertainty(model, ids, starts, pad, batch_size=5)
    alone = mistakes.uncertainty(model, ids, starts, pad, batch_size=1)
    assert np.allclose(batched, alone, atol=1e-5) and len(batched[0]) == len(ids)


@pytest.mark.parametrize("unsure", ["first name token", "as", "Define"])
def test_uncertainty_is_read_while_the_model_writes_the_name_and_nowhere_else(data, unsure):
    """A model certain of every token but one: unsure of the name's first token, the steps' mean
    entropy is ln(vocab) over the name's length; unsure of "as" or "Define", the tokens either side
    of the name, zero. A window one token early or late fails one of these."""
    problems, params = data
    tokenizer = build_tokenizer(lexicon(), extra_special=PROBE_MARKERS)
    steps = mistakes.random_parameter_steps(problems, params, queries=2, seed=0).head(6)
    ids, starts = mistakes.encode(tokenizer, problems, steps)
    vocab = len(tokenizer)
    for x, start in zip(ids, starts, strict=True):
        token = {"first name token": x[start + 1], "as": x[-1], "Define": x[start]}[unsure]
        model = NextToken(vocab, scale=100.0, unsure=token)
        entropy, top = mistakes.uncertainty(model, [x], [start], tokenizer.pad_token_id)
        name = x[start + 1 : -1]
        expected = name.count(token) / len(name) if unsure == "first name token" else 0.0
        assert entropy[0] == pytest.approx(expected * np.log(vocab), abs=1e-4)
        assert top[0] == pytest.approx(expected * (1 - 1 / vocab), abs=1e-4)


def test_auroc_counts_pairs_ranked_right():
    assert mistakes.auroc(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.3, 0.4])) == 1.0
    assert mistakes.auroc(np.array([0, 0, 1, 1]), np.array([0.4, 0.3, 0.2, 0.1])) == 0.0
    assert mistakes.auroc(np.array([0, 1]), np.array([0.5, 0.5])) == 0.5
    rng = np.random.default_rng(0)
    labels, scores = rng.random(50) < 0.3, rng.integers(0, 5, 50).astype(float)
    pairs = [(p > n) + 0.5 * (p == n) for p in scores[labels] for n in scores[~labels]]
    assert mistakes.auroc(labels, scores) == pytest.approx(np.mean(pairs))
    assert np.isnan(mistakes.auroc(np.array([1, 1]), np.array([0.1, 0.2])))


def test_flagging_scores():
    got = mistakes.scores_at_half(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 0]))
    assert got == {"accuracy": 0.5, "precision": 0.5, "recall": 0.5}


def test_the_mistake_probe_step_writes_every_detector_on_both_sets(tmp_path, data):
    problems, params = data
    probe, test = problems["problem"] < 16, problems["problem"] >= 16
    for name, table in (
        ("probe", problems[probe]),
        ("probe.params", params[params["problem"] < 16]),
        ("test", problems[test]),
        ("test.params", params[params["problem"] >= 16]),
    ):
        table.to_parquet(tmp_path / f"{name}.parquet")
    write_tokenizer(out_dir=tmp_path / "model")
    from transformers import PreTrainedTokenizerFast

    tokenizer = PreTrainedTokenizerFast.from_pretrained(tmp_path / "model")
    shape = ModelConfig("llama", 1, 2, 16, 256)
    model = build_model(shape, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 1)
    model.save_pretrained(tmp_path / "model")
    (tmp_path / "model" / "scale.json").write_text(json.dumps({"pretrain_steps": 0}))
    tests = problems[test]
    wrong = [" ".join([*s[:1], s[-1]]) for s in tests["solution"]]  # skips steps: often a mistake
    pd.DataFrame({"problem": tests["problem"], "op": tests["op"], "solution": wrong}).to_parquet(
        tmp_path / "solutions.parquet"
    )
    cfg = MistakeProbeConfig(
        steps=5, batch_size=8, lr=1e-3, embedding_lr=1e-4, weight_decay=0.0, queries=3, rank=2
    )
    mistakes.mistake_probe(
        model_dir=tmp_path / "model",
        model_config=shape,
        probe_config=cfg,
        probe_problems=tmp_path / "probe.parquet",
        probe_params=tmp_path / "probe.params.parquet",
        test_problems=tmp_path / "test.parquet",
        test_params=tmp_path / "test.params.parquet",
        solutions=tmp_path / "solutions.parquet",
        seed=0,
        identity={"run": "t"},
        out=tmp_path / "mistakes.parquet",
        scores_out=tmp_path / "scores.parquet",
        probe_out=tmp_path / "probe.pt",
    )
    table = pd.read_parquet(tmp_path / "mistakes.parquet")
    detectors = {"probe", "probe, random init", "entropy", "1 - top probability", "majority class"}
    whole = {mistakes.RANDOM_PARAMETER, mistakes.BALANCED, mistakes.MODEL_MISTAKES, mistakes.PAIRED}
    kinds = {f"{mistakes.MODEL_MISTAKES}: {kind}" for kind in mistakes.SEEN_ERRORS}
    assert set(table["set"]) == whole | kinds
    for where, group in table.groupby("set"):
        assert set(group["detector"]) == detectors
        assert where in kinds or group["auroc"].between(0, 1).all()
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    own_steps = scores[(scores["set"] == mistakes.MODEL_MISTAKES) & (scores["detector"] == "probe")]
    assert own_steps["wrong"].sum() == table.loc[table["set"] == mistakes.MODEL_MISTAKES, "wrong"].iloc[0] > 0
    assert (tmp_path / "probe.pt").exists()


def test_a_solution_with_no_readable_step_gives_an_empty_table():
    table = own(["Lion Rock's Tiger is 4."])
    assert table.empty and list(table.columns) == mistakes.STEP_COLUMNS
    tokenizer = build_tokenizer(lexicon(), extra_special=PROBE_MARKERS)
    assert mistakes.encode(tokenizer, HAND, table) == ([], [])


def test_a_trained_probe_flags_in_the_direction_of_its_labels(tmp_path, data):
    """Class 1 is "wrong" in training, in flag_probability and in the decoder's scorer: trained on
    mostly wrong steps, the probe's mean probability of "wrong" is on their side of one half."""
    problems, params = data
    tokenizer = build_tokenizer(lexicon(), extra_special=PROBE_MARKERS)
    pad = tokenizer.pad_token_id
    model = build_model(ModelConfig("llama", 1, 2, 16, 256), len(tokenizer), tokenizer.eos_token_id, pad, 1)
    cfg = MistakeProbeConfig(
        steps=60, batch_size=16, lr=1e-2, embedding_lr=1e-4, weight_decay=0.0, queries=4, rank=2
    )
    steps = mistakes.random_parameter_steps(problems, params, cfg.queries, seed=0)  # not balanced
    probe, ids = mistakes.fit_probe(model, tokenizer, problems, steps, cfg, seed=0, log=lambda _: None)
    share = steps["wrong"].mean()
    assert abs(share - 0.5) > 0.15  # far enough from a coin for a sign to show
    flagged = mistakes.flag_probability(probe, ids, pad, batch_size=32)
    assert flagged.mean() > 0.55 if share > 0.5 else flagged.mean() < 0.45
    torch.save(probe.state_dict(), tmp_path / "probe.pt")
    score = probe_scorer(model, tmp_path / "probe.pt", cfg, seed=0)
    assert score(ids[0], []) == pytest.approx(flagged[0], abs=1e-5)


def test_the_probe_never_trains_on_a_problem_it_is_scored_on(data):
    problems, _ = data
    test = problems.iloc[[0]].assign(problem=999)  # the same problem under another set's index
    held_out = problems.iloc[[1]]
    kept = mistakes.unseen(problems, held_out, test)
    assert list(kept["problem"]) == list(problems["problem"].iloc[2:])
    assert len(mistakes.unseen(problems, problems.iloc[0:0])) == len(problems)


def test_matched_auroc_only_compares_steps_within_a_stratum():
    labels = np.array([1, 1, 0, 1, 0, 0])
    scores = np.array([0.9, 0.8, 0.85, 0.2, 0.1, 0.3])  # high in stratum 0, where most are wrong
    strata = np.array([0, 0, 0, 1, 1, 1])
    assert mistakes.auroc(labels, scores) == pytest.approx(6 / 9)  # the stratum alone tells them apart
    assert mistakes.matched_auroc(labels, scores, strata) == pytest.approx(0.5)
    assert mistakes.matched_auroc(labels, -scores, np.zeros(6)) == pytest.approx(3 / 9)
    assert np.isnan(mistakes.matched_auroc(labels, scores, np.arange(6)))  # no stratum holds both


def test_balanced_steps_hold_as_many_right_as_wrong_steps_in_every_role_and_position(data):
    problems, params = data
    steps = mistakes.balanced_steps(problems, params, queries=1000, seed=0)  # no cap: every kept slot
    counts = steps.groupby([*mistakes.ROLE, "wrong"]).size().unstack("wrong")
    assert (counts[True] == counts[False]).all() and len(counts) >= 4
    asked = params[params.nece].sort_values("step").groupby("problem")["name"].last()
    assert (steps["asked"] == (steps["name"] == asked.loc[steps["problem"]].to_numpy())).all()
    capped = mistakes.balanced_steps(problems, params, queries=2, seed=0)
    keys = ["problem", "step", "name"]
    assert len(capped) == 2 * len(problems)  # a random share of the kept slots
    assert set(map(tuple, capped[keys].to_numpy())) <= set(map(tuple, steps[keys].to_numpy()))


def test_paired_steps_label_every_parameter_by_the_checker_as_the_generator_does(data):
    problems, params = data
    right = pd.DataFrame(
        {"problem": problems["problem"], "op": problems["op"], "solution": problems["solution"].map(" ".join)}
    )
    paired = mistakes.paired_steps(problems, params, mistakes.own_steps(problems, right))
    # on the reference solutions, the checker's rule gives the generator's can_next at every prefix
    every = pd.concat(
        [pd.DataFrame(mistakes._slots(p, params[params.problem == p.problem])) for p in problems.itertuples()]
    )
    key = ["problem", "step", "name"]
    merged = paired.merge(every, on=key, suffixes=("", "_generator"))
    assert len(merged) == len(paired) == len(every)
    assert (merged["wrong"] == merged["wrong_generator"]).all()
    assert (merged["asked"] == merged["asked_generator"]).all()
    assert (merged["necessary"] == merged["necessary_generator"]).all()
    assert 0 < paired["wrong"].mean() < 1
