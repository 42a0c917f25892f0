import numpy as np
import pandas as pd
import pytest
import torch

from physlm.engine.config_types import ProbeConfig
from physlm.engine.probe import Probe
from physlm.knowledge.bios import make_biographies
from physlm.knowledge.probing import attribute_labels, majority_baseline, p_probe, q_probe, value_positions
from physlm.knowledge.templates import ATTRIBUTES


def test_labels_and_majority_baseline():
    people = pd.DataFrame(
        {"birth_month": [1, 1, 2, 3], **{a: ["x", "y", "y", "y"] for a in ATTRIBUTES if a != "birth_date"}}
    )
    labels, classes = attribute_labels(people)
    assert classes == [3, 2, 2, 2, 2, 2] and labels[:, 0].tolist() == [0, 0, 1, 2]
    train = np.array([True, True, False, False])
    # Month: train majority is month 1, seen by no held-out person; others: "x"/"y" tie -> "x".
    assert majority_baseline(labels, train).tolist() == [0.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def test_value_positions_are_the_tokens_right_before_each_value(people, tokenizer):
    bios = make_biographies(people.head(10), "single_permute", seed=0)
    ids, before = value_positions(tokenizer, bios)
    for row, tokens, positions in zip(bios.itertuples(), ids, before, strict=True):
        assert tokens[0] == tokenizer.eos_token_id  # the document separator, as in training
        person = people.loc[row.person_id]
        for attribute, k in zip(ATTRIBUTES, positions, strict=True):
            value = str(person[attribute])
            following = tokenizer.decode(tokens[k + 1 : k + 1 + len(tokenizer(value)["input_ids"])])
            assert following.strip() == value


@pytest.mark.parametrize("probe", ["P", "Q"])
def test_probes_score_held_out_people_only(people, tokenizer, tiny_model, probe):
    cfg = ProbeConfig(p_rank=2, q_rank=2, steps=3, batch_size=8, lr=1e-3, embedding_lr=1e-4, weight_decay=0.0)
    bios = make_biographies(people, "single", seed=0)
    held_out = (people["split"] == "test").sum()
    if probe == "P":
        table = p_probe(tiny_model, tokenizer, bios, people, cfg, seed=0)
        assert sorted(set(table.position)) == [1, 2, 3, 4, 5, 6] and len(table) == 36
        # Fixed sentence order: position k comes before attribute k's value, so nothing is "next" elsewhere.
        diagonal = table[table.position == table.attribute.map(lambda a: ATTRIBUTES.index(a) + 1)]
        assert diagonal.next_accuracy.notna().all() and table.next_accuracy.notna().sum() == 6
        # "later": read strictly before the value, i.e. at a position before the attribute's own
        index = table.attribute.map(lambda a: ATTRIBUTES.index(a) + 1)
        assert table.later_accuracy.notna().eq(table.position < index).all()
    else:
        table = q_probe(tiny_model, tokenizer, people, cfg, seed=0)
        assert table.attribute.tolist() == list(ATTRIBUTES)
    assert (table.n == held_out).all() and table.accuracy.between(0, 1).all()


def test_each_attribute_gets_its_own_probe_with_a_norm_per_position_and_a_loss_curve(
    people, tokenizer, tiny_model
):
    cfg = ProbeConfig(
        p_rank=2, q_rank=2, steps=20, batch_size=8, lr=1e-3, embedding_lr=1e-4, weight_decay=0.0
    )
    bios = make_biographies(people, "single", seed=0)
    lines = []
    p_probe(tiny_model, tokenizer, bios, people, cfg, seed=0, log=lines.append)
    assert [line for line in lines if line.startswith("P-probe")] == [f"P-probe {a}:" for a in ATTRIBUTES]
    curves = [line for line in lines if line.startswith("probe loss per tenth of 20 steps")]
    assert len(curves) == len(ATTRIBUTES)
    probe = Probe(torch.randn(10, 4), lambda embeds: embeds, rank=2, classes=[3, 3], seed=0)
    assert [type(n).__name__ for n in probe.norms] == ["LayerNorm", "LayerNorm"]
    assert all(n.weight.requires_grad and n.bias.requires_grad for n in probe.norms)


def test_q_probe_reads_the_name_between_markers_at_the_end_marker(people, tokenizer, tiny_model, monkeypatch):
    import physlm.knowledge.probing as probing

    seen = []

    def spy(probe, ids, positions, labels, train, cfg, seed, log):
        seen.append((probe, ids, positions))

    monkeypatch.setattr(probing, "fit", spy)
    cfg = ProbeConfig(p_rank=2, q_rank=2, steps=1, batch_size=8, lr=1e-3, embedding_lr=1e-4, weight_decay=0.0)
    q_probe(tiny_model, tokenizer, people, cfg, seed=0)
    assert len(seen) == len(ATTRIBUTES)  # one probe per attribute
    probe, ids, positions = seen[0]
    start, end = len(tokenizer), len(tokenizer) + 1
    for row, name in zip(ids.tolist(), people["full_name"], strict=True):
        read = row.index(end)
        assert row[:2] == [tokenizer.eos_token_id, start]
        assert tokenizer.decode(row[2:read]) == name
    assert all(ids[i, positions[i, 0]] == end for i in range(len(ids)))
    assert type(probe.norms[0]).__name__ == "BatchNorm1d" and probe.embedding.shape[0] == start + 2
