"""Knowledge manipulation tasks of Part 3.2 as prompt / answer / label tables.

Every task asks about knowledge the model could only have from pretraining biographies. Rows keep
the person's QA split: a task is fine-tuned on QA-train people and scored on held-out people (a
comparison pairs two people of the same split). `label` is what is scored; `answer` is the full
target, which for a chain-of-thought (`_cot`) task first states the birth month(s) as a hint.
`group` says which rows share a label space, for the majority-answer baseline.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from physlm.engine.artifacts import write_table
from physlm.knowledge.bios import MONTHS, make_qa
from physlm.knowledge.templates import ANSWER_PREFIX, HINT_SEPARATOR, NO, TASK_QUESTIONS, YES
from physlm.knowledge.worlds import load_world

TASKS = (
    "forward",
    "parity",
    "parity_cot",
    "mod6",
    "mod6_cot",
    "comparison",
    "comparison_cot",
    "inverse_first",
    "inverse1",
    "inverse2",
    "inverse_all",
)
# Inverse search, from the paper's easiest (birth date -> first name) to its hardest (all attributes
# -> full name): the attributes a question gives, and the name part it asks for. Only people the
# given attributes identify uniquely are asked about.
INVERSE = {
    "inverse_first": (["birth_date"], "first"),
    "inverse1": (["birth_date"], "full_name"),
    "inverse2": (["birth_date", "birth_city"], "full_name"),
    "inverse_all": (["birth_date", "birth_city", "university", "major", "employer"], "full_name"),
}
COLUMNS = ["person_id", "other_id", "task", "group", "prompt", "answer", "label", "split"]


def make_task(people: pd.DataFrame, task: str, seed: int, pairs_per_person: int) -> pd.DataFrame:
    """The rows of one task for every person it applies to."""
    if task not in TASKS:
        raise ValueError(f"unknown manipulation task {task!r}: expected one of {', '.join(TASKS)}")
    base = task.removesuffix("_cot")
    if base == "forward":
        qa = make_qa(people)
        table = qa.assign(other_id=-1, group=qa["attribute"], label=qa["answer"])
    elif base in ("parity", "mod6"):
        table = _classification(people, base)
    elif base == "comparison":
        table = _comparison(people, seed, pairs_per_person)
    else:
        table = _inverse(people, task)
    if task.endswith("_cot"):
        table["answer"] = table["hint"] + f" {HINT_SEPARATOR} " + table["label"]
    else:
        table["answer"] = table["label"]
    return table.assign(task=task)[COLUMNS].reset_index(drop=True)


def _question(template: str, **fields) -> str:
    return f"{template.format(**fields)} {ANSWER_PREFIX}"


def _month(people: pd.DataFrame) -> pd.Series:
    return people["birth_month"].map(lambda m: MONTHS[m - 1])


def _classification(people: pd.DataFrame, base: str) -> pd.DataFrame:
    month = people["birth_month"]
    label = month.mod(2).map({0: YES, 1: NO}) if base == "parity" else month.mod(6).astype(str)
    return pd.DataFrame(
        {
            "person_id": people["person_id"],
            "other_id": -1,
            "group": base,
            "prompt": [_question(TASK_QUESTIONS[base], name=n) for n in people["full_name"]],
            "hint": _month(people),
            "label": label,
            "split": people["split"],
        }
    )


def _comparison(people: pd.DataFrame, seed: int, pairs_per_person: int) -> pd.DataFrame:
    """Each person against `pairs_per_person` others of the same split born in a different month."""
    rng = np.random.default_rng([seed, 3])
    month = people.set_index("person_id")["birth_month"]
    name = people.set_index("person_id")["full_name"]
    rows = []
    for split, members in people.groupby("split", sort=True):
        ids = members["person_id"].to_numpy()
        for pid in ids:
            others = ids[month[ids].to_numpy() != month[pid]]
            for other in rng.choice(others, size=min(pairs_per_person, len(others)), replace=False):
                rows.append(
                    {
                        "person_id": pid,
                        "other_id": int(other),
                        "group": "comparison",
                        "prompt": _question(TASK_QUESTIONS["comparison"], name=name[pid], other=name[other]),
                        "hint": f"{MONTHS[month[pid] - 1]} and {MONTHS[month[other] - 1]}",
                        "label": YES if month[pid] < month[other] else NO,
                        "split": split,
                    }
                )
    return pd.DataFrame(rows).sort_values(["person_id", "other_id"], kind="stable")


def _inverse(people: pd.DataFrame, task: str) -> pd.DataFrame:
    keys, answer = INVERSE[task]
    unique = people[~people.duplicated(keys, keep=False)]
    return pd.DataFrame(
        {
            "person_id": unique["person_id"],
            "other_id": -1,
            "group": task,
            "prompt": [
                _question(TASK_QUESTIONS[task], **{k: row[k] for k in keys}) for _, row in unique.iterrows()
            ],
            "label": unique[answer],
            "split": unique["split"],
        }
    )


def majority_accuracy(table: pd.DataFrame) -> float:
    """Accuracy of always giving each group's most common label: the chance level of a task."""
    return float(table.groupby("group")["label"].agg(lambda s: s.value_counts().iloc[0] / len(s)).mean())


def write_task(*, world_dir: Path, task: str, seed: int, pairs_per_person: int, out: Path) -> None:
    """Step `task`: the prompts and answers of one task over a world's people."""
    write_table(make_task(load_world(world_dir).people, task, seed, pairs_per_person), out)
