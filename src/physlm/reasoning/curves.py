"""Learning curves of a math model: where it fails (planning, lookup or arithmetic) and when it moved.

At every checkpoint the training loop calls `MathCurves`, which measures on a fixed batch of held-out
problems (test-split templates):
- greedy accuracy per op (the checker's verdict), with and without the distinct-letters rule
  (physlm.reasoning.solutions), so a collapse onto one letter shows as the gap between the two;
- teacher-forced accuracy per token role on the reference solutions: is the most likely next token
  the right one, given the right solution so far. Eval loss hides progress on this task (a broken and
  a working run can have the same loss: martin503/physics-of-llms-part2.1); roles do not;
- the decision after each step's period, split by what the question asks (`decision_accuracy`);
- where the wrong constants come from (`constant_lookups`): a number read from a statement that
  shares only the entity or only the attribute of the parameter's name is a binding error, told apart
  from chance by the share a random number would have.

The roles of a solution's tokens ("Define A's B as g; R = W + B = 13 + 7 = 20; so g = 12 + R = ..."):
- name: the parameter a step defines (planning: which parameter comes next);
- new_letter: a fresh variable's letter (a random symbol: only "not used yet" is learnable);
- letter_copy: a letter defined earlier (lookup within the solution);
- constant: a number copied from the problem (lookup in the statements);
- value_copy: the value of a letter, copied from where it was computed;
- arithmetic: the result of a binary operation mod 23; answer: the solution's last number;
- continue / stop: the token after a step's period, "Define" or the end (knowing when it is done);
- format: everything else (punctuation, "so", "=", operators).
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pandas as pd
import torch

from physlm.engine.artifacts import load_model, read_scale, with_identity, write_table
from physlm.engine.models import pick_device
from physlm.reasoning.checker import Problem
from physlm.reasoning.igsm import LETTERS, MOD
from physlm.reasoning.igsm_sets import prompts
from physlm.reasoning.solutions import accuracy_by_op, generate, judge

ROLES = (
    "name",
    "new_letter",
    "letter_copy",
    "constant",
    "value_copy",
    "arithmetic",
    "answer",
    "continue",
    "stop",
    "format",
)


def _clause_roles(words: list[str], clause: list[int], roles: list[str]) -> None:
    """Roles within one clause "[so] T = symbols [= values = result]" (token indices `clause`)."""
    if words[clause[0]] == "so":
        clause = clause[1:]
        roles[clause[0]] = "letter_copy"  # the step's own letter, named after "as"
    else:
        roles[clause[0]] = "new_letter"
    segments: list[list[int]] = [[]]
    for i in clause[1:]:
        if words[i] == "=":
            segments.append([])
        elif words[i]:
            segments[-1].append(i)
    kinds = {2: ["symbol"], 3: ["symbol", "value_copy"], 4: ["symbol", "value_copy", "arithmetic"]}
    for kind, segment in zip(kinds.get(len(segments), []), segments[1:], strict=False):
        for i in segment:
            if kind == "symbol" and words[i] in LETTERS:
                roles[i] = "letter_copy"
            elif words[i].isdigit():
                roles[i] = "constant" if kind == "symbol" else kind


def token_roles(tokens: list[str]) -> list[str]:
    """The role of each token of a solution written as `tokens` (the tokenizer's strings, the end
    token last), as the token a model must predict there."""
    words = [t.removeprefix("▁") for t in tokens]
    roles = ["format"] * len(words)
    sentence: list[int] = []
    for i, word in enumerate(words):
        if i > 0 and words[i - 1] == ".":
            roles[i] = "continue" if word == "Define" else "stop"
        if word != ".":
            sentence.append(i)
            continue
        # a whole step: Define <name> as <letter>; clause; ...; clause.
        at = [words[j] for j in sentence].index("as") if "as" in (words[j] for j in sentence) else None
        if at is not None:
            for j in sentence[1:at]:
                roles[j] = "name"
            clauses: list[list[int]] = [[]]
            for j in sentence[at + 1 :]:
                if words[j] == ";":
                    clauses.append([])
                else:
                    clauses[-1].append(j)
            if clauses[0] and words[clauses[0][0]] in LETTERS:
                roles[clauses[0][0]] = "new_letter"
            for clause in clauses[1:]:
                if clause:
                    _clause_roles(words, clause, roles)
        sentence = []
    numbers = [i for i, r in enumerate(roles) if r in ("constant", "value_copy", "arithmetic")]
    if numbers:
        roles[numbers[-1]] = "answer"
    return roles


def _teacher_forced(model, tokenizer, problems: pd.DataFrame, batch_size: int):
    """Per reference solution of `problems`: its row, its tokens (the end token last) and the token the
    model finds most likely at each, given the prompt and the right solution before it."""
    eos = tokenizer.eos_token_id
    encoded = tokenizer(prompts(problems))
    solutions = tokenizer([" ".join(steps) for steps in problems["solution"]])["input_ids"]
    device = next(model.parameters()).device
    model.eval()
    for start in range(0, len(solutions), batch_size):
        docs = [
            [eos, *p, *s, eos]
            for p, s in zip(
                encoded["input_ids"][start : start + batch_size],
                solutions[start : start + batch_size],
                strict=True,
            )
        ]
        width = max(map(len, docs))
        ids = torch.full((len(docs), width), tokenizer.pad_token_id, dtype=torch.long)
        for r, doc in enumerate(docs):
            ids[r, : len(doc)] = torch.tensor(doc)
        with torch.no_grad():
            predicted = model(input_ids=ids.to(device), use_cache=False).logits.argmax(-1).cpu()
        for r, doc in enumerate(docs):
            first = len(doc) - len(solutions[start + r]) - 1  # the solution's first token
            # the token at position i is predicted from the one before it
            yield (
                start + r,
                tokenizer.convert_ids_to_tokens(doc[first:]),
                tokenizer.convert_ids_to_tokens(predicted[r, first - 1 : len(doc) - 1].tolist()),
            )


def role_accuracy(model, tokenizer, problems: pd.DataFrame, batch_size: int = 64) -> pd.DataFrame:
    """Teacher-forced accuracy per token role over the reference solutions of `problems`: rows
    (group = role, accuracy, n)."""
    hits: dict[str, list[bool]] = {role: [] for role in ROLES}
    for _, tokens, predicted in _teacher_forced(model, tokenizer, problems, batch_size):
        for role, token, guess in zip(token_roles(tokens), tokens, predicted, strict=True):
            hits[role].append(guess == token)
    return pd.DataFrame(
        [{"group": role, "accuracy": sum(h) / len(h), "n": len(h)} for role, h in hits.items() if h]
    )


def decision_accuracy(model, tokenizer, problems: pd.DataFrame, batch_size: int = 64) -> pd.DataFrame:
    """Teacher-forced accuracy of the decision after each step's period, by what is right there and
    what the question asks: rows (group = "end", "go on, asked stated" or "go on, asked abstract",
    accuracy, n). A model that ends by a prior over question types instead of comparing the step's
    parameter with the asked one goes on after abstract questions and guesses after stated ones."""
    hits: dict[str, list[bool]] = {}
    for row, tokens, predicted in _teacher_forced(model, tokenizer, problems, batch_size):
        parsed = Problem.parse(problems["text"].iloc[row], problems["question"].iloc[row])
        asked = "stated" if parsed.question in parsed.formulas else "abstract"
        for role, token, guess in zip(token_roles(tokens), tokens, predicted, strict=True):
            if role in ("continue", "stop"):
                group = "end" if role == "stop" else f"go on, asked {asked}"
                hits.setdefault(group, []).append(guess == token)
    return pd.DataFrame([{"group": g, "accuracy": sum(h) / len(h), "n": len(h)} for g, h in hits.items()])


# Where a wrong constant can come from, most specific first (physlm.reasoning.curves.lookup_kind).
LOOKUPS = (
    "right statement",
    "same entity",
    "same attribute",
    "other statement",
    "no statement",
    "not a number",
)


def statement_numbers(problem_text: str) -> dict[str, set[str]]:
    """Each stated parameter ("Zoo's Lion") -> the numbers its statement writes."""
    return {
        name: set(re.findall(r"\d+", inner))
        for name, inner in re.findall(r"The number of each (.+?) equals (.+?)\.", problem_text)
    }


def lookup_kind(name: str, number: str, numbers: dict[str, set[str]]) -> str:
    """Where `number`, written as a constant of parameter `name`'s step, can have been read: its own
    statement, a statement of the same entity ("Zoo's Tiger" for "Zoo's Lion"), of the same attribute
    ("Farm's Lion"), another statement, or none. A lookup that matched half a name is a binding error."""
    if not number.isdigit():
        return "not a number"
    if number in numbers.get(name, ()):
        return "right statement"
    entity, _, attribute = name.partition("'s ")
    for kind, matches in (
        ("same entity", lambda other: other.partition("'s ")[0] == entity),
        ("same attribute", lambda other: other.partition("'s ")[2] == attribute),
        ("other statement", lambda other: True),
    ):
        if any(number in found for other, found in numbers.items() if other != name and matches(other)):
            return kind
    return "no statement"


def _step_names(tokens: list[str]) -> list[str | None]:
    """For each token of a solution, the name of the parameter its step defines (None before one)."""
    names, current, start = [], None, None
    for i, token in enumerate(tokens):
        word = token.removeprefix("▁")
        if word == "Define":
            start = i
        elif word == "as" and start is not None:
            current, start = "".join(tokens[start + 1 : i]).replace("▁", " ").strip(), None
        names.append(current)
    return names


def constant_lookups(model, tokenizer, problems: pd.DataFrame, batch_size: int = 64) -> pd.DataFrame:
    """Where the model's wrong constants (numbers a step copies from its statement) come from, against
    chance: rows (measure, group = a kind of LOOKUPS, accuracy = its share of the wrong constants, n =
    wrong constants). Measure "constant errors" is the model's; "constant errors, chance" is the share
    a number drawn uniformly from the other values mod 23 would have, on the same tokens. A model
    whose wrong constants come from same-entity or same-attribute statements above chance has found
    the statement by one half of the parameter's name."""
    observed = dict.fromkeys(LOOKUPS, 0.0)
    chance = dict.fromkeys(LOOKUPS, 0.0)
    wrong = 0
    for row, tokens, predicted in _teacher_forced(model, tokenizer, problems, batch_size):
        numbers = statement_numbers(problems["text"].iloc[row])
        steps = _step_names(tokens)
        for role, token, guess, name in zip(token_roles(tokens), tokens, predicted, steps, strict=True):
            if role != "constant" or guess == token:
                continue
            wrong += 1
            observed[lookup_kind(name, guess.removeprefix("▁"), numbers)] += 1
            others = [str(v) for v in range(MOD) if str(v) != token.removeprefix("▁")]
            for value in others:
                chance[lookup_kind(name, value, numbers)] += 1 / len(others)
    return pd.DataFrame(
        [
            {
                "measure": measure,
                "group": kind,
                "accuracy": counts[kind] / wrong if wrong else 0.0,
                "n": wrong,
            }
            for measure, counts in (("constant errors", observed), ("constant errors, chance", chance))
            for kind in LOOKUPS
        ]
    )


def _first_per_op(problems: pd.DataFrame, per_op: int) -> pd.DataFrame:
    return problems.groupby("op", sort=True).head(per_op).reset_index(drop=True)


@dataclasses.dataclass(frozen=True)
class CurvesSpec:
    """Learning curves a math training takes at every checkpoint: on the first `per_op` of the
    held-out `problems` of each op, written to `out` with the columns of `identity`."""

    problems: Path
    out: Path
    per_op: int = 20
    identity: dict = dataclasses.field(default_factory=dict)


class MathCurves:
    """The training loop's evaluation hook for a math model: greedy accuracy per op (distinct letters
    and free), teacher-forced accuracy per role and where the wrong constants come from, on the first
    `per_op` problems of each op of the held-out `problems`."""

    def __init__(self, tokenizer, problems: pd.DataFrame, per_op: int, train_max_op: int, batch_size: int):
        self.tokenizer, self.train_max_op, self.batch_size = tokenizer, train_max_op, batch_size
        self.problems = _first_per_op(problems, per_op)
        self.prompts = prompts(self.problems)
        longest = max(
            len(ids) for ids in tokenizer([" ".join(s) for s in self.problems["solution"]])["input_ids"]
        )
        self.max_new_tokens = 2 * longest + 8

    def greedy(self, model, distinct_letters: bool) -> pd.DataFrame:
        ids = generate(
            model,
            self.tokenizer,
            self.prompts,
            self.batch_size,
            self.max_new_tokens,
            distinct_letters=distinct_letters,
        )
        solutions = [self.tokenizer.decode(g, skip_special_tokens=True).strip() for g in ids]
        table = accuracy_by_op(judge(self.problems, solutions), self.train_max_op)
        return pd.DataFrame(
            {"group": [f"op {op}" for op in table["op"]], "accuracy": table["accuracy"], "n": table["n"]}
        )

    def __call__(self, model, step: int) -> list[dict]:
        parts = [
            self.greedy(model, distinct_letters=True).assign(measure="greedy"),
            self.greedy(model, distinct_letters=False).assign(measure="greedy, letters free"),
            role_accuracy(model, self.tokenizer, self.problems, self.batch_size).assign(
                measure="teacher-forced"
            ),
            constant_lookups(model, self.tokenizer, self.problems, self.batch_size),
            decision_accuracy(model, self.tokenizer, self.problems, self.batch_size).assign(
                measure="decision"
            ),
        ]
        return pd.concat(parts).to_dict("records")


def measure_curves(
    *,
    model_dir: Path,
    problems: Path,
    per_op: int,
    train_max_op: int,
    identity: dict,
    out: Path,
    threads: int = 1,
) -> None:
    """Step `math-curves`: the learning curves' measures of one saved model, e.g. a model trained
    before a measure existed; the columns of a curves table, with the model's steps as `step`."""
    torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir, pick_device())
    scale = read_scale(model_dir)
    curves = MathCurves(tokenizer, pd.read_parquet(problems), per_op, train_max_op, batch_size=64)
    table = pd.DataFrame(curves(model, scale["pretrain_steps"])).assign(step=scale["pretrain_steps"])
    write_table(with_identity(table, identity, scale), out)
