"""bioS: synthetic people, their biographies in several augmentations, and QA pairs (Part 3.1).

Everything is a pure function of (config, seed), so the same inputs give byte-identical Parquet.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlm.knowledge.pools import Pools, make_pools
from physlm.knowledge.templates import (
    ANSWER_PREFIX,
    ATTRIBUTES,
    HINT_SEPARATOR,
    MOD6_LABELS,
    NO,
    QUESTIONS,
    REVERSE_CLOSING,
    REVERSE_SUBJECT,
    TASK_QUESTIONS,
    TEMPLATES,
    YES,
)

MONTHS = list(calendar.month_name)[1:]
YEARS = (1900, 2099)
DAYS = 28
PRONOUNS = {"female": ("she", "her"), "male": ("he", "his")}
VARIANT_PATTERN = r"(single|multi[1-9][0-9]*)(_permute)?(_fullname)?(_reverse)?"


@dataclass(frozen=True)
class Variant:
    """A bioS augmentation, named as in the paper: single or multiM, then +permute, +fullname.

    `reverse` is the control of Part 3.2: the name moves to a closing sentence, after every attribute.
    """

    copies: int
    permute: bool
    fullname: bool
    reverse: bool = False

    @classmethod
    def parse(cls, name: str) -> Variant:
        match = re.fullmatch(VARIANT_PATTERN, name)
        if match is None:
            raise ValueError(
                f"unknown bioS variant {name!r}: expected single or multiM (M >= 1), "
                "optionally followed by _permute, _fullname and _reverse, e.g. multi5_permute"
            )
        base, permute, fullname, reverse = match.groups()
        if fullname and reverse:
            raise ValueError(
                f"bioS variant {name!r}: _fullname names the person before each attribute, "
                "which _reverse exists to avoid; use one of them"
            )
        copies = 1 if base == "single" else int(base.removeprefix("multi"))
        return cls(copies, permute is not None, fullname is not None, reverse is not None)


def make_people(n_people: int, pool_sizes: dict[str, int], seed: int) -> pd.DataFrame:
    """Draw n people with unique full names and independent uniform attributes.

    Half the people (chosen at random) form the QA-train split, the rest QA-test: the split is by
    person so that test questions are about people never seen in a QA example.
    """
    pools = make_pools(pool_sizes, seed)
    if n_people > pools.n_names:
        raise ValueError(f"n_people={n_people} exceeds the {pools.n_names} distinct names")
    rng = np.random.default_rng([seed, 1])
    names = _unique_names(rng, pools, n_people)
    month = rng.integers(1, 13, n_people)
    day = rng.integers(1, DAYS + 1, n_people)
    year = rng.integers(YEARS[0], YEARS[1] + 1, n_people)
    company = rng.integers(len(pools.companies), size=n_people)
    people = names.assign(
        birth_month=month,
        birth_day=day,
        birth_year=year,
        birth_date=[f"{MONTHS[m - 1]} {d}, {y}" for m, d, y in zip(month, day, year, strict=True)],
        birth_city=np.array(pools.cities)[rng.integers(len(pools.cities), size=n_people)],
        university=np.array(pools.universities)[rng.integers(len(pools.universities), size=n_people)],
        major=np.array(pools.majors)[rng.integers(len(pools.majors), size=n_people)],
        employer=np.array(pools.companies)[company],
        work_city=np.array(pools.cities)[np.array(pools.company_city)[company]],
    )
    is_train = np.zeros(n_people, dtype=bool)
    is_train[rng.permutation(n_people)[: n_people // 2]] = True
    people["split"] = np.where(is_train, "train", "test")
    people.insert(0, "person_id", np.arange(n_people))
    return people


def _unique_names(rng: np.random.Generator, pools: Pools, n: int) -> pd.DataFrame:
    """Sample (gender, first, middle, last) until n distinct full names exist, keeping draw order."""
    rows: dict[str, tuple[str, str, str, str]] = {}
    while len(rows) < n:
        k = 2 * (n - len(rows)) + 16
        gender = rng.integers(2, size=k)
        for g, a, b, c in zip(
            gender, rng.random(k), rng.random(k), rng.integers(len(pools.last), size=k), strict=True
        ):
            sex = "female" if g == 0 else "male"
            firsts = pools.first_female if g == 0 else pools.first_male
            middles = pools.middle_female if g == 0 else pools.middle_male
            first, middle = firsts[int(a * len(firsts))], middles[int(b * len(middles))]
            full = f"{first} {middle} {pools.last[c]}"
            if full not in rows and len(rows) < n:
                rows[full] = (sex, first, middle, pools.last[c])
    table = pd.DataFrame(list(rows.values()), columns=["gender", "first", "middle", "last"])
    table.insert(0, "full_name", list(rows))
    return table


def make_biographies(people: pd.DataFrame, variant: str, seed: int) -> pd.DataFrame:
    """Write each person's biographies for a variant: one row per (person, copy).

    `starts` holds the character offset of each attribute's value (in ATTRIBUTES order), so that
    evaluation and probing find a value even when the same words occur twice (e.g. birth city and
    work city). A _reverse variant draws the same templates and orders as its forward twin.
    """
    spec = Variant.parse(variant)
    rng = np.random.default_rng([seed, 2, spec.copies, spec.permute, spec.fullname])
    n = len(people)
    n_templates = {a: len(TEMPLATES[a]) for a in ATTRIBUTES}
    values = {a: people[a].to_numpy() for a in ATTRIBUTES}
    names = people["full_name"].to_numpy()
    genders = people["gender"].to_numpy()
    person_ids, copies, texts, starts = [], [], [], []
    for copy in range(spec.copies):
        choice = {a: rng.integers(n_templates[a], size=n) for a in ATTRIBUTES}
        orders = (
            rng.permuted(np.tile(np.arange(len(ATTRIBUTES)), (n, 1)), axis=1)
            if spec.permute
            else np.tile(np.arange(len(ATTRIBUTES)), (n, 1))
        )
        for i in range(n):
            pronoun, possessive = PRONOUNS[genders[i]]
            text, start = "", [0] * len(ATTRIBUTES)
            for position, a in enumerate(orders[i]):
                attribute = ATTRIBUTES[a]
                named = (position == 0 and not spec.reverse) or spec.fullname
                subj, poss = (names[i], f"{names[i]}'s") if named else (pronoun, possessive)
                if spec.reverse and position == 0:
                    subj, poss = REVERSE_SUBJECT
                subject = {"subj": subj, "poss": poss}
                before, after = TEMPLATES[attribute][choice[attribute][i]].split("{value}")
                sentence = before.format(**subject) + str(values[attribute][i]) + after.format(**subject)
                text += " " if text else ""
                start[a] = len(text) + len(before.format(**subject))
                text += sentence[0].upper() + sentence[1:]
            if spec.reverse:
                text += " " + REVERSE_CLOSING.format(name=names[i])
            person_ids.append(i)
            copies.append(copy)
            texts.append(text)
            starts.append(start)
    bios = pd.DataFrame({"person_id": person_ids, "copy": copies, "text": texts, "starts": starts})
    return bios.sort_values(["person_id", "copy"], kind="stable").reset_index(drop=True)


def make_qa(people: pd.DataFrame) -> pd.DataFrame:
    """One question per (person, attribute); the answer is the attribute value verbatim."""
    frames = [
        pd.DataFrame(
            {
                "person_id": people["person_id"],
                "attribute": attribute,
                "prompt": [
                    f"{QUESTIONS[attribute].format(name=name)} {ANSWER_PREFIX}"
                    for name in people["full_name"]
                ],
                "answer": people[attribute],
                "split": people["split"],
            }
        )
        for attribute in ATTRIBUTES
    ]
    qa = pd.concat(frames, ignore_index=True)
    return qa.sort_values(["person_id", "attribute"], kind="stable").reset_index(drop=True)


def lexicon(people: pd.DataFrame) -> list[str]:
    """Every text the generator can emit for these people, for building the vocabulary."""
    fixed = [t for ts in TEMPLATES.values() for t in ts] + list(QUESTIONS.values())
    fixed += [ANSWER_PREFIX, "he she his her He She His Her someone's", REVERSE_CLOSING, *REVERSE_SUBJECT]
    fixed += [*TASK_QUESTIONS.values(), HINT_SEPARATOR, YES, NO, "and", *MOD6_LABELS, *MONTHS]
    columns = ["full_name", *ATTRIBUTES]
    return fixed + [str(v) for c in columns for v in people[c].unique()]


def bench(*, n: int, variant: str) -> None:
    """Step `bench-bios`: time the generator at the paper's pool sizes (people, then their
    biographies, then QA)."""
    import time

    pools = {"first": 400, "middle": 400, "last": 1000, "cities": 200, "universities": 300, "majors": 100}
    start = time.perf_counter()
    people = make_people(n, {**pools, "companies": 263}, seed=0)
    bios = make_biographies(people, variant, seed=0)
    make_qa(people)
    print(f"{len(bios):,} biographies ({variant}) with QA in {time.perf_counter() - start:.1f} s")
