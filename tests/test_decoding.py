"""Decoders: valid text, deterministic for a seed, within their budget; answers read back; the retry
decoders resample exactly when their signal fires."""

import dataclasses
import types

import pandas as pd
import pytest
import torch
from transformers import DynamicCache

from physlm.engine.config_types import DecodingConfig, ModelConfig
from physlm.engine.models import build_model
from physlm.engine.tokenizer import build_tokenizer
from physlm.reasoning import decoding
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet, lexicon, make_set, prompt


@pytest.fixture(scope="module")
def tokenizer():
    tokenizer = build_tokenizer(lexicon(), prepend_scheme="first")
    tokenizer.add_tokens(["[BACK]"])
    return tokenizer


@pytest.fixture(scope="module")
def problems():
    table, _ = make_set(
        Knobs(max_ip=4, max_layers=2, max_items=2), ProblemSet("test", 4, 2, op_distribution="each"), 0
    )
    return table


class Scripted(torch.nn.Module):
    """A stand-in language model that writes each problem's right solution with probability 0.999 per
    token (the rest spread over every token): it keeps the text it was fed in the KV cache, so
    stepping back works as with a real model."""

    def __init__(self, tokenizer, problems):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.config = types.SimpleNamespace(max_position_embeddings=512)
        self.vocab = len(tokenizer)
        eos = tokenizer.eos_token_id
        self.script = {}
        for text, question, steps in zip(
            problems["text"], problems["question"], problems["solution"], strict=True
        ):
            head = [eos, *tokenizer(prompt(text, question))["input_ids"]]
            self.script[tuple(head)] = [*tokenizer(" ".join(steps))["input_ids"], eos]

    def forward(self, ids, cache, use_cache):
        cache.update(ids[:, None, :, None].float(), ids[:, None, :, None].float(), 0)
        seen = cache.layers[0].values[0, 0, :, 0].long().tolist()
        head = next(h for h in self.script if tuple(seen[: len(h)]) == h)
        at = len(seen) - len(head)
        script = self.script[head]
        logits = torch.full((1, ids.shape[1], self.vocab), 0.0)
        logits[0, -1, script[min(at, len(script) - 1)]] = torch.log(torch.tensor(0.999 * self.vocab / 0.001))
        return types.SimpleNamespace(logits=logits)


CFG = DecodingConfig(samples=[1, 2], retries=2, entropy_threshold=0.69, max_new_tokens=40)


def test_answers_are_read_back_and_voted():
    question = "How many Lion does Penguin Beach have?"
    right = (
        "Define Lion Rock's Tiger as e; so e = 4. Define Penguin Beach's Lion as c; so c = a + b = 3 + 5 = 8."
    )
    assert decoding.claimed_answer(question, right) == 8
    assert decoding.claimed_answer(question, "Define Lion Rock's Tiger as e; so e = 4.") is None
    other = right.replace("= 8.", "= 9.")
    assert decoding.majority_vote(question, [other, right, right]) == 1
    assert decoding.majority_vote(question, [other, right]) == 0  # a tie: the earliest
    assert decoding.majority_vote(question, ["", ""]) == 0


@pytest.mark.parametrize(
    ("strategy", "k"),
    [(decoding.GREEDY, 1), (decoding.BEST_OF, 2), (decoding.ENTROPY_RETRY, 1), (decoding.PROBE_RETRY, 1)],
)
def test_each_decoder_writes_text_deterministically_within_its_budget(tokenizer, problems, strategy, k):
    model = build_model(
        ModelConfig("llama", 1, 2, 16, 256), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 0
    )
    score = (lambda ids, entropies: 1.0) if strategy == decoding.PROBE_RETRY else decoding.entropy_scorer
    runs = [decoding.decode(model, tokenizer, problems, strategy, CFG, seed, score, k) for seed in (0, 0, 1)]
    first = runs[0]
    assert first["solution"].map(lambda s: isinstance(s, str)).all()
    assert first.equals(runs[1])
    assert (first["tokens"] <= k * CFG.max_new_tokens * (CFG.retries + 1)).all()
    if strategy == decoding.GREEDY:
        assert (first["tokens"] <= CFG.max_new_tokens).all()


def test_retries_cost_exactly_what_they_resample(tokenizer, problems):
    model, cfg = Scripted(tokenizer, problems), dataclasses.replace(CFG, max_new_tokens=300)
    never = decoding.decode(model, tokenizer, problems, decoding.PROBE_RETRY, cfg, 0, lambda i, e: 0.0)
    assert never["correct"].all()  # the scripted model's greedy text is the right solution
    gold = [len(tokenizer(" ".join(steps))["input_ids"]) for steps in problems["solution"]]
    assert never["tokens"].tolist() == gold
    always = decoding.decode(model, tokenizer, problems, decoding.PROBE_RETRY, cfg, 0, lambda i, e: 1.0)
    # every step start is tried 1 + retries times; all score alike, so the first (greedy) one is kept
    assert always["correct"].all() and (always["tokens"] > never["tokens"]).all()
    starts = [
        sum(len(tokenizer(s.split(" as ")[0] + " as")["input_ids"]) for s in steps)
        for steps in problems["solution"]
    ]
    assert (always["tokens"] - never["tokens"]).tolist() == [cfg.retries * n for n in starts]


def test_stepping_back_forgets_what_was_written(tokenizer, problems):
    model = Scripted(tokenizer, problems)
    head = next(iter(model.script))
    writer = decoding.Writer(model, tokenizer, list(head), 40, torch.Generator().manual_seed(0))
    start, logits = len(writer.ids), writer.logits
    first = writer.until(writer.as_, sample=False)
    writer.back_to(start, logits)
    assert writer.ids == list(head) and writer.cache.get_seq_length() == len(head)
    assert writer.until(writer.as_, sample=False) == first
    assert isinstance(writer.cache, DynamicCache) and pd.notna(first[0])


def test_the_decoded_problems_are_the_first_of_each_op_count(problems):
    assert sorted(problems["op"].value_counts().tolist()) == [2, 2]  # two problems of op 1 and of op 2
    first = decoding.decoded_problems(problems, 1)
    assert sorted(first["op"]) == [1, 2]
    assert set(first["problem"]) == {problems[problems["op"] == op]["problem"].iloc[0] for op in (1, 2)}
    assert decoding.decoded_problems(problems, None).equals(problems)


@pytest.mark.parametrize(("key", "value"), [("problems_per_op", 0), ("batch_size", 0)])
def test_a_bad_decoding_size_names_its_key(key, value):
    with pytest.raises(ValueError, match=f"^{key}: 0 is less than the minimum of 1"):
        DecodingConfig.from_config({**dataclasses.asdict(CFG), key: value})


def test_an_unknown_decoder_or_probe_retry_without_its_probe_is_refused(tmp_path):
    common = dict(
        model_dir=tmp_path,
        decoding_config=CFG,
        problems=tmp_path / "test.parquet",
        seed=0,
        identity={},
        out=tmp_path / "d.parquet",
        solutions_out=tmp_path / "s.parquet",
    )
    with pytest.raises(ValueError, match="--decoder: 'beam' is not one of"):
        decoding.decode_with(decoder="beam", **common)
    with pytest.raises(ValueError, match="probe_retry needs --probe and --probe-config"):
        decoding.decode_with(decoder="probe_retry", **common)
    with pytest.raises(ValueError, match="greedy reads the evaluate step's solutions: --greedy-solutions"):
        decoding.decode_with(decoder="greedy", **common)


def test_greedy_is_read_from_the_evaluate_steps_solutions_of_the_decoded_problems(tokenizer, problems):
    model = build_model(
        ModelConfig("llama", 1, 2, 16, 256), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 0
    )
    written = decoding.decode(model, tokenizer, problems, decoding.GREEDY, CFG, 0)
    # as evaluate-math writes them: with identity and scale columns, in any order
    evaluated = (
        written.drop(columns=["strategy", "k"]).assign(seed=3, n_layer=1).sample(frac=1, random_state=0)
    )
    decoded = decoding.decoded_problems(problems, 1)  # one problem per op count, not all of them
    read = decoding.evaluated_greedy(evaluated, decoded)
    expected = written.set_index("problem").loc[decoded["problem"]].reset_index()
    assert read.equals(expected[read.columns]) and list(read.columns) == list(written.columns)
    assert len(read) == decoded["op"].nunique() < len(written)
    with pytest.raises(ValueError, match="no solution of 1 of the decoded problems"):
        decoding.evaluated_greedy(evaluated[evaluated["problem"] != decoded["problem"].iloc[0]], decoded)


def test_the_step_by_step_writer_never_reuses_a_letter_for_a_new_variable(tokenizer):
    from test_solutions import _collapsing_model

    model = _collapsing_model(tokenizer)  # left alone: "as T ; T ; T ..."
    head = [tokenizer.eos_token_id, *tokenizer("Define Zoo 's Lion as")["input_ids"]]
    writer = decoding.Writer(model, tokenizer, head, 4, torch.Generator().manual_seed(0))
    for _ in range(4):
        writer.emit(sample=False)
    assert tokenizer.convert_ids_to_tokens(writer.solution()) == ["▁T", ";", "▁R", ";"]


def test_best_of_answers_every_k_from_prefixes_of_one_set_of_draws(tokenizer, problems):
    model = build_model(
        ModelConfig("llama", 1, 2, 16, 256), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 0
    )
    cfg = dataclasses.replace(CFG, samples=[1, 2, 4])
    judged = decoding.decode(model, tokenizer, problems, decoding.BEST_OF, cfg, 0, None, 4)
    assert judged.groupby("k").size().to_dict() == {1: len(problems), 2: len(problems), 4: len(problems)}
    assert list(judged.drop_duplicates("k")["strategy"]) == ["best of 1", "best of 2", "best of 4"]
    tokens = judged.pivot_table(index="problem", columns="k", values="tokens")
    # each k adds the next draws to the same first ones: costs grow by at most one draw's length each
    assert ((tokens[2] - tokens[1]).between(0, cfg.max_new_tokens)).all()
    assert ((tokens[4] - tokens[2]).between(0, 2 * cfg.max_new_tokens)).all()
    assert (tokens[4] > tokens[1]).all()
