"""Training problems drawn while training: fresh, reproducible, batched by length."""

import numpy as np
import pytest

from physlm.engine.loop import IGNORE
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet, make_tokenizer, problem_at
from physlm.reasoning.problem_stream import FreshProblems

KNOBS = Knobs(max_ip=4, max_layers=2, max_items=2)


@pytest.fixture(scope="module")
def tokenizer():
    return make_tokenizer()


def _stream(tokenizer, retry=0.0, context=256, seed=0, solution_only=True, decision_weight=1.0, **problems):
    problem_set = ProblemSet("train", 1, 3, op_distribution="uniform", retry=retry, **problems)
    return FreshProblems(
        tokenizer, KNOBS, problem_set, seed, context, 4, solution_only, decision_weight=decision_weight
    )


def _texts(tokenizer, ids):
    return [tokenizer.decode([t for t in row if t != tokenizer.pad_token_id]) for row in ids]


def test_every_row_is_a_new_problem_and_the_stream_is_a_function_of_the_seed(tokenizer):
    stream = _stream(tokenizer)
    rows = stream.pool_rows
    batches = [stream.windows(step * 4, 4)[0] for step in range(2 * rows // 4)]  # two pools
    texts = [t for ids in batches for t in _texts(tokenizer, ids)]
    assert len(set(texts)) == len(texts)
    # pool 0 holds problems 0 .. n-1 (none dropped at this context), in some batch order
    drawn = {problem_at(KNOBS, stream.problems, 0, k).template for k in range(rows)}
    assert len(drawn) > rows // 2
    resumed = _stream(tokenizer).windows(rows + 8, 4)[0]  # a fresh stream, straight to a later step
    assert (resumed == batches[rows // 4 + 2]).all()
    assert _texts(tokenizer, _stream(tokenizer, seed=1).windows(0, 4)[0]) != texts[:4]


def test_workers_drawing_ahead_give_the_same_rows(tokenizer):
    problem_set = ProblemSet("train", 1, 3, op_distribution="uniform")
    ahead = FreshProblems(tokenizer, KNOBS, problem_set, 0, 256, 4, True, workers=2)
    here = _stream(tokenizer)
    for start in (0, 4, ahead.pool_rows, 2 * ahead.pool_rows + 8):  # within a pool, then the next ones
        assert (ahead.windows(start, 4)[0] == here.windows(start, 4)[0]).all()


def test_batches_are_grouped_by_length_and_the_loss_is_on_the_solution(tokenizer):
    stream = _stream(tokenizer)
    padding = [
        (ids == tokenizer.pad_token_id).mean() for ids, _ in (stream.windows(s * 4, 4) for s in range(50))
    ]
    assert np.mean(padding) < 0.05
    ids, labels = stream.windows(0, 4)
    solution = tokenizer.convert_tokens_to_ids("▁Solution")
    for row, label in zip(ids, labels, strict=True):
        start = list(row).index(solution) + 2  # after "Solution" ":"
        assert (label[:start] == IGNORE).all() and label[start] == row[start]
        assert ((label == IGNORE) == ((np.arange(len(row)) < start) | (row == tokenizer.pad_token_id))).all()
    every, every_labels = _stream(tokenizer, solution_only=False).windows(0, 4)
    assert (every == ids).all() and (every_labels[:, 1:] != IGNORE).sum() > (labels != IGNORE).sum()


def test_with_the_question_first_rows_open_with_it_and_the_loss_still_starts_at_the_solution(tokenizer):
    problem_set = ProblemSet("train", 1, 3, op_distribution="uniform")
    first = Knobs(max_ip=4, max_layers=2, max_items=2, question="first")
    ids, labels = FreshProblems(tokenizer, first, problem_set, 0, 256, 4, True).windows(0, 4)
    solution = tokenizer.convert_tokens_to_ids("▁Solution")
    for text, row, label in zip(_texts(tokenizer, ids), ids, labels, strict=True):
        assert text.startswith("[EOS] Question: How many")
        start = list(row).index(solution) + 2
        assert (label[:start] == IGNORE).all() and label[start] == row[start]


def test_retry_rows_are_the_clean_problems_with_retries_written_in(tokenizer):
    clean, retry = _stream(tokenizer), _stream(tokenizer, retry=0.5)
    rows = clean.pool_rows  # the same problems make up a pool; the order of batches follows lengths
    prompt = [t.split("Solution:")[0] for t in _texts(tokenizer, clean.windows(0, rows)[0])]
    retried = [t.split("Solution:")[0] for t in _texts(tokenizer, retry.windows(0, rows)[0])]
    assert sorted(prompt) == sorted(retried)
    assert retry.mean_length > clean.mean_length


def test_over_length_problems_are_dropped_and_a_context_too_short_is_refused(tokenizer):
    lengths = [len(d) for d in _stream(tokenizer)._draw(0)[0]]
    context = int(np.percentile(lengths, 80))
    short = _stream(tokenizer, context=context)
    assert 0.1 < short.dropped_share < 0.3
    assert short.windows(0, 4)[0].shape[1] <= context
    with pytest.raises(ValueError, match="longer than the context"):
        _stream(tokenizer, context=20)


def test_minimal_pairs_share_a_batch_and_are_dropped_together(tokenizer):
    def halves(ids):  # (statements, question) of each row
        return [t.split(" Solution:")[0].split(" Question: ") for t in _texts(tokenizer, ids)]

    lengths = [len(d) for d in _stream(tokenizer, pairs=True)._draw(0)[0]]
    for context in (256, int(np.percentile(lengths, 80))):
        stream = _stream(tokenizer, context=context, pairs=True)
        for step in range(stream.pool_rows // 4):
            rows = halves(stream.windows(step * 4, 4)[0])
            for a, b in (rows[0:2], rows[2:4]):
                assert a[0] == b[0] and a[1] != b[1]  # the same statements, another question
    assert stream.dropped_share > 0.1
    plain = halves(_stream(tokenizer).windows(0, 4)[0])
    assert plain[0][0] != plain[1][0]
    with pytest.raises(ValueError, match="batch_size: 3, allowed with pairs: an even number"):
        FreshProblems(tokenizer, KNOBS, ProblemSet("train", 1, 3, pairs=True), 0, 256, 3, True)


def test_an_op_mix_draws_ops_in_its_proportions():
    import random

    problems = ProblemSet("train", 1, 3, op_distribution="weights", op_weights=(0, 1, 3))
    ops = [problems.op(0, random.Random(k)) for k in range(4000)]
    assert ops.count(1) == 0 and ops.count(3) / ops.count(2) == pytest.approx(3, rel=0.15)
    with pytest.raises(ValueError, match=r"op_weights: \[1, 1\], allowed 3 weights"):
        ProblemSet("train", 1, 3, op_distribution="weights", op_weights=(1, 1))
    with pytest.raises(ValueError, match="given exactly when op_distribution is weights"):
        ProblemSet("train", 1, 3, op_weights=(1, 1, 1))


def test_the_decision_after_each_solution_step_weighs_decision_weight(tokenizer):
    plain, weighted = _stream(tokenizer), _stream(tokenizer, decision_weight=4.0)
    ids, labels = plain.windows(0, 4)
    ids_w, labels_w, weights = weighted.windows(0, 4)
    assert (ids == ids_w).all() and (labels == labels_w).all()  # the same rows, only weighted
    for row, w in zip(ids, weights, strict=True):
        tokens = tokenizer.convert_ids_to_tokens(row.tolist())
        solution = tokens.index("▁Solution")
        # every statement ends in a period too; only the tokens after the solution's periods weigh 4
        expected = [i for i in range(solution + 1, len(tokens)) if tokens[i - 1] == "."]
        assert sorted(np.flatnonzero(w == 4.0)) == expected
        assert tokens[expected[-1]] == tokenizer.eos_token and tokens.index(".") < solution
        assert all(tokens[i] == "▁Define" for i in expected[:-1])
        assert ((w == 1.0) | (w == 4.0)).all()
    with pytest.raises(ValueError, match="decision_weight"):
        _stream(tokenizer, decision_weight=0.0)
