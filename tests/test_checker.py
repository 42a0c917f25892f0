"""The checker judges solutions from text alone; these problems are written by hand, not generated."""

import pytest

from physlm.reasoning import checker
from physlm.reasoning.checker import check

# Riverside Zoo holds Penguin Beach (3) and Lion Rock (2 more: 5); Penguin Beach holds Lion (3 + 5 = 8),
# Lion Rock holds Tiger (4). Riverside Zoo's Animal = 3 x 8 + 5 x 4 = 44 = 21 mod 23. Lion's Skull is
# a distractor.
PROBLEM = (
    "The number of each Riverside Zoo's Lion Rock equals 2 more than each Riverside Zoo's Penguin Beach. "
    "The number of each Lion's Skull equals 6. "
    "The number of each Penguin Beach's Lion equals the sum of each Riverside Zoo's Penguin Beach and "
    "each Riverside Zoo's Lion Rock. "
    "The number of each Lion Rock's Tiger equals 4. "
    "The number of each Riverside Zoo's Penguin Beach equals 3."
)
QUESTION = "How many Animal does Riverside Zoo have?"
STEPS = [
    "Define Riverside Zoo's Penguin Beach as a; so a = 3.",
    "Define Riverside Zoo's Lion Rock as b; so b = 2 + a = 2 + 3 = 5.",
    "Define Penguin Beach's Lion as c; so c = a + b = 3 + 5 = 8.",
    "Define Penguin Beach's Animal as d; so d = c = 8.",
    "Define Lion Rock's Tiger as e; so e = 4.",
    "Define Lion Rock's Animal as f; so f = e = 4.",
    "Define Riverside Zoo's Animal as g; R = a * d = 3 * 8 = 1; S = b * f = 5 * 4 = 20; "
    "so g = R + S = 1 + 20 = 21.",
]


def judge(steps):
    return check(PROBLEM, QUESTION, " ".join(steps))


def test_a_right_solution_is_correct_and_shortest():
    verdict = judge(STEPS)
    assert (verdict.correct, verdict.shortest, verdict.answer, verdict.truth) == (True, True, 21, 21)
    assert verdict.first_error is None and all(s.necessary for s in verdict.steps)


def replaced(k: int, text: str) -> list[str]:
    return [*STEPS[:k], text, *STEPS[k + 1 :]]


@pytest.mark.parametrize(
    ("steps", "step", "error"),
    [
        (replaced(4, "Define Lion Rock's Tiger as e; so e = 5."), 4, checker.WRONG_VALUE),
        (
            replaced(5, "Define Lion Rock's Animal as f; so f = 4."),
            5,
            checker.WRONG_VALUE,
        ),  # right number, no formula
        (replaced(2, "Define Penguin Beach's Lion as c; so c = a + b = 3 + 5 = 9."), 2, checker.ARITHMETIC),
        (replaced(2, "Define Penguin Beach's Lion as c; so c = a + b = 3 + 4 = 7."), 2, checker.ARITHMETIC),
        (
            replaced(2, "Define Penguin Beach's Lion as c; so c = a + x = 3 + 5 = 8."),
            2,
            checker.UNDEFINED_OPERAND,
        ),
        (
            replaced(2, "Define Penguin Beach's Lion as a; so a = a + b = 3 + 5 = 8."),
            2,
            checker.UNDEFINED_OPERAND,
        ),
        ([STEPS[1], STEPS[0], *STEPS[2:]], 0, checker.NOT_COMPUTABLE),  # a step out of order
        ([*STEPS[:3], STEPS[0], *STEPS[3:]], 3, checker.REDEFINED),
        (replaced(4, "Define Lion Rock's Giraffe as e; so e = 4."), 4, checker.UNKNOWN),
        (replaced(4, "Lion Rock's Tiger is 4."), 4, checker.FORMAT),
    ],
)
def test_a_wrong_step_is_found_and_named(steps, step, error):
    verdict = judge(steps)
    assert not verdict.correct and not verdict.shortest
    assert verdict.first_error == step and verdict.steps[step].error == error


def test_an_unnecessary_step_is_correct_but_not_shortest():
    verdict = judge([*STEPS[:2], "Define Lion's Skull as h; so h = 6.", *STEPS[2:]])
    assert verdict.correct and not verdict.shortest
    assert [s.necessary for s in verdict.steps] == [True, True, False, *[True] * 5]


def test_a_solution_that_stops_early_has_no_answer():
    verdict = judge(STEPS[:-1])
    assert verdict.answer is None and not verdict.correct


def test_values_and_dependencies_come_from_the_text():
    problem = checker.Problem.parse(PROBLEM, QUESTION)
    assert problem.value("Riverside Zoo's Animal") == 21
    assert problem.value("Riverside Zoo's Enclosure") == 3 + 5
    assert not problem.is_parameter("Riverside Zoo's Lion")  # abstract parameters are per category
    assert set(problem.inputs("Riverside Zoo's Enclosure")) == {
        "Riverside Zoo's Penguin Beach",
        "Riverside Zoo's Lion Rock",
    }
    assert "Lion's Skull" not in problem.necessary()
    assert not problem.is_parameter("Riverside Zoo's Bone")  # Tiger holds no bones: not defined


def test_a_problem_that_cannot_be_solved_is_refused():
    cyclic = (
        "The number of each Lion Rock's Tiger equals each Lion Rock's Lion. "
        "The number of each Lion Rock's Lion equals 1 more than each Lion Rock's Tiger."
    )
    with pytest.raises(ValueError, match="depends on itself"):
        check(cyclic, "How many Tiger does Lion Rock have?", "")
    with pytest.raises(ValueError, match="cannot parse"):
        check("Lions are many.", QUESTION, "")


def test_a_retry_is_no_error_and_no_extra_step():
    retried = [*STEPS[:2], "Define Lion Rock's Animal as [BACK].", *STEPS[2:]]
    verdict = judge(retried)
    assert verdict.correct and verdict.shortest and verdict.retries == 1
    assert verdict.steps[2].retry and verdict.steps[2].name == "Lion Rock's Animal"
    # a retry does not excuse a later mistake
    assert judge([*retried[:3], STEPS[3], *retried[3:]]).first_error == 3
