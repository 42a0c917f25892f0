"""Where does a model keep a person's attributes? P-probing and Q-probing (Part 3.1), with the probe
of physlm.engine.probe. As in the paper, each probe task (attribute) has its own trainable parameters: one
task cannot shape the embedding update for another.

- P-probing reads a biography at the token just before each attribute value (positions 1-6 in text
  order) and asks for one attribute at all six (a LayerNorm with trainable affine, then a linear
  head, per position): knowledge readable at position 1 is already attached to the name, before the
  text states it.
- Q-probing reads [start] + full name + [end] at the end marker (BatchNorm before the head, as in
  Appendix F); the two markers are new tokens whose embeddings only the probe's update gives.

Probes train on QA-train people and are scored on held-out people only. Every input starts with the
document separator, as in training.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerFast

from physlm.engine.artifacts import load_model, read_scale, with_identity, write_table
from physlm.engine.config_types import ModelConfig, ProbeConfig
from physlm.engine.models import build_model
from physlm.engine.probe import fit, held_out_correct, pad_right, probe_model
from physlm.knowledge.templates import ATTRIBUTES
from physlm.knowledge.worlds import load_world


def attribute_labels(people: pd.DataFrame) -> tuple[np.ndarray, list[int]]:
    """Class index per (person, attribute) and the number of classes of each attribute.

    Birth date is probed as the birth month (the first token of the value), the others as values.
    """
    columns = [people["birth_month"] if a == "birth_date" else people[a] for a in ATTRIBUTES]
    codes = [pd.factorize(c, sort=True) for c in columns]
    return np.stack([c for c, _ in codes], axis=1), [len(u) for _, u in codes]


def majority_baseline(labels: np.ndarray, train: np.ndarray) -> np.ndarray:
    """Held-out accuracy, per column, of always answering the QA-train people's most common class."""
    return np.array(
        [np.mean(labels[~train, j] == np.bincount(labels[train, j]).argmax()) for j in range(labels.shape[1])]
    )


def value_positions(
    tokenizer: PreTrainedTokenizerFast, bios: pd.DataFrame
) -> tuple[list[list[int]], np.ndarray]:
    """Token ids of each biography, preceded by EOS as in training, and, per attribute, the index
    of the token just before its value."""
    ids, before = [], []
    for text, starts in zip(bios["text"], bios["starts"], strict=True):
        encoded = tokenizer(text, return_offsets_mapping=True)
        offsets = [s for s, _ in encoded["offset_mapping"]]
        # A Metaspace token may begin at the space before the value: allow one character.
        first = [next(i for i, s in enumerate(offsets) if i and s >= start - 1) for start in starts]
        ids.append([tokenizer.eos_token_id, *encoded["input_ids"]])
        before.append(first)  # token i of the text is at i + 1 after the EOS: i is the one before
    return ids, np.array(before)


def p_probe(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    bios: pd.DataFrame,
    people: pd.DataFrame,
    cfg: ProbeConfig,
    seed: int,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Held-out accuracy per (text position, attribute), over each person's first biography; one
    probe per attribute, reading it at all six positions.

    `later_accuracy` counts only biographies that state the attribute after that position (read
    before the text gives it); `next_accuracy` only those whose value comes right after it.
    """
    first = bios[bios["copy"] == 0].merge(people, on="person_id", validate="one_to_one")
    ids, before = value_positions(tokenizer, first)
    ordinal = np.argsort(np.argsort(before, axis=1), axis=1)  # text position of each attribute
    positions = torch.from_numpy(np.sort(before, axis=1))
    labels, classes = attribute_labels(first)
    train = (first["split"] == "train").to_numpy()
    n_pos = len(ATTRIBUTES)
    majority = majority_baseline(labels, train)
    padded = pad_right(ids, tokenizer.pad_token_id)
    held_out = ordinal[~train]
    rows = []
    for a, attribute in enumerate(ATTRIBUTES):
        log(f"P-probe {attribute}:")
        probe = probe_model(model, cfg.p_rank, [classes[a]] * n_pos, seed, norm="layer")
        targets = torch.from_numpy(np.repeat(labels[:, [a]], n_pos, axis=1))
        fit(probe, padded, positions, targets, train, cfg, seed, log)
        correct = held_out_correct(probe, padded, positions, targets, train, cfg.batch_size)
        for k in range(n_pos):
            hit = correct[:, k]
            later, nxt = held_out[:, a] > k, held_out[:, a] == k
            rows.append(
                {
                    "position": k + 1,
                    "attribute": attribute,
                    "accuracy": hit.mean(),
                    "later_accuracy": hit[later].mean() if later.any() else np.nan,
                    "next_accuracy": hit[nxt].mean() if nxt.any() else np.nan,
                    "majority": majority[a],
                    "n": len(hit),
                    "train_per_class": train.sum() / classes[a],
                }
            )
    return pd.DataFrame(rows).assign(probe_steps=cfg.steps, rank=cfg.p_rank)


# The columns of a Q-probe's table (q_probe), which `probe` reads back from `probe-names`.
Q_COLUMNS = ["position", "attribute", "accuracy", "majority", "n", "train_per_class", "probe_steps", "rank"]


def q_probe(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerFast,
    people: pd.DataFrame,
    cfg: ProbeConfig,
    seed: int,
    log: Callable[[str], None] = print,
) -> pd.DataFrame:
    """Held-out accuracy per attribute from [start] + full name + [end], read at the end marker;
    one probe per attribute."""
    start, end = len(tokenizer), len(tokenizer) + 1  # the two marker ids, after the vocabulary
    ids = [
        [tokenizer.eos_token_id, start, *name, end]
        for name in tokenizer(list(people["full_name"]))["input_ids"]
    ]
    read = torch.tensor([[len(x) - 1] for x in ids])
    labels, classes = attribute_labels(people)
    train = (people["split"] == "train").to_numpy()
    padded = pad_right(ids, tokenizer.pad_token_id)
    accuracy = []
    for a, attribute in enumerate(ATTRIBUTES):
        log(f"Q-probe {attribute}:")
        probe = probe_model(model, cfg.q_rank, [classes[a]], seed, norm="batch", markers=2)
        targets = torch.from_numpy(labels[:, [a]])
        fit(probe, padded, read, targets, train, cfg, seed, log)
        correct = held_out_correct(probe, padded, read, targets, train, cfg.batch_size)
        accuracy.append(correct[:, 0].mean())
    return pd.DataFrame(
        {
            "position": 0,
            "attribute": list(ATTRIBUTES),
            "accuracy": accuracy,
            "majority": majority_baseline(labels, train),
            "n": int((~train).sum()),
            "train_per_class": [train.sum() / c for c in classes],
            "probe_steps": cfg.steps,
            "rank": cfg.q_rank,
        }
    )


def _random_init(model_config: ModelConfig, tokenizer: PreTrainedTokenizerFast, seed: int) -> PreTrainedModel:
    """The baseline every probe is compared with: the model's shape at random init."""
    return build_model(model_config, len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, seed)


def probe(
    *,
    model_dir: Path,
    model_config: ModelConfig,
    probing_config: ProbeConfig,
    bios: Path,
    world_dir: Path,
    seed: int,
    identity: dict,
    out: Path,
    names_baseline: Path | None = None,
    threads: int = 1,
) -> None:
    """Step `probe`: P- and Q-probe a pretrained model and, as the baseline, the same architecture
    (`model_config`) at random init, on the biographies it was trained on. The random-init Q-probe
    reads names only, so it is the same for every bioS variant of a seed: with `names_baseline`
    (what `probe-names` wrote) its rows are read, not computed again."""
    torch.set_num_threads(threads)
    pretrained, tokenizer = load_model(model_dir)
    random_init = _random_init(model_config, tokenizer, seed)
    table, people = pd.read_parquet(bios), load_world(world_dir).people
    runs = {
        ("pretrained", "P"): lambda: p_probe(pretrained, tokenizer, table, people, probing_config, seed),
        ("pretrained", "Q"): lambda: q_probe(pretrained, tokenizer, people, probing_config, seed),
        ("random init", "P"): lambda: p_probe(random_init, tokenizer, table, people, probing_config, seed),
        ("random init", "Q"): (
            (lambda: pd.read_parquet(names_baseline)[Q_COLUMNS])
            if names_baseline is not None
            else (lambda: q_probe(random_init, tokenizer, people, probing_config, seed))
        ),
    }
    tables = []
    for (name, kind), run in runs.items():
        result = run()
        print(f"{kind}-probe, {name}: mean held-out accuracy {result['accuracy'].mean():.3f}", flush=True)
        tables.append(result.assign(probe=kind, model=name))
    write_table(with_identity(pd.concat(tables, ignore_index=True), identity, read_scale(model_dir)), out)


def probe_names(
    *,
    tokenizer_dir: Path,
    model_config: ModelConfig,
    probing_config: ProbeConfig,
    world_dir: Path,
    seed: int,
    identity: dict,
    out: Path,
    threads: int = 1,
) -> None:
    """Step `probe-names`: the Q-probe of the random-init model, once per seed: it reads names only,
    so every bioS variant's `probe` reads this one."""
    from transformers import AutoTokenizer

    torch.set_num_threads(threads)
    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    result = q_probe(
        _random_init(model_config, tokenizer, seed),
        tokenizer,
        load_world(world_dir).people,
        probing_config,
        seed,
    )
    print(f"Q-probe, random init: mean held-out accuracy {result['accuracy'].mean():.3f}", flush=True)
    write_table(with_identity(result, identity), out)
