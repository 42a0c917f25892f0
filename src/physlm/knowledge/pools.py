"""The world the synthetic people live in: name pools and attribute value pools.

Pools are drawn from Faker's word lists (realistic names without a hub download) with our own
seeded generator, so a pool depends only on (pool sizes, seed) and the Faker release, never on
Faker's global random state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from faker.providers.address.en_US import Provider as AddressProvider
from faker.providers.lorem.en_US import Provider as LoremProvider
from faker.providers.person.en_US import Provider as PersonProvider

FEMALE_FIRST = sorted(PersonProvider.first_names_female)
MALE_FIRST = sorted(PersonProvider.first_names_male)
LAST = sorted(PersonProvider.last_names)
NAME_WORDS = {w.lower() for w in [*FEMALE_FIRST, *MALE_FIRST, *LAST]}
# Universities and companies are named with common English words that are not person names: a name
# word inside "Burgess University" would tie the employer to every person called Burgess.
INSTITUTION_WORDS = sorted(
    w.capitalize() for w in set(LoremProvider.word_list) if len(w) >= 4 and w.lower() not in NAME_WORDS
)
STATES = {
    abbr: state
    for abbr, state in zip(AddressProvider.states_abbr, AddressProvider.states, strict=False)
    if not NAME_WORDS & {w.lower() for w in state.split()}
}
CITY_SUFFIXES = ["ville", "ton", "burg", "field", "port", "wood", "dale", "ford", "haven", "view"]
# A city is a last name plus a suffix, one word ("Burgessville"), unless that word is a name itself.
CITY_STEMS = [
    s for s in (last + suffix for last in LAST for suffix in CITY_SUFFIXES) if s.lower() not in NAME_WORDS
]
COMPANY_SUFFIXES = ["Inc", "Group", "Labs", "Systems", "Partners", "Holdings", "Industries"]
UNIVERSITY_FORMATS = [
    "University of {city}",
    "{word} University",
    "{word} College",
    "{state} State University",
    "{word} Institute of Technology",
]
MAJORS = """Accounting; Aerospace Engineering; African Studies; Agricultural Science; Anthropology;
Applied Mathematics; Archaeology; Architecture; Art History; Astronomy; Astrophysics; Biochemistry;
Bioengineering; Biology; Biomedical Engineering; Biophysics; Botany; Business Administration;
Chemical Engineering; Chemistry; Civil Engineering; Classics; Cognitive Science; Communications;
Comparative Literature; Computer Engineering; Computer Science; Construction Management;
Creative Writing; Criminology; Dance; Data Science; Dentistry; Drama; Earth Sciences; Ecology;
Economics; Education; Electrical Engineering; Anglophone Literature; Entomology; Environmental Science;
Epidemiology; Ethnic Studies; Film Studies; Finance; Fine Arts; Food Science; Forestry; Genetics;
Geography; Geology; Graphic Design; Health Sciences; History; Hospitality Management;
Industrial Design; Industrial Engineering; Information Systems; International Relations; Journalism;
Kinesiology; Labor Studies; Linguistics; Management; Marine Biology; Marketing; Materials Science;
Mathematics; Mechanical Engineering; Media Studies; Microbiology; Music; Music Theory; Neuroscience;
Nuclear Engineering; Nursing; Nutrition; Oceanography; Operations Research; Pharmacology; Philosophy;
Photography; Physics; Physiology; Political Science; Psychology; Public Health; Public Policy;
Religious Studies; Robotics; Social Work; Sociology; Software Engineering; Statistics;
Sustainability Studies; Theology; Urban Planning; Veterinary Science; Zoology"""
MAJOR_POOL = [m.strip() for m in MAJORS.replace("\n", " ").split(";")]


@dataclass(frozen=True)
class Pools:
    """Every value a person's attributes can take; list order is the value's id."""

    first_female: list[str]
    first_male: list[str]
    middle_female: list[str]
    middle_male: list[str]
    last: list[str]
    cities: list[str]
    universities: list[str]
    majors: list[str]
    companies: list[str]
    company_city: list[int]  # index into cities: the employer's headquarters

    @property
    def n_names(self) -> int:
        """Distinct full names per gender pair summed: the most unique people these pools allow."""
        per_gender = [
            len(self.first_female) * len(self.middle_female),
            len(self.first_male) * len(self.middle_male),
        ]
        return sum(per_gender) * len(self.last)


def pool_limits() -> dict[str, int]:
    """Largest pool size each key of config `bios.pools` can ask for."""
    return {
        "first": 2 * min(len(FEMALE_FIRST), len(MALE_FIRST)),
        "middle": 2 * min(len(FEMALE_FIRST), len(MALE_FIRST)),
        "last": len(LAST),
        "cities": len(CITY_STEMS),
        "universities": 1000,
        "majors": len(MAJOR_POOL),
        "companies": len(INSTITUTION_WORDS) * len(COMPANY_SUFFIXES),
    }


def _pick(rng: np.random.Generator, items: list[str], k: int) -> list[str]:
    return [items[i] for i in rng.choice(len(items), size=k, replace=False)]


def _unique(rng: np.random.Generator, make, k: int) -> list[str]:
    """Draw `make(rng)` until k distinct values: pools of composed names must not collide."""
    seen: dict[str, None] = {}
    while len(seen) < k:
        seen.setdefault(make(rng), None)
    return list(seen)


def make_pools(sizes: dict[str, int], seed: int) -> Pools:
    """Build the pools; `sizes` has the keys of pool_limits() (config `bios.pools`)."""
    rng = np.random.default_rng([seed, 7])
    states = list(STATES)

    def city(r: np.random.Generator) -> str:
        stem = CITY_STEMS[r.integers(len(CITY_STEMS))]
        return f"{stem}, {states[r.integers(len(states))]}"

    cities = _unique(rng, city, sizes["cities"])

    def university(r: np.random.Generator) -> str:
        fmt = UNIVERSITY_FORMATS[r.integers(len(UNIVERSITY_FORMATS))]
        return fmt.format(
            city=cities[r.integers(len(cities))].split(",")[0],
            word=INSTITUTION_WORDS[r.integers(len(INSTITUTION_WORDS))],
            state=STATES[states[r.integers(len(states))]],
        )

    def company(r: np.random.Generator) -> str:
        word = INSTITUTION_WORDS[r.integers(len(INSTITUTION_WORDS))]
        return f"{word} {COMPANY_SUFFIXES[r.integers(len(COMPANY_SUFFIXES))]}"

    half_first, half_middle = sizes["first"] // 2, sizes["middle"] // 2
    return Pools(
        first_female=_pick(rng, FEMALE_FIRST, half_first),
        first_male=_pick(rng, MALE_FIRST, half_first),
        middle_female=_pick(rng, FEMALE_FIRST, half_middle),
        middle_male=_pick(rng, MALE_FIRST, half_middle),
        last=_pick(rng, LAST, sizes["last"]),
        cities=cities,
        universities=_unique(rng, university, sizes["universities"]),
        majors=_pick(rng, MAJOR_POOL, sizes["majors"]),
        companies=_unique(rng, company, sizes["companies"]),
        company_city=rng.integers(len(cities), size=sizes["companies"]).tolist(),
    )
