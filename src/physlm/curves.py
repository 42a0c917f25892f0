"""Learning curves of a math model: where it fails (planning, lookup or arithmetic) and when it moved.

At every checkpoint the training loop calls `MathCurves`, which measures on a fixed batch of held-out
problems (test-split templates):
- greedy accuracy per op (the checker's verdict), with and without the distinct-letters rule
  (physlm.solve), so a collapse onto one letter shows as the gap between the two;
- teacher-forced accuracy per token role on the reference solutions: is the most likely next token
  the right one, given the right solution so far. Eval loss hides progress on this task (a broken and
  a working run can have the same loss: martin503/physics-of-llms-part2.1); roles do not.

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

import pandas as pd
import torch

from physlm.data.igsm import LETTERS, prompt
from physlm.solve import accuracy_by_op, generate, judge

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


def role_accuracy(model, tokenizer, problems: pd.DataFrame, batch_size: int = 64) -> pd.DataFrame:
    """Teacher-forced accuracy per token role over the reference solutions of `problems`: rows
    (group = role, accuracy, n)."""
    eos = tokenizer.eos_token_id
    prompts = tokenizer([prompt(t, q) for t, q in zip(problems["text"], problems["question"], strict=True)])
    solutions = tokenizer([" ".join(steps) for steps in problems["solution"]])["input_ids"]
    hits: dict[str, list[bool]] = {role: [] for role in ROLES}
    device = next(model.parameters()).device
    model.eval()
    for start in range(0, len(solutions), batch_size):
        docs, targets = [], []
        for p, s in zip(
            prompts["input_ids"][start : start + batch_size],
            solutions[start : start + batch_size],
            strict=True,
        ):
            docs.append([eos, *p, *s, eos])
            targets.append((len(p) + 1, token_roles(tokenizer.convert_ids_to_tokens([*s, eos]))))
        width = max(map(len, docs))
        ids = torch.full((len(docs), width), tokenizer.pad_token_id, dtype=torch.long)
        for r, doc in enumerate(docs):
            ids[r, : len(doc)] = torch.tensor(doc)
        with torch.no_grad():
            predicted = model(input_ids=ids.to(device), use_cache=False).logits.argmax(-1).cpu()
        for r, (first, roles) in enumerate(targets):
            for k, role in enumerate(roles):
                position = first + k  # the token at `position` is predicted from the one before it
                hits[role].append(bool(predicted[r, position - 1] == ids[r, position]))
    return pd.DataFrame(
        [{"group": role, "accuracy": sum(h) / len(h), "n": len(h)} for role, h in hits.items() if h]
    )


def _first_per_op(problems: pd.DataFrame, per_op: int) -> pd.DataFrame:
    return problems.groupby("op", sort=True).head(per_op).reset_index(drop=True)


class MathCurves:
    """The training loop's evaluation hook for a math model: greedy accuracy per op (distinct letters
    and free) and teacher-forced accuracy per role, on the first `per_op` problems of each op of the
    held-out `problems`."""

    def __init__(self, tokenizer, problems: pd.DataFrame, per_op: int, train_max_op: int, batch_size: int):
        self.tokenizer, self.train_max_op, self.batch_size = tokenizer, train_max_op, batch_size
        self.problems = _first_per_op(problems, per_op)
        self.prompts = [
            prompt(t, q) for t, q in zip(self.problems["text"], self.problems["question"], strict=True)
        ]
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
        ]
        return pd.concat(parts).to_dict("records")
