"""V-probe examples carry the labels of the dependency graph at the right cut of the text."""

import pytest

from physlm.engine.config_types import ModelConfig, VProbeConfig
from physlm.engine.models import build_model
from physlm.engine.tokenizer import build_tokenizer
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import PROBE_MARKERS, UNKNOWN, ProblemSet, lexicon, make_set
from physlm.reasoning.vprobe import TASKS, examples, probe_task


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(lexicon(), extra_special=PROBE_MARKERS)


@pytest.fixture(scope="module")
def data():
    return make_set(Knobs(max_ip=6, max_layers=3, max_items=2), ProblemSet("test", 16, 4), seed=0)


def decode_query(tokenizer, ids: list[int]) -> tuple[str, list[str]]:
    """(the text before [START], the names between the markers)."""
    tokens = tokenizer.convert_ids_to_tokens(ids)
    start = tokens.index("[START]")
    prefix = tokenizer.decode(ids[1:start]).strip()
    inside, names, current = tokens[start + 1 : -1], [], []
    for t in inside:
        if t == "[MID]":
            names.append(current)
            current = []
        else:
            current.append(t)
    names.append(current)
    return prefix, [tokenizer.convert_tokens_to_string(n).strip() for n in names]


@pytest.mark.parametrize("task", TASKS)
def test_examples_are_cut_where_the_task_reads_and_labelled_from_the_graph(tokenizer, data, task):
    problems, params = data
    ids, labels, owner = examples(tokenizer, problems, params, task, queries=3, seed=0)
    assert len(ids) == len(labels) == len(owner) == 3 * len(problems)
    for x, label, p in zip(ids, labels, owner, strict=True):
        problem = problems.set_index("problem").loc[p]
        table = params[params.problem == p].set_index("name")
        prefix, names = decode_query(tokenizer, x)
        question = f"{problem.text} Question: {problem.question} Solution:"
        if task == "dep":
            assert prefix == problem.text
            a, b = names
            assert label == int(table.loc[b, "param"] in set(table.loc[a, "dep"]))
            continue
        (name,) = names
        row = table.loc[name]
        if task == "nece":
            assert prefix == question and label == int(row["nece"])
            continue
        assert prefix.startswith(question)
        k = len([s for s in problem.solution if s in prefix[len(question) :]])  # sentences already written
        known = 0 <= row["step"] < k
        inputs_known = all(0 <= table.set_index("param").loc[j, "step"] < k for j in row["inputs"])
        expected = {
            "known": known,
            "value": row["value"] if known else UNKNOWN,
            "can_next": not known and inputs_known,
            "nece_next": not known and inputs_known and row["nece"],
        }[task]
        assert label == int(expected)


def test_with_the_question_first_the_problem_is_read_with_its_question(tokenizer, data):
    problems, params = data
    qp = problems.assign(question_first=True)
    for task in ("dep", "nece"):
        ids, _, owner = examples(tokenizer, qp, params, task, queries=1, seed=0)
        for x, p in zip(ids, owner, strict=True):
            problem = qp.set_index("problem").loc[p]
            read = f"Question: {problem.question} {problem.text}"
            assert decode_query(tokenizer, x)[0] == (read if task == "dep" else f"{read} Solution:")


def test_examples_are_the_same_for_a_seed(tokenizer, data):
    assert examples(tokenizer, *data, "known", 3, seed=1) == examples(tokenizer, *data, "known", 3, seed=1)
    assert examples(tokenizer, *data, "known", 3, seed=1) != examples(tokenizer, *data, "known", 3, seed=2)


def test_a_probe_scores_held_out_problems_beside_the_majority(tokenizer, data):
    model = build_model(
        ModelConfig("llama", 2, 2, 32, 256), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 0
    )
    cfg = VProbeConfig(
        tasks=["nece"], queries=4, rank=2, steps=3, batch_size=8, lr=1e-3, embedding_lr=1e-4, weight_decay=0.0
    )
    result = probe_task(model, tokenizer, *data, "nece", cfg, seed=0, log=lambda _: None)
    problems = data[0]
    held_out = (problems["problem"] % 4 == 0).sum()
    assert result["n_test"] == 4 * held_out and result["n_train"] == 4 * (len(problems) - held_out)
    assert 0 <= result["accuracy"] <= 1 and 0 <= result["majority"] <= 1
