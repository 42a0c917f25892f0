"""bioD(N, K, C, D, L, T): the synthetic knowledge data of Part 3.3 whose information is set by knobs.

Each of K attributes has D candidate strings of L tokens over a vocabulary of T tokens; a person's
value of an attribute is C chunks drawn from those D strings. A biography states the K values as
"NAME's ID k is s1 s2 ... sC." in shuffled order, so the data holds exactly the bits `capacity.biod_bits`
counts. Everything is a pure function of (knobs, seed): the D strings are recomputed from them rather
than stored.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from physlm.engine.config_types import FromSection
from physlm.knowledge.bios import make_people


@dataclass(frozen=True)
class BioD(FromSection):
    """The knobs: K attributes, C chunks per value, D strings per attribute, L tokens per string,
    T tokens in the vocabulary the strings are written in."""

    SCHEMA = "#/properties/capacity/properties/biod"

    k: int
    c: int
    d: int
    length: int
    t: int

    def __post_init__(self):
        if self.d > self.t**self.length:
            raise ValueError(f"bioD needs D={self.d} distinct strings but T^L={self.t**self.length} exist")


def token(i: int) -> str:
    return f"t{i}"


def make_strings(spec: BioD, seed: int) -> np.ndarray:
    """(K, D, L) token indices: D distinct strings per attribute."""
    rng = np.random.default_rng([seed, 4])
    strings = np.empty((spec.k, spec.d, spec.length), dtype=np.int64)
    for a in range(spec.k):
        seen: set[tuple[int, ...]] = set()
        while len(seen) < spec.d:
            candidate = tuple(int(x) for x in rng.integers(spec.t, size=spec.length))
            if candidate not in seen:
                strings[a, len(seen)] = candidate
                seen.add(candidate)
    return strings


def make_biod(
    n_people: int, pool_sizes: dict[str, int], spec: BioD, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """People (names from the bioS pools) with `chunks`: K lists of C string indices each (nested
    lists, so the table round-trips through Parquet)."""
    people = make_people(n_people, pool_sizes, seed)[["person_id", "full_name", "gender"]]
    rng = np.random.default_rng([seed, 5])
    chunks = rng.integers(spec.d, size=(n_people, spec.k, spec.c))
    return people.assign(chunks=chunks.tolist()), make_strings(spec, seed)


def chunk_text(strings: np.ndarray, attribute: int, chunk: int) -> str:
    return " ".join(token(int(x)) for x in strings[attribute, chunk])


def value_text(chunks, strings: np.ndarray, attribute: int) -> str:
    return " ".join(chunk_text(strings, attribute, int(c)) for c in chunks[attribute])


def biod_text(name: str, chunks, strings: np.ndarray, order: np.ndarray) -> tuple[str, list[int]]:
    """One biography, a sentence per attribute in the given order, and the character offset of each
    attribute's value (in attribute order) so that losses can be read off the value's tokens."""
    text, starts = "", [0] * strings.shape[0]
    for a in order:
        prefix = f"{' ' if text else ''}{name}'s ID {a} is "
        starts[a] = len(text) + len(prefix)
        text += f"{prefix}{value_text(chunks, strings, a)}."
    return text, starts


def biod_biographies(people: pd.DataFrame, strings: np.ndarray, copies: int, seed: int) -> pd.DataFrame:
    """`copies` biographies per person, each with its own sentence order (the bioD counterpart of
    fresh templates per exposure)."""
    rng = np.random.default_rng([seed, 6, copies])
    k = strings.shape[0]
    rows = []
    for copy in range(copies):
        for p in people.itertuples():
            text, starts = biod_text(p.full_name, p.chunks, strings, rng.permutation(k))
            rows.append({"person_id": p.person_id, "copy": copy, "text": text, "starts": starts})
    return pd.DataFrame(rows).sort_values(["person_id", "copy"], kind="stable").reset_index(drop=True)


def biod_lexicon(people: pd.DataFrame, spec: BioD) -> list[str]:
    """Every word a bioD world can emit: names, the sentence frame, attribute numbers, all T tokens."""
    frame = [f"'s ID is . {' '.join(str(a) for a in range(spec.k))}"]
    return frame + [token(i) for i in range(spec.t)] + list(people["full_name"])
