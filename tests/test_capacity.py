import math

import pytest
from conftest import SMALL_POOLS
from fakes import NextToken

from physlm.engine.tokenizer import build_tokenizer
from physlm.knowledge.biod import BioD, biod_biographies, biod_lexicon, make_biod
from physlm.knowledge.bios import make_biographies
from physlm.knowledge.capacity import (
    biod_bits,
    biod_measure,
    bios_bits,
    bios_value_space_bits,
    item_bits,
    used_parameters,
)
from physlm.knowledge.qa import biod_chunk_losses, item_losses
from physlm.knowledge.templates import ATTRIBUTES

N, NAMES, LOG2_S0 = 1000, 400 * 400 * 1000, 47.6


def test_perfect_model_scores_the_full_information_and_uniform_scores_zero():
    perfect = bios_bits(N, NAMES, name_loss=0.0, log2_value_space=LOG2_S0, value_loss=0.0)
    assert perfect.name_bits == pytest.approx(N * math.log2(NAMES))
    assert perfect.total == pytest.approx(N * (math.log2(NAMES) + LOG2_S0))
    uniform = bios_bits(N, NAMES, math.log(NAMES), LOG2_S0, LOG2_S0 * math.log(2))
    assert uniform.total == pytest.approx(0.0, abs=1e-6)
    worse = bios_bits(N, NAMES, 2 * math.log(NAMES), LOG2_S0, LOG2_S0 * math.log(2))
    # Not floored (the paper does not floor): worse than uniform on names is negative name bits.
    assert worse.name_bits == pytest.approx(-N * math.log2(NAMES)) and worse.total < 0


def test_in_between_matches_a_hand_computation():
    # 10 items out of 16 choices, loss ln(4) nats each: 4 candidates left, log2(16/4) = 2 bits each.
    assert item_bits(10, 4.0, math.log(4)) == pytest.approx(20.0)
    bits = bios_bits(10, 16, math.log(2), 10.0, 3 * math.log(2))
    assert (bits.name_bits, bits.value_bits) == (pytest.approx(30.0), pytest.approx(70.0))


def test_biod_terms_by_hand():
    # N=8 people, K=2 attributes, C=3 chunks from D=4 strings of L=2 tokens over T=16.
    perfect = biod_bits(8, 64, BioD(k=2, c=3, d=4, length=2, t=16), 0.0, 0.0, 0.0)
    assert perfect.name_bits == pytest.approx(8 * 6)
    assert perfect.value_bits == pytest.approx(8 * 2 * 3 * 2)
    assert perfect.diversity_bits == pytest.approx(2 * 4 * (2 * 4 - 2))
    half = biod_bits(
        8, 64, BioD(k=2, c=3, d=4, length=2, t=16), math.log(8), 3 * math.log(2), 4 * math.log(2)
    )
    assert (half.name_bits, half.value_bits, half.diversity_bits) == (
        pytest.approx(8 * 3),
        pytest.approx(16 * 3),
        pytest.approx(8 * 2),
    )


def test_unused_embedding_rows_are_not_counted():
    assert used_parameters(10_000, vocab_size=100, used_tokens=60, width=16) == 10_000 - 40 * 16
    with pytest.raises(ValueError, match="used_tokens=0"):
        used_parameters(10_000, 100, 0, 16)


def test_item_losses_are_summed_over_name_and_value_tokens(people, tokenizer):
    subset = people.head(5)
    bios = make_biographies(subset, "single", seed=0)
    vocab = len(tokenizer)
    certain = item_losses(NextToken(vocab, scale=100.0), tokenizer, bios, subset)
    assert (certain[["name_loss", "value_loss"]] < 1e-6).all().all()
    uniform = item_losses(NextToken(vocab, scale=0.0), tokenizer, bios, subset)
    person = subset.iloc[0]
    n_name = len(tokenizer(person.full_name)["input_ids"])
    # p2 covers the attributes S0 counts: work city is a function of the employer, counted in neither.
    assert "work_city" in ATTRIBUTES
    n_values = sum(len(tokenizer(str(person[a]))["input_ids"]) for a in ATTRIBUTES if a != "work_city")
    assert uniform.name_loss[0] == pytest.approx(n_name * math.log(vocab), rel=1e-5)
    assert uniform.value_loss[0] == pytest.approx(n_values * math.log(vocab), rel=1e-5)


def test_item_losses_read_each_token_at_its_own_position(people, tokenizer):
    """A model certain of every token but one. Blind to the name's first token, the loss is the
    name's; blind to the token after the name, none of it is. Read one token late, both flip."""
    subset = people.head(1)
    bios = make_biographies(subset, "single", seed=0)
    text, name = bios.text[0], subset.iloc[0].full_name
    encoded = tokenizer(text, return_offsets_mapping=True)
    at = next(k for k, (_, end) in enumerate(encoded["offset_mapping"]) if end > text.index(name))
    first, after = (encoded["input_ids"][at + k] for k in (0, len(tokenizer(name)["input_ids"])))
    assert first not in encoded["input_ids"][at + 1 :]  # the blind token occurs once

    def losses(blind):
        return item_losses(NextToken(len(tokenizer), scale=100.0, blind=blind), tokenizer, bios, subset)

    assert losses(first).name_loss[0] == pytest.approx(100.0, rel=1e-3)
    assert losses(first).value_loss[0] < 1e-6
    assert losses(after).name_loss[0] < 1e-6


def test_value_space_at_the_paper_pools_is_its_47_6_bits_less_gender():
    pools = {"cities": 200, "universities": 300, "majors": 100, "companies": 263}
    assert bios_value_space_bits(pools) + 1 == pytest.approx(47.6, abs=0.05)


def test_biod_losses_cover_name_and_each_chunk_and_p3_is_the_first_chunk_of_every_value():

    spec = BioD(k=2, c=3, d=4, length=2, t=8)
    people, strings = make_biod(6, SMALL_POOLS, spec, seed=0)
    bios = biod_biographies(people, strings, copies=2, seed=0)
    tokenizer = build_tokenizer(biod_lexicon(people, spec))
    vocab = len(tokenizer)
    names, chunks = biod_chunk_losses(NextToken(vocab, scale=0.0), tokenizer, bios, people, strings)
    assert len(names) == 6 and len(chunks) == 6 * 2 * 3
    n_name = len(tokenizer(people.full_name[0])["input_ids"])
    assert names.name_loss[0] == pytest.approx(n_name * math.log(vocab), rel=1e-5)
    assert chunks["loss"].to_numpy() == pytest.approx(spec.length * math.log(vocab), rel=1e-5)
    first = chunks[(chunks.person_id == 0) & (chunks.attribute == 1)]
    assert list(first.string) == [int(s) for s in people.chunks[0][1]]
    certain = biod_measure(
        *biod_chunk_losses(NextToken(vocab, scale=100.0), tokenizer, bios, people, strings), 1000, spec
    )
    assert certain.total == pytest.approx(biod_bits(6, 1000, spec, 0.0, 0.0, 0.0).total)
    # p3 is the mean loss of v1, the first chunk, over all (person, attribute) pairs: a loss of 8 nats
    # on one value's first chunk counts once among the N K first chunks; later chunks do not count.
    chunks = chunks.assign(loss=0.0)
    first_chunks = chunks.index[chunks.position == 0]
    chunks.loc[first_chunks[0], "loss"] = 8.0
    chunks.loc[chunks.index[chunks.position == 2][0], "loss"] = 50.0  # not a first chunk
    bits = biod_measure(names.assign(name_loss=0.0), chunks, 1000, spec)
    per_string = spec.length * math.log2(spec.t) - math.log2(spec.d)
    assert len(first_chunks) == 6 * spec.k
    expected = spec.k * spec.d * (per_string - 8.0 / len(first_chunks) / math.log(2))
    assert bits.diversity_bits == pytest.approx(expected)
