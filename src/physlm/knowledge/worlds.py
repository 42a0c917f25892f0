"""A world: the people a knowledge experiment is about, and everything needed to write about them.

One interface for bioS (Part 3.1: people with six attributes from fixed pools) and bioD (Part 3.3:
values made of chunks of random token strings): the people table, the documents (biographies of a
variant), the words the tokenizer needs, and the pools that say how many bits the data holds. A world
lives in a folder (`world.json`, `people.parquet`, and for bioD `strings.parquet`), written once by the
`people` step; every later step loads it instead of redrawing anything from knobs and seeds.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from physlm.engine.artifacts import mark, write_table
from physlm.engine.config_types import BiosConfig
from physlm.knowledge.biod import BioD, biod_biographies, biod_lexicon, make_biod
from physlm.knowledge.bios import Variant, lexicon, make_biographies, make_people, make_qa
from physlm.knowledge.pools import make_pools

WORLD_FILE, PEOPLE_FILE, STRINGS_FILE = "world.json", "people.parquet", "strings.parquet"


@dataclass(frozen=True)
class BioSWorld:
    """bioS people (names, birth date, city, university, major, employer), drawn from `pools`."""

    people: pd.DataFrame
    pools: dict[str, int]
    kind = "bioS"

    @property
    def n_names(self) -> int:
        """How many distinct full names the pools allow (N0 in the capacity formula)."""
        return make_pools(self.pools, seed=0).n_names

    def biographies(self, variant: str, seed: int) -> pd.DataFrame:
        return make_biographies(self.people, variant, seed)

    def lexicon(self) -> list[str]:
        return lexicon(self.people)

    def _save_extra(self, folder: Path) -> dict:
        return {}


@dataclass(frozen=True)
class BioDWorld:
    """bioD people (bioS names, K values of C chunks each) and the (K, D, L) token strings the
    chunks index."""

    people: pd.DataFrame
    pools: dict[str, int]
    spec: BioD
    strings: np.ndarray
    kind = "bioD"

    @property
    def n_names(self) -> int:
        return make_pools(self.pools, seed=0).n_names

    def biographies(self, variant: str, seed: int) -> pd.DataFrame:
        parsed = Variant.parse(variant)
        if parsed.permute or parsed.fullname or parsed.reverse:
            raise ValueError(
                f"bioD takes the variant single or multiM, not {variant!r} (its sentence order is "
                "always shuffled)"
            )
        return biod_biographies(self.people, self.strings, parsed.copies, seed)

    def lexicon(self) -> list[str]:
        return biod_lexicon(self.people, self.spec)

    def _save_extra(self, folder: Path) -> dict:
        k, d, length = self.strings.shape
        table = pd.DataFrame(
            {"attribute": np.repeat(np.arange(k), d), "string": np.tile(np.arange(d), k)}
        ).assign(tokens=self.strings.reshape(k * d, length).tolist())
        write_table(table, folder / STRINGS_FILE)
        return {"biod": asdict(self.spec)}


World = BioSWorld | BioDWorld


def make_world(bios: BiosConfig, seed: int, biod: BioD | None = None) -> World:
    """Draw a world: bioS people, or with bioD knobs, bioD people (names from the same pools)."""
    if biod is None:
        return BioSWorld(make_people(bios.n_people, bios.pools, seed), bios.pools)
    people, strings = make_biod(bios.n_people, bios.pools, biod, seed)
    return BioDWorld(people, bios.pools, biod, strings)


def save_world(world: World, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    write_table(world.people, folder / PEOPLE_FILE)
    extra = world._save_extra(folder)
    (folder / WORLD_FILE).write_text(json.dumps({"kind": world.kind, "pools": world.pools, **extra}) + "\n")


def load_world(folder: Path) -> World:
    """The world a `people` step wrote into `folder`."""
    record = json.loads((folder / WORLD_FILE).read_text())
    people = pd.read_parquet(folder / PEOPLE_FILE)
    if record["kind"] == "bioS":
        return BioSWorld(people, record["pools"])
    spec = BioD(**record["biod"])
    table = pd.read_parquet(folder / STRINGS_FILE).sort_values(["attribute", "string"])
    strings = np.array(table["tokens"].tolist(), dtype=np.int64).reshape(spec.k, spec.d, spec.length)
    return BioDWorld(people, record["pools"], spec, strings)


# The data steps, each called by one CLI command.


def write_world(
    *,
    bios_config: BiosConfig,
    seed: int,
    out_dir: Path,
    biod_config: BioD | None = None,
    qa: Path | None = None,
) -> None:
    """Step `people`: draw a world into the folder `out_dir`, and (bioS) its QA pairs into `qa`."""
    if qa is not None and biod_config is not None:
        raise ValueError("bioD people have no QA pairs: drop the QA output or the bioD knobs")
    world = make_world(bios_config, seed, biod_config)
    save_world(world, out_dir)
    if qa is not None:
        write_table(make_qa(world.people), qa)


def write_biographies(*, world_dir: Path, variant: str, seed: int, out: Path) -> None:
    """Step `biographies`: one variant's biographies of a world."""
    write_table(load_world(world_dir).biographies(variant, seed), out)


def write_tokenizer(*, world_dir: Path, out_dir: Path) -> None:
    """Step `tokenizer`: a word-level tokenizer over every word the world can emit."""
    from physlm.engine.tokenizer import build_tokenizer

    build_tokenizer(load_world(world_dir).lexicon()).save_pretrained(out_dir)
    mark(out_dir)
