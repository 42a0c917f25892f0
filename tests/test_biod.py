import numpy as np
import pytest
from conftest import SMALL_POOLS

from physlm.knowledge.biod import BioD, biod_biographies, make_biod, token

SPEC = BioD(k=3, c=2, d=5, length=2, t=4)


def test_strings_are_distinct_per_attribute_and_values_are_chunks_of_them():
    people, strings = make_biod(30, SMALL_POOLS, SPEC, seed=0)
    assert strings.shape == (3, 5, 2) and strings.max() < 4
    for a in range(3):
        assert len({tuple(s) for s in strings[a]}) == 5
    chunks = np.stack(people["chunks"])
    assert chunks.shape == (30, 3, 2) and chunks.max() < 5 and people["full_name"].is_unique


def test_biography_states_every_value_once_in_shuffled_order():
    people, strings = make_biod(20, SMALL_POOLS, SPEC, seed=1)
    bios = biod_biographies(people, strings, copies=4, seed=1)
    assert len(bios) == 80
    firsts = set()
    for row in bios.itertuples():
        person = people.loc[row.person_id]
        sentences = row.text.split(". ")
        assert len(sentences) == 3
        for a in range(3):
            value = " ".join(token(x) for chunk in person.chunks[a] for x in strings[a, chunk])
            assert row.text.count(f"{person.full_name}'s ID {a} is {value}.") == 1
        firsts.add(sentences[0].split(" ID ")[1][0])
    assert firsts == {"0", "1", "2"}


def test_deterministic_and_knobs_checked():
    a = make_biod(10, SMALL_POOLS, SPEC, seed=2)
    b = make_biod(10, SMALL_POOLS, SPEC, seed=2)
    assert a[0].equals(b[0]) and np.array_equal(a[1], b[1])
    with pytest.raises(ValueError, match="T\\^L=4 exist"):
        BioD(k=1, c=1, d=5, length=1, t=4)
    with pytest.raises(ValueError, match=r"^c: 0 is less than the minimum of 1"):
        BioD.from_config({"k": 1, "c": 0, "d": 1, "length": 1, "t": 4})


def test_starts_point_at_each_value_and_the_lexicon_covers_every_word():
    from physlm.engine.tokenizer import build_tokenizer
    from physlm.knowledge.biod import biod_lexicon, value_text

    people, strings = make_biod(10, SMALL_POOLS, SPEC, seed=3)
    bios = biod_biographies(people, strings, copies=2, seed=3)
    for row in bios.itertuples():
        person = people.loc[row.person_id]
        for a, start in enumerate(row.starts):
            value = value_text(person.chunks, strings, a)
            assert row.text[start : start + len(value) + 1] == value + "."
    tokenizer = build_tokenizer(biod_lexicon(people, SPEC))
    ids = tokenizer(list(bios["text"]))["input_ids"]
    assert tokenizer.unk_token_id not in {t for doc in ids for t in doc}
