"""The iGSM generator: solvable problems of the asked op, labels that follow the dependency graph,
splits by template, byte-identical tables for a seed."""

import hashlib
import random
import re

import pytest

from physlm.reasoning import igsm, igsm_sets
from physlm.reasoning.checker import check
from physlm.reasoning.igsm import Knobs, Param, Problem, make_problem
from physlm.reasoning.igsm_names import HIERARCHIES, LAYER_OF
from physlm.reasoning.igsm_sets import ProblemSet, labels, make_set, prompts

MED = Knobs(max_ip=20)  # the paper's iGSM-med structure


def test_world_names_are_unique_and_parse_back():
    names = [
        name
        for layers in HIERARCHIES.values()
        for category, subs in layers
        for name in [category, *(item for sub in subs for item in sub)]
    ]
    assert len(names) == len(set(names)) == len(LAYER_OF)
    assert not [n for n in names if re.search(r"'s|,|\.| and |\d", n)]


def test_the_checker_accepts_ten_thousand_generated_solutions():
    problems, _ = make_set(Knobs(max_ip=12, max_layers=3), ProblemSet("train", 10_000, 10), seed=3, threads=2)
    wrong = []
    for row in problems.itertuples():
        verdict = check(row.text, row.question, " ".join(row.solution))
        if not (verdict.correct and verdict.shortest and verdict.answer == row.answer):
            wrong.append(row.problem)
    assert wrong == []


@pytest.mark.parametrize("op", [1, 2, 7, 15, 23])
def test_a_problem_has_the_op_it_was_asked_for(op):
    for seed in range(20):
        problem = make_problem(MED, op, random.Random(seed))
        # one clause ("x = ...") per operation, one letter per clause
        assert problem.op == op == sum(step.count("; ") for step in problem.steps)
        assert problem.ip <= MED.max_ip
        for statement in problem.statements:  # at most 4 inputs, a constant counting as one
            inputs = statement.count(" each ") - 1 + len(re.findall(r"\d+", statement))
            assert 1 <= inputs <= 4


def test_the_solution_holds_only_necessary_parameters_in_a_dependency_order():
    problem = make_problem(MED, 12, random.Random(5))
    need = problem.need[problem.question]
    assert sorted(problem.order) == [i for i in range(len(problem.params)) if need >> i & 1]
    position = {i: k for k, i in enumerate(problem.order)}
    assert all(position[j] < position[i] for i in problem.order for j in problem.params[i].inputs)
    assert problem.order[-1] == problem.question


def test_labels_follow_a_hand_built_dependency_graph():
    # X's Y1 = 3; X's Y2 = 2 more than X's Y1; X's Cat (abstract) = X's Y1 + X's Y2. Asked: X's Y2.
    params = [
        Param("X", "Y1", abstract=False, inputs=[], formula=("const", [], 3, None, 0), value=3),
        Param("X", "Y2", abstract=False, inputs=[0], formula=("equals", [0], 0, "more", 2), value=5),
        Param("X", "Cat", abstract=True, inputs=[0, 1], value=8),
    ]
    need = igsm.necessary(params, [0, 1, 2])
    table = labels(
        Problem(
            params,
            need,
            question=1,
            order=[0, 1],
            statements=[],
            steps=[],
            op=2,
            template="",
            sentence=[0, 1],
        )
    )
    assert table["nece"] == [True, True, False]
    assert table["dep"] == [[], [0], [0, 1]]
    assert table["step"] == [0, 1, -1] and table["ready"] == [0, 1, 2]

    def over_positions(label: str) -> list[list]:
        return [
            [igsm_sets.at_position(s, r, n, v, k)[label] for k in range(3)]
            for s, r, n, v in zip(table["step"], table["ready"], table["nece"], table["value"], strict=True)
        ]

    assert over_positions("known") == [[False, True, True], [False, False, True], [False, False, False]]
    assert over_positions("value") == [[23, 3, 3], [23, 23, 5], [23, 23, 23]]
    assert over_positions("can_next") == [[True, False, False], [False, True, False], [False, False, True]]
    assert over_positions("nece_next") == [[True, False, False], [False, True, False], [False, False, False]]


def test_labels_agree_with_the_checker_on_generated_problems():
    from physlm.reasoning.checker import Problem as Parsed

    for seed in range(10):
        problem = make_problem(MED, 8, random.Random(seed))
        parsed = Parsed.parse(" ".join(problem.statements), problem.question_text)
        table = labels(problem)
        names = table["name"]
        for i, name in enumerate(names):
            assert table["value"][i] == parsed.value(name)
            assert table["nece"][i] == (name in parsed.necessary())
            assert {names[j] for j in problem.params[i].inputs} == set(parsed.inputs(name))


def test_splits_never_share_a_template():
    train, _ = make_set(MED, ProblemSet("train", 300, 6), seed=0)
    test, _ = make_set(MED, ProblemSet("test", 300, 6), seed=0)
    assert not set(train["template"]) & set(test["template"])
    assert {igsm.split_of(t) for t in train["template"]} == {"train"}
    assert {igsm.split_of(t) for t in test["template"]} == {"test"}


def test_each_op_distribution_gives_equal_counts():
    problems, _ = make_set(MED, ProblemSet("test", 60, 6, min_op=4, op_distribution="each"), seed=0)
    assert problems["op"].value_counts().to_dict() == {4: 20, 5: 20, 6: 20}


def test_same_seed_same_bytes_whatever_the_threads(tmp_path):
    def write(seed: int, threads: int) -> list[str]:
        folder = tmp_path / f"{seed}-{threads}"
        igsm_sets.write_problems(
            knobs=MED,
            problems=ProblemSet("train", 200, 8),
            seed=seed,
            out=folder / "problems.parquet",
            params_out=folder / "params.parquet",
            threads=threads,
        )
        return [
            hashlib.sha256((folder / f).read_bytes()).hexdigest()
            for f in ("problems.parquet", "params.parquet")
        ]

    assert write(0, 1) == write(0, 2)
    assert write(0, 1) != write(1, 1)


@pytest.mark.parametrize(
    ("knobs", "max_op", "key"),
    [
        (Knobs(max_ip=2, max_layers=2, max_items=2), 20, "max_op"),
        (Knobs(max_ip=20, max_layers=5), 5, "max_layers"),
        (Knobs(max_ip=20, max_items=6), 5, "max_items"),
        (Knobs(max_ip=1), 1, "max_ip"),
        (Knobs(max_ip=20), 60, "max_op"),
    ],
)
def test_knobs_that_cannot_make_a_problem_are_refused_by_name(knobs, max_op, key):
    with pytest.raises(ValueError, match=rf"igsm\.{key}"):
        knobs.check(max_op, "igsm")


def test_the_question_stands_after_the_statements_or_before_them():
    problems = ProblemSet("test", 6, 3)
    pq, qp = (make_set(Knobs(4, 2, 2, question=q), problems, seed=0)[0] for q in ("last", "first"))
    columns = ["text", "question", "solution", "answer"]
    assert pq[columns].equals(qp[columns])  # the same problems, only what the model reads differs
    assert not pq["question_first"].any() and qp["question_first"].all()
    for row, read_pq, read_qp in zip(pq.itertuples(), prompts(pq), prompts(qp), strict=True):
        assert read_pq == f"{row.text} Question: {row.question} Solution:"
        assert read_qp == f"Question: {row.question} {row.text} Solution:"
    with pytest.raises(ValueError, match=r"question: 'middle' is not one of \['last', 'first'\]"):
        Knobs.from_config({"max_ip": 4, "question": "middle"})


def test_a_bad_problem_set_is_refused_by_name():
    good = {"split": "train", "problems": 10, "max_op": 5}
    for key, value in [("op_distribution", "normal"), ("split", "valid"), ("retry", 1.0), ("min_op", 6)]:
        with pytest.raises(ValueError, match=rf"^{key}: "):
            ProblemSet.from_config({**good, key: value})


def test_retry_data_takes_back_only_parameters_that_cannot_be_computed_yet():
    problems, params = make_set(MED, ProblemSet("train", 300, 8, retry=0.5), seed=0)
    retries = 0
    for row in problems.itertuples():
        verdict = check(row.text, row.question, " ".join(row.solution))
        assert verdict.correct and verdict.shortest and verdict.answer == row.answer
        defined = set()
        table = params[params["problem"] == row.problem].set_index("name")
        for k, step in enumerate(verdict.steps):
            if step.retry:  # the taken-back parameter is not defined yet and cannot be computed yet
                at = igsm_sets.at_position(*table.loc[step.name, ["step", "ready", "nece", "value"]], k)
                assert not at["known"] and not at["can_next"] and step.name not in defined
                retries += 1
            else:  # labels count retry sentences: the parameter's step is this sentence
                assert table.loc[step.name, "step"] == k
                defined.add(step.name)
    # P(at least one retry before a sentence) is q = 0.5 where a wrong parameter exists
    sentences = problems["solution"].map(len).sum()
    assert 0.3 < retries / (sentences - retries) < 1.0


def test_retry_zero_leaves_the_clean_set_unchanged():
    clean, _ = make_set(MED, ProblemSet("train", 50, 8), seed=0)
    zero, _ = make_set(MED, ProblemSet("train", 50, 8, retry=0.0), seed=0)
    assert clean.equals(zero)
    assert not any("[BACK]" in s for steps in clean["solution"] for s in steps)


def test_the_retry_word_is_one_token_that_decoding_keeps(tmp_path):
    from transformers import PreTrainedTokenizerFast

    igsm_sets.write_tokenizer(out_dir=tmp_path)
    tokenizer = PreTrainedTokenizerFast.from_pretrained(tmp_path)
    text = "Define Lion Rock's Tiger as [BACK]. Define Lion Rock's Tiger as e; so e = 4."
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.convert_ids_to_tokens(ids).count("[BACK]") == 1
    assert tokenizer.decode(ids, skip_special_tokens=True).strip() == text


def test_a_minimal_pair_is_one_problem_asked_two_questions():
    knobs = Knobs(max_ip=4, max_layers=2, max_items=2)  # the default's easy world: few questions a graph
    pairs, _ = make_set(knobs, ProblemSet("train", 400, 3, op_distribution="uniform", pairs=True), seed=0)
    first, partner = pairs.iloc[0::2].reset_index(), pairs.iloc[1::2].reset_index()
    assert (first.text == partner.text).all() and (first.template == partner.template).all()
    assert (first.question != partner.question).all()
    for row in pairs.itertuples():  # each is a whole problem: its own shortest solution and answer
        verdict = check(row.text, row.question, " ".join(row.solution))
        assert verdict.correct and verdict.shortest and verdict.answer == row.answer
        assert row.op == sum(step.count("; ") for step in row.solution)
    for rows in (first, partner):  # both keep the set's op mix (uniform over 1-3)
        assert rows.op.value_counts(normalize=True).between(0.22, 0.45).all()
    unpaired, _ = make_set(knobs, ProblemSet("train", 2, 3, op_distribution="uniform"), seed=0)
    assert unpaired.text[0] != unpaired.text[1]
    problem = make_problem(knobs, 1, random.Random(0))
    assert igsm.reask(problem, 40, random.Random(0)) is None  # no parameter of that op
