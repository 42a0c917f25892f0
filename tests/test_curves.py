"""Learning curves: token roles of a solution, and teacher-forced accuracy read at the right token."""

from types import SimpleNamespace

import pytest
import torch

from physlm.curves import role_accuracy, token_roles
from physlm.data.igsm import Knobs, ProblemSet, make_set, make_tokenizer

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
