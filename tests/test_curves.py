"""Learning curves: token roles of a solution, teacher-forced accuracy read at the right token, and
where wrong constants come from."""

from types import SimpleNamespace

import pandas as pd
import pytest
import torch

from physlm.reasoning.curves import (
    constant_lookups,
    decision_accuracy,
    lookup_kind,
    role_accuracy,
    statement_numbers,
    token_roles,
)
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet, make_set, make_tokenizer

SOLUTION = (
    "Define Zoo's Lion as g; R = W + B = 13 + 7 = 20; so g = 12 + R = 12 + 20 = 9. "
    "Define Zoo's Animal as W; so W = 6."
)


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


def test_each_token_of_a_solution_gets_its_role(tokenizer):
    tokens = [*tokenizer.convert_ids_to_tokens(tokenizer(SOLUTION)["input_ids"]), "[EOS]"]
    roles = token_roles(tokens)
    words = [t.removeprefix("▁") for t in tokens]
    by_word = [(w, r) for w, r in zip(words, roles, strict=True) if r != "format"]
    assert by_word == [
        ("Zoo", "name"), ("'", "name"), ("s", "name"), ("Lion", "name"),
        ("g", "new_letter"),
        ("R", "new_letter"), ("W", "letter_copy"), ("B", "letter_copy"),
        ("13", "value_copy"), ("7", "value_copy"), ("20", "arithmetic"),
        ("g", "letter_copy"), ("12", "constant"), ("R", "letter_copy"),
        ("12", "value_copy"), ("20", "value_copy"), ("9", "arithmetic"),
        ("Define", "continue"),
        ("Zoo", "name"), ("'", "name"), ("s", "name"), ("Animal", "name"),
        ("W", "new_letter"), ("W", "letter_copy"), ("6", "answer"),
        ("[EOS]", "stop"),
    ]  # fmt: skip


def test_a_copied_value_in_a_one_operand_step_is_a_value_copy():
    tokens = ["▁Define", "▁A", "▁as", "▁g", ";", "▁so", "▁g", "▁", "=", "▁W", "▁", "=", "▁13", ".", "[EOS]"]
    roles = token_roles(tokens)
    assert roles[9] == "letter_copy" and roles[12] == "answer" and roles[14] == "stop"


class _Oracle(torch.nn.Module):
    """Predicts, at every position, the token that follows it, except the end of a document: there it
    predicts padding. Teacher-forced accuracy: 1 for every role but stop, 0 for stop."""

    def __init__(self, vocabulary: int, eos: int, pad: int):
        super().__init__()
        self.vocabulary, self.eos, self.pad = vocabulary, eos, pad
        self.weight = torch.nn.Parameter(torch.zeros(1))

    def forward(self, input_ids, use_cache=False):
        following = torch.cat([input_ids[:, 1:], torch.full_like(input_ids[:, :1], self.pad)], dim=1)
        following = torch.where(following == self.eos, self.pad, following)
        return SimpleNamespace(logits=torch.nn.functional.one_hot(following, self.vocabulary).float())


def test_teacher_forced_accuracy_reads_each_role_at_its_own_token(tokenizer):
    problems, _ = make_set(Knobs(4, 2, 2), ProblemSet("test", 12, 3, op_distribution="each"), seed=0)
    oracle = _Oracle(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    table = role_accuracy(oracle, tokenizer, problems, batch_size=5).set_index("group")
    assert table.loc["stop", "accuracy"] == 0 and table.loc["stop", "n"] == 12
    assert (table.drop(index="stop")["accuracy"] == 1).all()
    assert table.loc["answer", "n"] == 12 and table.loc["continue", "n"] == sum(
        len(s) - 1 for s in problems["solution"]
    )


def test_the_decision_is_read_after_each_period_and_split_by_what_the_question_asks(tokenizer):
    problems, params = make_set(Knobs(4, 2, 2), ProblemSet("test", 30, 3, op_distribution="each"), seed=0)
    oracle = _Oracle(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)  # never ends
    table = decision_accuracy(oracle, tokenizer, problems, batch_size=7).set_index("group")
    assert table.loc["end", "accuracy"] == 0 and table.loc["end", "n"] == 30
    asked = params[params.nece].sort_values("step").groupby("problem")["abstract"].last()
    steps = problems.set_index("problem")["solution"].map(len)
    for kind, abstract in (("stated", False), ("abstract", True)):
        chosen = asked[asked == abstract].index
        assert table.loc[f"go on, asked {kind}", "n"] == (steps.loc[chosen] - 1).sum() > 0
        assert table.loc[f"go on, asked {kind}", "accuracy"] == 1


NUMBERS = statement_numbers(
    "The number of each Zoo's Lion equals 5. The number of each Zoo's Tiger equals 7. "
    "The number of each Farm's Lion equals 9 more than each Zoo's Tiger."
)


def test_a_wrong_constant_is_traced_to_the_statement_it_shares_half_a_name_with():
    assert {"Zoo's Lion": {"5"}, "Zoo's Tiger": {"7"}, "Farm's Lion": {"9"}} == NUMBERS
    assert lookup_kind("Zoo's Lion", "5", NUMBERS) == "right statement"
    assert lookup_kind("Zoo's Lion", "7", NUMBERS) == "same entity"
    assert lookup_kind("Zoo's Lion", "9", NUMBERS) == "same attribute"
    assert lookup_kind("Farm's Lion", "7", NUMBERS) == "other statement"
    assert lookup_kind("Zoo's Lion", "11", NUMBERS) == "no statement"
    assert lookup_kind("Zoo's Lion", "g", NUMBERS) == "not a number"


class _Misreads(_Oracle):
    """The oracle, except that where the next token is `right` it predicts `wrong`."""

    def __init__(self, tokenizer, right: str, wrong: str):
        super().__init__(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
        self.right, self.wrong = tokenizer.convert_tokens_to_ids([right, wrong])

    def forward(self, input_ids, use_cache=False):
        logits = super().forward(input_ids).logits
        misread = logits[..., self.right] == 1
        logits[misread] = torch.nn.functional.one_hot(torch.tensor(self.wrong), self.vocabulary).float()
        return SimpleNamespace(logits=logits)


@pytest.mark.parametrize("wrong, kind", [("▁7", "same entity"), ("▁9", "same attribute")])
def test_constant_lookups_count_the_models_wrong_constants_against_chance(tokenizer, wrong, kind):
    problems = pd.DataFrame(
        {
            "text": [
                "The number of each Zoo's Lion equals 5. The number of each Zoo's Tiger equals 7. "
                "The number of each Farm's Lion equals 9."
            ],
            "question": ["How many Lion does Zoo have?"],
            "question_first": [False],
            "solution": [["Define Zoo's Lion as g; so g = 5.", "Define Zoo's Tiger as T; so T = 7."]],
        }
    )
    table = constant_lookups(_Misreads(tokenizer, "▁5", wrong), tokenizer, problems).set_index(
        ["measure", "group"]
    )
    model, chance = table.loc["constant errors", "accuracy"], table.loc["constant errors, chance", "accuracy"]
    assert model[kind] == 1 and model.sum() == 1  # one constant ("5"); the last number is the answer
    assert table["n"].eq(1).all()
    # a uniform other value: 7 and 9 are 1 of 22 each, the other 20 in no statement
    assert chance["same entity"] == pytest.approx(1 / 22) and chance["same attribute"] == pytest.approx(
        1 / 22
    )
    assert chance["no statement"] == pytest.approx(20 / 22)


def test_an_oracle_makes_no_wrong_constants(tokenizer):
    problems, _ = make_set(Knobs(4, 2, 2), ProblemSet("test", 6, 3, op_distribution="each"), seed=0)
    oracle = _Oracle(len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id)
    table = constant_lookups(oracle, tokenizer, problems)
    assert (table["n"] == 0).all() and (table["accuracy"] == 0).all()
