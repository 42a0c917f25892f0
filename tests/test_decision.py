"""The decision after each solution step: read at each step's period, split by what was defined."""

import pandas as pd
import pytest
import torch

from physlm.reasoning.decision import PARTS, _layout, _parts, decisions, summarize
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet, make_set, make_tokenizer, prompt


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def problem_set():
    return make_set(Knobs(4, 2, 2), ProblemSet("test", 3, 3, op_distribution="each"), seed=0)


def _document(tokenizer, row) -> list[int]:
    text = f"{prompt(row.text, row.question, row.question_first)} {' '.join(row.solution)}"
    return [tokenizer.eos_token_id, *tokenizer(text)["input_ids"]]


@pytest.mark.parametrize("question", ["last", "first"])
def test_the_parts_seen_from_a_period_are_the_step_just_written_and_what_came_before(tokenizer, question):
    knobs = Knobs(4, 2, 2, question=question)
    problems, _ = make_set(knobs, ProblemSet("test", 3, 3, op_distribution="each"), seed=0)
    row = next(r for r in problems.itertuples() if len(r.solution) >= 2)
    ids = torch.tensor(_document(tokenizer, row))
    layout = _layout(tokenizer.convert_ids_to_tokens(ids))
    periods = layout[-1]
    assert len(periods) == len(row.solution)
    for k, step in enumerate(row.solution):
        parts = _parts(*layout, k)
        assert tokenizer.decode(ids[parts["this step"]]).strip() == step
        assert tokenizer.decode(ids[parts["steps before"]]).strip() == " ".join(row.solution[:k])
        assert tokenizer.decode(ids[parts["question"]]).strip() == f"Question: {row.question} Solution:"
        assert tokenizer.decode(ids[parts["statements"]]).strip() == row.text
        # the parts tile the text up to the period: attention shares over them sum to 1
        assert sum(len(ids[s]) for s in parts.values()) == periods[k] + 1


class _EndsAtPeriods(torch.nn.Module):
    """Stand-in model: at a "." it predicts the end token, elsewhere something else; each position
    attends only to the question's first token."""

    def __init__(self, tokenizer):
        super().__init__()
        self.period, self.eos = tokenizer.convert_tokens_to_ids("."), tokenizer.eos_token_id
        self.question = tokenizer.convert_tokens_to_ids("▁Question")
        self.vocab = len(tokenizer)

    def forward(self, input_ids, output_attentions, use_cache):
        n = input_ids.shape[1]
        logits = torch.zeros(1, n, self.vocab)
        logits[0, :, self.eos + 1] = 10.0
        logits[0, input_ids[0] == self.period, self.eos] = 20.0
        weights = torch.zeros(1, 2, n, n)
        weights[0, :, :, (input_ids[0] == self.question).nonzero()[0, 0]] = 1.0
        return type("Out", (), {"logits": logits, "attentions": (weights,)})


def test_the_end_is_read_at_each_period_and_steps_are_told_apart_by_the_asked_parameter(
    tokenizer, problem_set
):
    problems, params = problem_set
    steps, looks = decisions(_EndsAtPeriods(tokenizer), tokenizer, problems, params)
    assert len(steps) == sum(len(s) for s in problems["solution"])
    # read one token later (the next "Define"), the end would be unlikely
    assert (steps["p_end"] > 0.99).all()
    assert (steps["last"] == (steps["step"] == steps["steps"])).all()
    asked_abstract = params[params.nece].sort_values("step").groupby("problem").last()["abstract"]
    kinds = steps.groupby("problem")["asked"].first()
    assert (kinds == asked_abstract.loc[kinds.index].map({True: "abstract", False: "stated"})).all()
    question = looks[looks.part == "question"]["share"]
    assert (question == 1.0).all() and (looks[looks.part != "question"]["share"] == 0).all()
    assert set(looks["part"]) == set(PARTS)


def test_the_summary_counts_early_ends_by_kind_of_step():
    steps = pd.DataFrame(
        {
            "problem": [0, 0, 1, 1],
            "op": [2, 2, 2, 2],
            "step": [1, 2, 1, 2],
            "steps": [2, 2, 2, 2],
            "last": [False, True, False, True],
            "asked": ["stated"] * 4,
            "p_end": [0.9, 0.95, 0.2, 0.99],
        }
    )
    looks = steps.assign(layer=1, part="question", share=[0.5, 0.1, 0.3, 0.1])
    table = summarize(steps, looks).set_index(["measure", "last"])
    assert table.loc[("ends", False), "value"] == 0.5  # one of two non-final steps would end
    assert table.loc[("p_end", False), "value"] == pytest.approx(0.55)
    assert table.loc[("attention", False), "value"] == pytest.approx(0.4)
    assert table.loc[("attention", True), "value"] == pytest.approx(0.1)
