"""Solutions written by a model and judged by the checker; problems trained on one per row."""

import numpy as np
import pytest
import torch

from physlm.engine.config_types import ModelConfig
from physlm.engine.models import build_model
from physlm.engine.tokenizer import build_tokenizer
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet, lexicon, make_set, make_tokenizer
from physlm.reasoning.problem_stream import problem_documents
from physlm.reasoning.solutions import DistinctLetters, accuracy_by_op, generate, judge


@pytest.fixture(scope="module")
def problems():
    table, _ = make_set(
        Knobs(max_ip=4, max_layers=2, max_items=2), ProblemSet("test", 12, 3, op_distribution="each"), 0
    )
    return table


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer(lexicon())


def test_batched_generation_matches_one_at_a_time(problems, tokenizer):
    model = build_model(
        ModelConfig("llama", 2, 2, 32, 256), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 0
    )
    prompts = [
        f"{t} Question: {q} Solution:" for t, q in zip(problems["text"], problems["question"], strict=True)
    ]
    assert len({len(tokenizer(p)["input_ids"]) for p in prompts}) > 1  # left padding is exercised
    batched = generate(model, tokenizer, prompts, batch_size=8, max_new_tokens=12)
    single = [generate(model, tokenizer, [p], batch_size=1, max_new_tokens=12)[0] for p in prompts]
    assert batched == single
    assert all(len(g) <= 12 and tokenizer.eos_token_id not in g for g in batched)


def test_judged_solutions_and_accuracy_by_op(problems):
    right = [" ".join(s) for s in problems["solution"]]
    wrong = [s.replace("Define", "Definition", 1) for s in right]
    judged = judge(
        problems, [r if k % 2 == 0 else w for k, (r, w) in enumerate(zip(right, wrong, strict=True))]
    )
    assert judged["correct"].tolist() == [k % 2 == 0 for k in range(len(problems))]
    assert set(judged.loc[~judged["correct"], "error"]) == {"format"}
    table = accuracy_by_op(judged, train_max_op=2)
    assert table["n"].tolist() == [4, 4, 4] and table["in_distribution"].tolist() == [True, True, False]
    assert np.allclose(table["accuracy"], judged.groupby("op")["correct"].mean())


def test_problem_documents_train_on_the_solution_only(problems, tokenizer):
    ids, masks = problem_documents(tokenizer, problems.head(1), solution_only=True)
    solution = tokenizer(" ".join(problems["solution"][0]))["input_ids"]
    assert ids[0][0] == ids[0][-1] == tokenizer.eos_token_id
    assert sum(masks[0]) == len(solution) + 1 and masks[0][-len(solution) - 1 :] == [True] * (
        len(solution) + 1
    )
    _, every = problem_documents(tokenizer, problems.head(1), solution_only=False)
    assert every[0] == [False] + [True] * (len(ids[0]) - 1)


def test_padding_after_a_document_changes_nothing_it_sees(tokenizer):
    model = build_model(ModelConfig("llama", 2, 2, 32, 64), len(tokenizer), 2, 0, 0)
    ids = torch.tensor([[2, 10, 11, 12]])
    padded = torch.tensor([[2, 10, 11, 12, 0, 0]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, model(padded).logits[:, :4], atol=1e-5)


def test_distinct_letters_rule_out_used_letters_only_where_a_new_variable_is_named(tokenizer):
    ids = tokenizer.convert_tokens_to_ids
    rule = DistinctLetters(tokenizer, start=2)
    prompt = ids(["▁Define", "▁Q"])  # a letter in the prompt is not the solution's
    written = ids(
        ["▁Define", "▁Z", "▁as", "▁g", ";", "▁so", "▁g", "▁", "=", "▁5", ".", "▁Define", "▁Z", "▁as"]
    )
    scores = torch.zeros(2, len(tokenizer))
    rows = torch.tensor([prompt + written, prompt + written[:-1] + ids(["▁so"])])  # not a new name next
    out = rule(rows, scores.clone())
    banned = set(tokenizer.convert_ids_to_tokens(torch.nonzero(out[0] == float("-inf")).flatten().tolist()))
    assert banned == {"▁g", "▁Z"}  # used in the solution; Q only in the prompt
    assert torch.isfinite(out[1]).all()
    after_semicolon = rule(torch.tensor([prompt + written[:4] + ids([";"])]), scores[:1].clone())
    assert after_semicolon[0, ids("▁g")] == float("-inf") and after_semicolon[0, ids("▁R")] == 0


def test_greedy_weighs_the_letters_as_one_choice_only_where_a_new_variable_is_named():
    """Letters at logit 0 each (about 26 of them, one used) against [BACK]: at logit 2 (7.4 against
    ~25) a letter is written after "as" when grouped, [BACK] without; at logit 4 (55) [BACK] either
    way; one token later (after the letter) grouping changes nothing."""
    tokenizer = make_tokenizer()
    ids = tokenizer.convert_tokens_to_ids
    written = ids(
        ["▁Define", "▁Z", "▁as", "▁g", ";", "▁so", "▁g", "▁", "=", "▁5", ".", "▁Define", "▁Z", "▁as"]
    )
    back, letters = ids("[BACK]"), DistinctLetters(tokenizer, 0).letter
    grouped, plain = DistinctLetters(tokenizer, 0, grouped=True), DistinctLetters(tokenizer, 0)

    def best(rule, row, back_logit):
        scores = torch.where(letters, 0.0, -20.0)[None].clone()
        scores[0, back] = back_logit
        return tokenizer.convert_ids_to_tokens(int(rule(torch.tensor([row]), scores).argmax()))

    assert best(plain, written, 2.0) == "[BACK]"
    assert best(grouped, written, 2.0) not in {"[BACK]", "▁g"}  # a fresh letter
    assert best(grouped, written, 4.0) == "[BACK]"
    assert best(grouped, [*written, ids("▁T")], 2.0) == "[BACK]"  # not where a variable is named


def _collapsing_model(tokenizer):
    """A model whose next token depends on its last one only: after "as" or ";" a letter, T first,
    then R; after a letter ";". Greedy without the rule: "as T ; T ; T ..." (the collapse)."""
    model = build_model(
        ModelConfig("llama", 1, 2, 32, 256), len(tokenizer), tokenizer.eos_token_id, tokenizer.pad_token_id, 0
    )
    ids = dict(
        zip(["as", ";", "T", "R"], tokenizer.convert_tokens_to_ids(["▁as", ";", "▁T", "▁R"]), strict=True)
    )
    embedding = torch.zeros(len(tokenizer), 32)
    head = torch.zeros(len(tokenizer), 32)
    for dim, name in enumerate(["as", ";", "T", "R"]):
        embedding[ids[name], dim] = 1.0
    head[ids["T"], :2], head[ids["R"], :2], head[ids[";"], 2:4] = 2.0, 1.0, 2.0
    with torch.no_grad():
        model.model.embed_tokens.weight = torch.nn.Parameter(embedding)
        model.lm_head.weight = torch.nn.Parameter(head)
        for layer in model.model.layers:  # the residual stream carries the last token's embedding
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
    return model


def test_generation_rules_out_a_reused_letter_only_when_asked(tokenizer):
    model = _collapsing_model(tokenizer)
    prompts = ["Define Zoo 's Lion as"]
    free = generate(model, tokenizer, prompts, 1, 5, distinct_letters=False)[0]
    ruled = generate(model, tokenizer, prompts, 1, 4)[0]
    assert tokenizer.convert_ids_to_tokens(free) == ["▁T", ";", "▁T", ";", "▁T"]
    assert tokenizer.convert_ids_to_tokens(ruled)[:4] == ["▁T", ";", "▁R", ";"]
