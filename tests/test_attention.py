"""Attention at the solution's start: statements found at the right tokens, mass split by kind."""

import pandas as pd
import pytest
import torch

from physlm.engine.corpus import prompt_ids
from physlm.reasoning.attention import attention_by_layer, statement_spans, summarize
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet, make_set, make_tokenizer, prompt


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


@pytest.fixture(scope="module")
def problem_set():
    return make_set(Knobs(6, 3, 2), ProblemSet("test", 6, 3, op_distribution="each"), seed=0)


@pytest.mark.parametrize("question_first", [False, True])
def test_statement_spans_cover_each_statement_and_nothing_else(tokenizer, problem_set, question_first):
    problems, _ = problem_set
    row = problems.iloc[0]
    ids = prompt_ids(tokenizer, [prompt(row.text, row.question, question_first)])[0]
    spans = statement_spans(tokenizer, ids)
    texts = [tokenizer.decode(ids[a:b]).strip() for a, b in spans]
    assert texts == [s if s.endswith(".") else s + "." for s in row.text.split(". ")]


class _Looks(torch.nn.Module):
    """Stand-in model with one layer whose last position attends only to tokens in `seen`."""

    def __init__(self, seen: list[int]):
        super().__init__()
        self.seen = seen

    def forward(self, input_ids, output_attentions, use_cache):
        weights = torch.zeros(1, 2, input_ids.shape[1], input_ids.shape[1])
        weights[0, :, -1, self.seen] = 1.0 / len(self.seen)
        return type("Out", (), {"attentions": (weights,)})


def test_attention_is_split_between_necessary_and_unnecessary_statements(tokenizer, problem_set):
    problems, params = problem_set
    row = problems[problems.op >= 2].iloc[0]
    ids = prompt_ids(tokenizer, [prompt(row.text, row.question)])[0]
    spans = statement_spans(tokenizer, ids)
    names = [s.split(" equals")[0].removeprefix("The number of each ") for s in row.text.split(". ")]
    nece = params[params.problem == row.problem].set_index("name")["nece"]
    first_necessary = next(span for span, name in zip(spans, names, strict=True) if nece[name])
    looks = _Looks([first_necessary[0]])  # one token of one necessary statement gets everything
    table = attention_by_layer(looks, tokenizer, problems[problems.problem == row.problem], params)
    per_kind = table.set_index("statements")["per_token"]
    necessary_tokens = sum(b - a for (a, b), name in zip(spans, names, strict=True) if nece[name])
    assert per_kind["necessary"] == pytest.approx(1.0 / necessary_tokens)
    assert per_kind["unnecessary"] == 0
    shifted = _Looks([first_necessary[0] - 1])  # one token earlier: the statement before, or "Solution"
    assert (
        attention_by_layer(shifted, tokenizer, problems[problems.problem == row.problem], params)[
            "per_token"
        ].tolist()
        != table["per_token"].tolist()
    )


def test_summary_is_the_mean_ratio_per_layer():
    table = pd.DataFrame(
        {
            "problem": [0, 0, 1, 1],
            "layer": 1,
            "statements": ["necessary", "unnecessary"] * 2,
            "per_token": [0.2, 0.1, 0.3, 0.3],
        }
    )
    summary = summarize(table)
    assert summary["ratio"].tolist() == pytest.approx([1.5]) and summary["problems"].tolist() == [2]
