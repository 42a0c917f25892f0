import numpy as np
import pytest
from conftest import SMALL_POOLS

from physlm.knowledge.bios import MONTHS, Variant, lexicon, make_biographies, make_people, make_qa
from physlm.knowledge.pools import make_pools
from physlm.knowledge.templates import ATTRIBUTES, QUESTIONS, TEMPLATES


def test_full_names_are_unique_even_when_the_pool_is_nearly_exhausted():
    pools = {**SMALL_POOLS, "first": 4, "middle": 4, "last": 3}  # 2 * (2*2) * 3 = 24 names
    people = make_people(24, pools, seed=0)
    assert people["full_name"].is_unique
    with pytest.raises(ValueError, match="exceeds the 24 distinct names"):
        make_people(25, pools, seed=0)


def test_names_follow_gender_and_pools(people):
    pools = make_pools(SMALL_POOLS, seed=3)
    female = people[people.gender == "female"]
    assert set(female["first"]) <= set(pools.first_female)
    assert set(female["middle"]) <= set(pools.middle_female)
    assert set(people["last"]) <= set(pools.last)
    assert (people["full_name"] == people["first"] + " " + people["middle"] + " " + people["last"]).all()


def test_attributes_are_uniform_over_their_pools():
    people = make_people(6000, SMALL_POOLS, seed=1)
    pools = make_pools(SMALL_POOLS, seed=1)
    for column, pool in (("major", pools.majors), ("university", pools.universities)):
        counts = people[column].value_counts()
        assert set(counts.index) == set(pool)
        expected = len(people) / len(pool)
        assert ((counts - expected).abs() < 5 * np.sqrt(expected)).all(), column
    assert people["birth_month"].between(1, 12).all() and people["birth_day"].between(1, 28).all()
    assert people["birth_year"].between(1900, 2099).all()
    assert abs((people.gender == "female").mean() - 0.5) < 0.05


def test_work_city_is_a_function_of_the_employer(people):
    pools = make_pools(SMALL_POOLS, seed=3)
    assert (people.groupby("employer")["work_city"].nunique() == 1).all()
    for employer, city in zip(people["employer"], people["work_city"], strict=True):
        assert pools.cities[pools.company_city[pools.companies.index(employer)]] == city


def test_birth_date_text_matches_its_parts(people):
    row = people.iloc[0]
    assert row.birth_date == f"{MONTHS[row.birth_month - 1]} {row.birth_day}, {row.birth_year}"


def test_split_is_by_person_in_halves(people):
    assert (people["split"] == "train").sum() == len(people) // 2
    qa = make_qa(people)
    assert (qa.groupby("person_id")["split"].nunique() == 1).all()
    merged = qa.merge(people[["person_id", "split"]], on="person_id", suffixes=("", "_person"))
    assert (merged["split"] == merged["split_person"]).all()


def test_same_seed_gives_identical_parquet_and_another_seed_differs(tmp_path):
    def write(seed: int, name: str) -> bytes:
        people = make_people(100, SMALL_POOLS, seed)
        path = tmp_path / name
        make_biographies(people, "multi2_permute", seed).to_parquet(path, index=False)
        return path.read_bytes() + people.to_parquet(index=False)

    assert write(5, "a.parquet") == write(5, "b.parquet")
    assert write(5, "c.parquet") != write(6, "d.parquet")


def test_templates_cover_every_attribute_with_about_fifty_each():
    assert set(TEMPLATES) == set(ATTRIBUTES) == set(QUESTIONS)
    for attribute, templates in TEMPLATES.items():
        assert len(set(templates)) >= 45, attribute
        for t in templates:
            assert "{value}" in t and ("{subj}" in t or "{poss}" in t), t


def _sentences(text: str) -> list[str]:
    return [s for s in text.split(". ") if s]


def test_single_biography_states_every_attribute_and_names_the_person_once(people):
    bios = make_biographies(people, "single", seed=0)
    assert len(bios) == len(people)
    for person, text in zip(people.itertuples(), bios["text"], strict=True):
        for attribute in ATTRIBUTES:
            assert getattr(person, attribute) in text
        assert text.count(person.full_name) == 1
        assert _sentences(text)[0].find(person.full_name) >= 0


def test_variants_multi_permute_fullname(people):
    multi = make_biographies(people.head(20), "multi5", seed=0)
    assert (multi.groupby("person_id")["text"].nunique() == 5).all()
    fixed = make_biographies(people.head(50), "single", seed=0)
    permuted = make_biographies(people.head(50), "single_permute", seed=0)

    def first_value(text, person):
        return min(ATTRIBUTES, key=lambda a: text.find(getattr(person, a)))

    rows = list(people.head(50).itertuples())
    assert {first_value(t, p) for t, p in zip(fixed["text"], rows, strict=True)} == {"birth_date"}
    assert len({first_value(t, p) for t, p in zip(permuted["text"], rows, strict=True)}) > 3
    full = make_biographies(people.head(20), "single_fullname", seed=0)
    for person, text in zip(people.head(20).itertuples(), full["text"], strict=True):
        assert text.count(person.full_name) == 6


def test_reverse_names_the_person_only_after_every_attribute(people):
    forward = make_biographies(people.head(30), "multi2_permute", seed=0)
    reverse = make_biographies(people.head(30), "multi2_permute_reverse", seed=0)
    for person, text, twin, starts in zip(
        people.head(30).loc[forward.person_id].itertuples(),
        reverse["text"],
        forward["text"],
        reverse["starts"],
        strict=True,
    ):
        assert text.count(person.full_name) == 1
        # As the paper writes it: the first sentence is about "the person" (inside this project's
        # framings, e.g. "Notably, the person's ..."), the name is in a closing sentence.
        sentences = _sentences(text)
        assert "the person" in sentences[0].lower() and "the person" not in " ".join(sentences[1:-1]).lower()
        assert text.endswith(f"The person's name is {person.full_name}.")
        assert text.index(person.full_name) > max(starts)
        # Same templates and order as the forward twin: only the name moved.
        assert _sentences(text)[1:5] == _sentences(twin)[1:5]


@pytest.mark.parametrize("variant", ["single", "multi3_permute", "single_fullname", "single_permute_reverse"])
def test_value_offsets_point_at_each_attribute(people, variant):
    bios = make_biographies(people.head(40), variant, seed=1)
    for row in bios.itertuples():
        person = people.loc[row.person_id]
        for attribute, start in zip(ATTRIBUTES, row.starts, strict=True):
            value = str(person[attribute])
            assert row.text[start : start + len(value)] == value
    # The offsets separate a work city equal to the birth city, which a text search would not.
    assert len({tuple(s) for s in bios["starts"]}) > 1


def test_variant_names_are_parsed_or_rejected():
    assert Variant.parse("multi5_permute_fullname") == Variant(5, True, True)
    assert Variant.parse("single") == Variant(1, False, False)
    assert Variant.parse("multi5_permute_reverse") == Variant(5, True, False, True)
    for bad in ("multi0", "permute", "single_fullname_permute", "multi", "single_reverse_permute"):
        with pytest.raises(ValueError, match="unknown bioS variant"):
            Variant.parse(bad)
    with pytest.raises(ValueError, match="use one of them"):
        Variant.parse("single_fullname_reverse")


def test_qa_has_one_question_per_person_and_attribute(people):
    qa = make_qa(people)
    assert len(qa) == 6 * len(people)
    row = qa[(qa.person_id == 0) & (qa.attribute == "employer")].iloc[0]
    assert row.prompt == f"Which company did {people.full_name[0]} work for? Answer:"
    assert row.answer == people.employer[0]


def test_lexicon_contains_every_value(people):
    words = set(" ".join(lexicon(people)).split())
    assert set(" ".join(people["university"]).split()) <= words


def test_paper_pools_give_a_hundred_thousand_unique_people():
    # Functional check at the paper's N; the timing is a documented benchmark (physlm bench-bios).
    pools = {**SMALL_POOLS, "first": 400, "middle": 400, "last": 1000}
    people = make_people(100_000, pools, seed=0)
    assert people["full_name"].is_unique
    bios = make_biographies(people, "single", seed=0)
    assert bios["person_id"].tolist() == list(range(100_000))


def test_place_and_institution_names_share_no_word_with_person_names():
    # At the largest pools the config allows, so that no seed or size can bring a collision back.
    from physlm.knowledge.pools import pool_limits

    pools = make_pools({**pool_limits(), "cities": 2000, "universities": 1000, "companies": 2000}, seed=0)
    person_words = {w.lower() for w in [*pools.first_female, *pools.first_male, *pools.last]}
    person_words |= {w.lower() for w in [*pools.middle_female, *pools.middle_male]}
    for kind in ("cities", "universities", "majors", "companies"):
        words = {w.strip(",").lower() for value in getattr(pools, kind) for w in value.split()}
        shared = sorted(words & person_words)
        assert not shared, f"{kind} share words with person names: {shared}"
