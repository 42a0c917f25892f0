"""Solutions written by a model and judged by the checker; problems trained on one per row."""

import numpy as np
import pytest
import torch

from physlm.corpus import problem_documents
from physlm.data.igsm import Knobs, ProblemSet, lexicon, make_set
from physlm.data.tokenizer import build_tokenizer
from physlm.models import build_model
from physlm.sections import ModelConfig
from physlm.solve import accuracy_by_op, generate, judge
from physlm.train import IGNORE, Rows


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


def test_rows_keep_one_document_per_row_and_drop_the_too_long():
    docs = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10]]
    rows = Rows(docs, [[True] * len(d) for d in docs], context=4, seed=0, pad=0, batch_size=2)
    assert rows.dropped == 1 and rows.per_epoch == 2
    ids, labels = rows.windows(0, 2)
    assert sorted(map(tuple, ids.tolist())) == [(1, 2, 3), (4, 5, 0)]
    assert (labels[ids == 0] == IGNORE).all()
    again, _ = Rows(docs, [[True] * len(d) for d in docs], 4, seed=0, pad=0, batch_size=2).windows(0, 2)
    assert (again == ids).all()
    with pytest.raises(ValueError, match="longer than the context"):
        Rows(docs, [[True] * len(d) for d in docs], context=1, seed=0, pad=0, batch_size=2)


def test_rows_group_batches_by_length_and_see_every_document_once_per_epoch():
    rng = np.random.default_rng(0)
    docs = [[i + 1] * int(n) for i, n in enumerate(rng.integers(5, 200, size=3200))]
    rows = Rows(docs, [[True] * len(d) for d in docs], context=256, seed=0, pad=0, batch_size=16)
    padding, seen = 0, []
    for step in range(200):
        ids, _ = rows.windows(step * 16, 16)
        padding += (ids == 0).sum() / ids.size
        seen += ids[:, 0].tolist()
    assert sorted(seen) == list(range(1, 3201))
    # A random batch of 16 lengths uniform in 5-200 is about 45% padding; grouped, a few percent.
    assert padding / 200 < 0.05
    # Batches are shuffled: their lengths do not rise through a pool.
    widths = [rows.windows(step * 16, 16)[0].shape[1] for step in range(50)]
    assert widths != sorted(widths)
    again = Rows(docs, [[True] * len(d) for d in docs], context=256, seed=0, pad=0, batch_size=16)
    assert (again.windows(160, 16)[0] == rows.windows(160, 16)[0]).all()


def test_padding_after_a_document_changes_nothing_it_sees(tokenizer):
    model = build_model(ModelConfig("llama", 2, 2, 32, 64), len(tokenizer), 2, 0, 0)
    ids = torch.tensor([[2, 10, 11, 12]])
    padded = torch.tensor([[2, 10, 11, 12, 0, 0]])
    with torch.no_grad():
        assert torch.allclose(model(ids).logits, model(padded).logits[:, :4], atol=1e-5)
