"""Bits of knowledge a model has learned, from its losses on the items it memorised (Part 3.3).

A set of N items, each drawn uniformly from S possibilities, holds N*log2(S) bits. A model whose loss
on an item (summed over the item's tokens, in nats) is p has narrowed S down to about e^p candidates,
so it has learned log2(S / e^p) bits of that item. The paper's estimate sums this over the name and
value items of a dataset. No term is floored at zero, as in the paper: a model worse than uniform on
an item (it puts its mass on the wrong values of a pool) gets a negative term, reported as measured.
Capacity ratio = bits / parameters, counting only the embedding rows the data uses.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from physlm.knowledge.biod import BioD
from physlm.knowledge.bios import DAYS, YEARS
from physlm.knowledge.worlds import BioDWorld, World, load_world

LN2 = math.log(2)


def item_bits(n_items: float, log2_choices: float, mean_loss_nats: float) -> float:
    """n_items * log2(S / e^loss), with log2(S) given (S can be astronomically large); negative when
    the model is worse than uniform."""
    return n_items * (log2_choices - mean_loss_nats / LN2)


@dataclass(frozen=True)
class BioSBits:
    """Knowledge of a bioS dataset: which N names exist, and each person's attribute values."""

    name_bits: float
    value_bits: float
    diversity_bits: float = 0.0  # bioS values come from fixed pools: nothing to learn about them

    @property
    def total(self) -> float:
        return self.name_bits + self.value_bits


def bios_value_space_bits(pool_sizes: dict[str, int]) -> float:
    """log2 of the number of attribute tuples a bioS person can have: birth date, birth city,
    university, major, employer (the work city follows from the employer).

    Gender (1 bit) shows only in pronouns, which the value loss does not score, so it is left out:
    the paper's 47.6 bits per person include it.
    """
    dates = 12 * DAYS * (YEARS[1] - YEARS[0] + 1)
    pools = ("cities", "universities", "majors", "companies")
    return math.log2(dates) + sum(math.log2(pool_sizes[k]) for k in pools)


def bios_bits(
    n_people: int, n_names: int, name_loss: float, log2_value_space: float, value_loss: float
) -> BioSBits:
    """R = N*log2(N0 / e^p1) + N*log2(S0 / e^p2) with p1, p2 the mean per-person summed losses."""
    return BioSBits(
        name_bits=item_bits(n_people, math.log2(n_names), name_loss),
        value_bits=item_bits(n_people, log2_value_space, value_loss),
    )


@dataclass(frozen=True)
class BioDBits:
    """Knowledge of a bioD dataset: names, the value of each (person, attribute), and the D strings
    of L tokens each attribute draws its chunks from (the diversity term)."""

    name_bits: float
    value_bits: float
    diversity_bits: float

    @property
    def total(self) -> float:
        return self.name_bits + self.value_bits + self.diversity_bits


def biod_bits(
    n: int, n_names: int, spec: BioD, name_loss: float, value_loss: float, chunk_loss: float
) -> BioDBits:
    """R = N log2(N0/e^p1) + N K log2(D^C/e^p2) + K D log2(T^L/(D e^p3)).

    p2 is the mean loss of one (person, attribute) value (C chunks); p3 the mean loss of a value's
    first chunk v1 over all (person, attribute) pairs: its L tokens the model must have learned as
    one of D strings (Part 3.3, eq. A.1).
    """
    k, d = spec.k, spec.d
    return BioDBits(
        name_bits=item_bits(n, math.log2(n_names), name_loss),
        value_bits=item_bits(n * k, spec.c * math.log2(d), value_loss),
        diversity_bits=item_bits(k * d, spec.length * math.log2(spec.t) - math.log2(d), chunk_loss),
    )


def biod_measure(names: pd.DataFrame, chunks: pd.DataFrame, n_names: int, spec: BioD) -> BioDBits:
    """Bits from `evaluate.biod_chunk_losses` tables: p1 the mean name loss, p2 the mean loss of a
    (person, attribute) value, p3 the mean loss of the first chunk v1, averaged uniformly over all
    (person, attribute) pairs, as the paper defines it."""
    values = chunks.groupby(["person_id", "attribute"])["loss"].sum()
    first_chunks = chunks[chunks["position"] == 0]
    return biod_bits(
        len(names),
        n_names,
        spec,
        name_loss=names["name_loss"].mean(),
        value_loss=values.mean(),
        chunk_loss=first_chunks["loss"].mean(),
    )


def used_parameters(n_parameters: int, vocab_size: int, used_tokens: int, width: int) -> int:
    """Parameters minus the (tied) embedding rows of tokens the data never uses."""
    if not 0 < used_tokens <= vocab_size:
        raise ValueError(f"used_tokens={used_tokens} must lie in 1..vocab_size={vocab_size}")
    return n_parameters - (vocab_size - used_tokens) * width


def _bits(world: World, model, tokenizer, bios: pd.DataFrame, batch_size: int) -> BioSBits | BioDBits:
    """The bits `model` has learned of `world`: the formula of the world's kind on the losses of
    the items it scores (bioS: name and values; bioD: name and every chunk), `batch_size`
    biographies a forward pass."""
    from physlm.knowledge.qa import biod_chunk_losses, item_losses

    if isinstance(world, BioDWorld):
        names, chunks = biod_chunk_losses(model, tokenizer, bios, world.people, world.strings, batch_size)
        return biod_measure(names, chunks, world.n_names, world.spec)
    losses = item_losses(model, tokenizer, bios, world.people, batch_size)
    value_space = bios_value_space_bits(world.pools)
    n = len(world.people)
    return bios_bits(n, world.n_names, losses["name_loss"].mean(), value_space, losses["value_loss"].mean())


def data_bits(world: World) -> float:
    """All the bits the world's data holds: what a model with zero loss on every item would learn."""
    n = len(world.people)
    if isinstance(world, BioDWorld):
        return biod_bits(n, world.n_names, world.spec, 0.0, 0.0, 0.0).total
    return bios_bits(n, world.n_names, 0.0, bios_value_space_bits(world.pools), 0.0).total


def capacity_bits(
    *,
    model_dir: Path,
    bios: Path,
    world_dir: Path,
    identity: dict,
    out: Path,
    quantization: tuple[str, ...] = ("none", "int8", "int4"),
    batch_size: int = 64,
    threads: int = 1,
) -> None:
    """Step `capacity-bits`: bits of knowledge and bits per (used) parameter of a trained model, as
    trained and after each weight quantization."""
    import torch

    from physlm.engine.artifacts import load_model, read_scale, with_identity, write_table
    from physlm.engine.corpus import bio_documents
    from physlm.engine.models import count_parameters
    from physlm.engine.quantize import quantized

    torch.set_num_threads(threads)
    model, tokenizer = load_model(model_dir)
    table, world = pd.read_parquet(bios), load_world(world_dir)
    used = len({t for doc in bio_documents(tokenizer, table)[0] for t in doc})
    width = model.get_input_embeddings().weight.shape[1]
    params = used_parameters(count_parameters(model), len(tokenizer), used, width)
    rows = []
    for scheme in quantization:
        bits = _bits(world, quantized(model, scheme), tokenizer, table, batch_size)
        rows.append(
            {
                "quantization": scheme,
                "parameters": params,
                "bits": bits.total,
                "data_bits": data_bits(world),
                **asdict(bits),
                "bits_per_parameter": bits.total / params,
            }
        )
        print(f"{scheme}: {bits.total:,.0f} bits, {bits.total / params:.3f} bits/parameter", flush=True)
    write_table(with_identity(pd.DataFrame(rows), identity, read_scale(model_dir)), out)
