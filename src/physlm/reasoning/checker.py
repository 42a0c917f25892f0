"""Judge an iGSM solution from text alone: the problem's sentences, its question, and a solution that
the generator or a model wrote.

The checker shares nothing with the generator but the world's names (which items belong to which
category layer): it parses the statements back into formulas, derives abstract parameters from the
structure the statements name, computes every value itself, and then walks the solution sentence by
sentence. A step is right when it defines a parameter of the problem, once, whose inputs are all
defined before it, with clauses that use only letters defined before them, whose arithmetic (mod 23)
holds, that combine exactly the parameter's inputs, and that give its true value. The first wrong step
and why is what finding 3's mistake labels are made of.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from physlm.reasoning.igsm_names import CATEGORIES, LAYER_OF

MOD = 23

# Why a step is wrong, in the order they are checked.
FORMAT = "format"  # the sentence does not parse
UNKNOWN = "unknown parameter"  # not a parameter of this problem
REDEFINED = "redefined"  # defined earlier in the solution
NOT_COMPUTABLE = "not computable"  # one of its inputs is not defined yet
UNDEFINED_OPERAND = "undefined operand"  # a letter used before it is defined, or defined twice
ARITHMETIC = "arithmetic"  # a clause's numbers do not add up, or a letter's value is misquoted
WRONG_VALUE = "wrong value"  # not the parameter's formula, or not its true value


@dataclass(frozen=True)
class Formula:
    """A statement's right-hand side: const | equals | sum | diff over `refs`, maybe wrapped."""

    kind: str
    refs: tuple[str, ...]
    constant: int = 0
    wrap: str | None = None
    n: int = 0

    def value(self, values: list[int]) -> int:
        if self.kind == "const":
            inner = self.constant
        elif self.kind == "diff":
            inner = values[0] - values[1]
        else:
            inner = sum(values)
        if self.wrap == "more":
            inner += self.n
        elif self.wrap == "times":
            inner *= self.n
        return inner % MOD


_STATEMENT = re.compile(r"The number of each (.+?) equals (.+)")
_QUESTION = re.compile(r"How many (.+) does (.+) have\?")
_DEFINE = re.compile(r"Define (.+) as ([A-Za-z]); (.+)")
_RETRY = re.compile(r"Define (.+) as \[BACK\]")


def _sentences(text: str) -> list[str]:
    """Sentences without their final period (names hold no periods)."""
    return [s.removesuffix(".") for s in re.split(r"(?<=\.) ", text.strip()) if s]


def _formula(text: str) -> Formula:
    wrap, n = None, 0
    if m := re.fullmatch(r"(\d+) more than (.+)", text):
        wrap, n, text = "more", int(m[1]), m[2]
    elif m := re.fullmatch(r"(\d+) times as much as (.+)", text):
        wrap, n, text = "times", int(m[1]), m[2]
    if text.isdigit():
        return Formula("const", (), int(text), wrap, n)
    if m := re.fullmatch(r"the difference of each (.+) and each (.+)", text):
        return Formula("diff", (m[1], m[2]), 0, wrap, n)
    if m := re.fullmatch(r"the sum of (.+)", text):
        refs = re.split(r", | and ", m[1])
        if not all(r.startswith("each ") for r in refs):
            raise ValueError(f"cannot parse the sum {text!r}")
        return Formula("sum", tuple(r.removeprefix("each ") for r in refs), 0, wrap, n)
    if text.startswith("each "):
        return Formula("equals", (text.removeprefix("each "),), 0, wrap, n)
    raise ValueError(f"cannot parse the formula {text!r}")


@dataclass
class Problem:
    """A problem parsed from its text: instance parameters' formulas, the structure they name, and
    the question; values and dependencies computed on demand."""

    formulas: dict[str, Formula]
    question: str
    children: dict[str, list[str]] = field(default_factory=dict)
    _values: dict[str, int] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str, question: str) -> Problem:
        formulas = {}
        for sentence in _sentences(text):
            m = _STATEMENT.fullmatch(sentence)
            if not m:
                raise ValueError(f"cannot parse the statement {sentence!r}")
            formulas[m[1]] = _formula(m[2])
        q = _QUESTION.fullmatch(question.strip())
        if not q:
            raise ValueError(f"cannot parse the question {question!r}")
        problem = cls(formulas, f"{q[2]}'s {q[1]}")
        for name in formulas:
            parent, child = _split(name)
            problem.children.setdefault(parent, []).append(child)
        if not problem.is_parameter(problem.question):
            raise ValueError(f"the question asks for {problem.question!r}, not a parameter of the problem")
        return problem

    def is_parameter(self, name: str) -> bool:
        if name in self.formulas:
            return True
        parent, child = _split(name)
        return child in CATEGORIES and self._reaches(parent, child)

    def _reaches(self, item: str, category: str) -> bool:
        """Whether `item` has descendants in `category`'s layer (an abstract parameter exists)."""
        if item not in LAYER_OF or LAYER_OF[item][0] != LAYER_OF[category][0]:
            return False
        if LAYER_OF[item][1] >= LAYER_OF[category][1] or item not in self.children:
            return False
        return all(
            LAYER_OF[c][1] == LAYER_OF[category][1] or self._reaches(c, category) for c in self.children[item]
        )

    def inputs(self, name: str) -> list[str]:
        """The parameters `name` is computed from directly."""
        if name in self.formulas:
            return list(self.formulas[name].refs)
        parent, category = _split(name)
        out = []
        for child in self.children[parent]:
            out.append(f"{parent}'s {child}")
            if LAYER_OF[child][1] < LAYER_OF[category][1]:
                out.append(f"{child}'s {category}")
        return out

    def value(self, name: str, _visiting: frozenset = frozenset()) -> int:
        if name in self._values:
            return self._values[name]
        if name in _visiting:
            raise ValueError(f"{name!r} depends on itself: the problem has no solution")
        if not self.is_parameter(name):
            raise ValueError(f"{name!r} is not a parameter of the problem")
        values = [self.value(j, _visiting | {name}) for j in self.inputs(name)]
        if name in self.formulas:
            value = self.formulas[name].value(values)
        elif len(values) > 1 and not self._direct(name):  # sum over children of link x child's count
            value = sum(a * b for a, b in zip(values[::2], values[1::2], strict=True)) % MOD
        else:
            value = sum(values) % MOD
        self._values[name] = value
        return value

    def _direct(self, name: str) -> bool:
        parent, category = _split(name)
        return LAYER_OF[category][1] == LAYER_OF[parent][1] + 1

    def necessary(self) -> set[str]:
        """The question and everything it depends on."""
        seen, todo = set(), [self.question]
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo += self.inputs(name)
        return seen


def _split(name: str) -> tuple[str, str]:
    parent, sep, child = name.partition("'s ")
    if not sep or "'s " in child:
        raise ValueError(f'{name!r} is not a parameter name ("<item>\'s <item or category>")')
    return parent, child


@dataclass(frozen=True)
class Step:
    """One solution sentence judged: the parameter it defines, its letter and value (None if it does
    not parse), whether the question needs it, its error (None: right), and whether it is a retry."""

    text: str
    name: str | None
    letter: str | None
    value: int | None
    necessary: bool
    error: str | None
    retry: bool = False


@dataclass(frozen=True)
class Verdict:
    """A whole solution judged: correct (every step right and the question's parameter defined with
    its true value), shortest (correct, and only necessary parameters defined; retries aside)."""

    steps: list[Step]
    answer: int | None
    truth: int
    correct: bool
    shortest: bool

    @property
    def first_error(self) -> int | None:
        return next((k for k, s in enumerate(self.steps) if s.error), None)

    @property
    def retries(self) -> int:
        return sum(s.retry for s in self.steps)


def _operand(token: str, letters: dict[str, int]) -> tuple[int, str | None]:
    """A clause operand's value and the letter it names (None for a number); KeyError if undefined."""
    return (int(token), None) if token.isdigit() else (letters[token], token)


def _clause_value(parts: list[str], local: dict[str, int], used: list[str]) -> tuple[int | None, str | None]:
    """(value, None) of one clause split at " = " ("g = 6", "g = W = 13", "R = W + B = 13 + 7 = 20")
    from the letters in `local`, adding the letters it reads to `used`; or (None, the error)."""
    try:
        if len(parts) == 2:  # "g = 6"
            return (int(parts[1]), None) if parts[1].isdigit() else (None, FORMAT)
        if len(parts) == 3:  # "g = W = 13"
            value, named = _operand(parts[1], local)
            used.append(named)
            return (value, None) if str(value) == parts[2] else (None, ARITHMETIC)
        if len(parts) == 4:  # "R = W + B = 13 + 7 = 20"
            sym, num = parts[1].split(" "), parts[2].split(" ")
            if len(sym) != 3 or len(num) != 3 or sym[1] != num[1] or sym[1] not in "+-*":
                return None, FORMAT
            (a, name_a), (b, name_b) = _operand(sym[0], local), _operand(sym[2], local)
            used += [name_a, name_b]
            if [str(a), str(b)] != [num[0], num[2]]:
                return None, ARITHMETIC
            value = {"+": a + b, "-": a - b, "*": a * b}[sym[1]] % MOD
            return (value, None) if str(value) == parts[3] else (None, ARITHMETIC)
        return None, FORMAT
    except KeyError:
        return None, UNDEFINED_OPERAND
    except ValueError:
        return None, FORMAT


def _judge_step(text: str, problem: Problem, letters: dict[str, int], defined: dict[str, str]) -> Step:
    """Judge one sentence given the letters (-> values) and parameters (-> letters) defined so far;
    on success records the step's letter and parameter."""
    if m := _RETRY.fullmatch(text):
        return Step(text, m[1], None, None, False, None, retry=True)
    m = _DEFINE.fullmatch(text)
    if not m:
        return Step(text, None, None, None, False, FORMAT)
    name, var, body = m[1], m[2], m[3]
    try:
        known = problem.is_parameter(name)
    except ValueError:
        known = False
    if not known:
        return Step(text, name, var, None, False, UNKNOWN)
    necessary = name in problem.necessary()

    def verdict(error: str | None, value: int | None = None) -> Step:
        return Step(text, name, var, value, necessary, error)

    if name in defined:
        return verdict(REDEFINED)
    if any(j not in defined for j in problem.inputs(name)):
        return verdict(NOT_COMPUTABLE)
    clauses = body.split("; ")
    if not clauses[-1].startswith("so ") or var in letters:
        return verdict(FORMAT if not clauses[-1].startswith("so ") else UNDEFINED_OPERAND)
    local, used = dict(letters), []
    value = None
    for k, clause in enumerate(clauses):
        last = k == len(clauses) - 1
        parts = clause.removeprefix("so ").split(" = ")
        target = parts[0]
        if not re.fullmatch("[A-Za-z]", target):
            return verdict(FORMAT)
        if (target != var) if last else (target in local or target == var):
            return verdict(UNDEFINED_OPERAND)
        value, error = _clause_value(parts, local, used)
        if error:
            return verdict(error)
        local[target] = value
    param_of = {letter: param for param, letter in defined.items()}
    operands = {param_of[letter] for letter in used if letter in param_of}
    if operands != set(problem.inputs(name)) or value != problem.value(name):
        return verdict(WRONG_VALUE, value)
    letters[var] = value
    defined[name] = var
    return verdict(None, value)


def check(text: str, question: str, solution: str) -> Verdict:
    """Judge `solution` (its sentences, "Define ... ." each) of the problem `text` asking `question`.
    Raises ValueError if the problem itself does not parse or has no solution."""
    problem = Problem.parse(text, question)
    truth = problem.value(problem.question)
    letters: dict[str, int] = {}
    defined: dict[str, str] = {}
    steps = [_judge_step(s, problem, letters, defined) for s in _sentences(solution)]
    answer = letters.get(defined[problem.question]) if problem.question in defined else None
    correct = answer == truth and all(s.error is None for s in steps)
    shortest = correct and all(s.necessary or s.retry for s in steps)
    return Verdict(steps, answer, truth, correct, shortest)
