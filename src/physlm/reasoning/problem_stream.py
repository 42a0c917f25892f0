"""Training problems drawn while training: every row a new iGSM problem, none repeated.

Part 2.1 generates its data on the fly: at 100K steps of 512 problems nothing is seen twice. A cached
set cannot do that within a CPU's memory (300,000 tokenized problems took about 6 GB in a training
process), and a model that meets the same problems again can learn them instead of the task. Here
row k of the stream is drawn from (seed, k) alone, so the stream needs no storage, a resumed run
draws what an unbroken run would have, and a retry set (Part 2.2) with the same seed holds the same
problems as the clean one, with retries written in.

With a `decision_weight` other than 1, each row's labels come with weights: the token after each
step's period ("Define" for another step, or the end) weighs `decision_weight`, every other label 1.
That token is the solution's one decision of when it is done; it is one label in twenty, so a
weight gives it more of the gradient (an ablation of finding 4's round 5).

Rows are batched by length: a pool of `POOL_BATCHES` batches is drawn, sorted by length and cut into
batches, the batches shuffled, so a batch pads to a length close to each row's. A set of minimal
pairs (`ProblemSet.pairs`) is sorted and dropped by pair, so the two rows of a pair share a batch:
the contrast between them is the point of pairing them.

On a GPU the generator would be the bottleneck (a medium problem takes 1-4 ms of Python; a step of
256 problems trains in tens of milliseconds), so with `workers` the next pool is drawn by that many
worker processes while the current one trains. The rows are the same with or without workers.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor

import numpy as np
import pandas as pd
from transformers import PreTrainedTokenizerFast

from physlm.engine.corpus import Documents
from physlm.engine.loop import IGNORE
from physlm.reasoning.igsm import Knobs
from physlm.reasoning.igsm_sets import ProblemSet, problem_at, prompts


def _texts(args: tuple[Knobs, ProblemSet, int, range]) -> pd.DataFrame:
    """Problems `indices` of a set as a table of their text, question and solution sentences."""
    knobs, problems, seed, indices = args
    drawn = [problem_at(knobs, problems, seed, k) for k in indices]
    return pd.DataFrame(
        {
            "text": [" ".join(p.statements) for p in drawn],
            "question": [p.question_text for p in drawn],
            "question_first": knobs.question == "first",
            "solution": [p.steps for p in drawn],
        }
    )


def problem_documents(
    tokenizer: PreTrainedTokenizerFast, problems: pd.DataFrame, solution_only: bool
) -> Documents:
    """iGSM problems with their solutions; the loss on the solution only (the statements are random
    draws, there is nothing to learn in predicting them) or on everything (the paper's pretraining)."""
    eos = tokenizer.eos_token_id
    encoded = tokenizer(prompts(problems))
    solutions = tokenizer([" ".join(steps) for steps in problems["solution"]])
    ids, masks = [], []
    for p, s in zip(encoded["input_ids"], solutions["input_ids"], strict=True):
        ids.append([eos, *p, *s, eos])
        masks.append([False] + [not solution_only] * len(p) + [True] * (len(s) + 1))
    return ids, masks


class FreshProblems:
    """The endless stream of training rows (token ids, loss labels) of one problem set's knobs and
    op mix; `per_epoch` is the number of problems the run will draw (`problems.problems`); `workers`
    processes draw the next pool ahead (0: drawn here, when needed)."""

    POOL_BATCHES = 50

    def __init__(
        self,
        tokenizer,
        knobs: Knobs,
        problems: ProblemSet,
        seed: int,
        context: int,
        batch_size: int,
        solution_only: bool,
        workers: int = 0,
        decision_weight: float = 1.0,
    ):
        if decision_weight <= 0:
            raise ValueError(f"decision_weight: {decision_weight}, allowed: a number above 0")
        if problems.pairs and batch_size % 2:
            raise ValueError(f"batch_size: {batch_size}, allowed with pairs: an even number (whole pairs)")
        self.unit = 2 if problems.pairs else 1  # rows drawn, dropped and sorted together
        self.decision_weight = decision_weight
        self.tokenizer, self.knobs, self.problems, self.seed = tokenizer, knobs, problems, seed
        self.context, self.batch_size, self.solution_only = context, batch_size, solution_only
        self.pad = tokenizer.pad_token_id
        self.per_epoch = problems.problems
        self.pool_rows = self.POOL_BATCHES * batch_size
        self._workers = workers
        self._executor = (
            ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) if workers else None
        )
        self._next: tuple[int, list[Future]] | None = None
        self._docs, self._masks, dropped = self._draw(0)
        self._pool = 0
        self.mean_length = sum(map(len, self._docs)) / len(self._docs)
        self.dropped_share = dropped / (dropped + len(self._docs))

    def _draw(self, pool: int) -> tuple[list[list[int]], list[list[bool]], int]:
        """Pool `pool`'s rows in batch order, and how many problems were dropped. Its problems are
        indices pool * 2n + j (n rows a pool), j = 0, 1, ...: the first n that fit the context (the
        paper drops over-length problems)."""
        n, docs, masks, j = self.pool_rows, [], [], 0
        while len(docs) < n and j < 2 * n:
            indices = range(pool * 2 * n + j, pool * 2 * n + min(2 * n, j + n - len(docs)))
            table = (
                self._prefetched(pool) if j == 0 else _texts((self.knobs, self.problems, self.seed, indices))
            )
            drawn, drawn_masks = problem_documents(self.tokenizer, table, self.solution_only)
            for u in range(0, len(drawn), self.unit):  # ranges start and end on whole units
                if all(len(doc) <= self.context for doc in drawn[u : u + self.unit]):
                    docs += drawn[u : u + self.unit]
                    masks += drawn_masks[u : u + self.unit]
            j = indices.stop - pool * 2 * n
        self._prefetch(pool + 1)
        if len(docs) < n:
            raise ValueError(
                f"most problems of these knobs are longer than the context ({self.context} tokens): "
                "raise math.model.context or lower the knobs"
            )
        rng = np.random.default_rng([self.seed, pool])
        units = sorted(range(0, n, self.unit), key=lambda u: max(map(len, docs[u : u + self.unit])))
        by_length = [i for u in units for i in range(u, u + self.unit)]
        batches = [by_length[b : b + self.batch_size] for b in range(0, n, self.batch_size)]
        order = [i for b in rng.permutation(len(batches)) for i in batches[b]]
        return [docs[i] for i in order], [masks[i] for i in order], j - n

    def _prefetch(self, pool: int) -> None:
        """With workers: start drawing pool `pool`'s first candidates (problems pool * 2n ..)."""
        if self._executor is None:
            return
        first, n = pool * 2 * self.pool_rows, self.pool_rows
        chunk = -(-n // self._workers)
        chunks = [range(a, min(a + chunk, first + n)) for a in range(first, first + n, chunk)]
        args = (self.knobs, self.problems, self.seed)
        self._next = (pool, [self._executor.submit(_texts, (*args, c)) for c in chunks])

    def _prefetched(self, pool: int) -> pd.DataFrame:
        """Pool `pool`'s first n candidates: from the workers if they were drawing it, else here."""
        if self._next is None or self._next[0] != pool:
            self._prefetch(pool)
        if self._next is None:
            first = pool * 2 * self.pool_rows
            return _texts((self.knobs, self.problems, self.seed, range(first, first + self.pool_rows)))
        return pd.concat([f.result() for f in self._next[1]], ignore_index=True)

    def windows(self, start: int, count: int) -> tuple[np.ndarray, ...]:
        """Rows start .. start+count-1 of the stream, right-padded to the longest, as (ids, labels),
        and their labels' weights where the decision weight is not 1."""
        docs, masks = [], []
        for k in range(start, start + count):
            pool, row = divmod(k, self.pool_rows)
            if pool != self._pool:
                self._docs, self._masks, _ = self._draw(pool)
                self._pool = pool
            docs.append(self._docs[row])
            masks.append(self._masks[row])
        width = max(map(len, docs))
        ids = np.full((count, width), self.pad, dtype=np.int64)
        labels = np.full((count, width), IGNORE, dtype=np.int64)
        for r, (doc, mask) in enumerate(zip(docs, masks, strict=True)):
            ids[r, : len(doc)] = doc
            labels[r, : len(doc)] = np.where(mask, doc, IGNORE)
        if self.decision_weight == 1.0:
            return ids, labels
        return ids, labels, decision_weights(self.tokenizer, ids, labels, self.decision_weight)


def decision_weights(tokenizer, ids: np.ndarray, labels: np.ndarray, weight: float) -> np.ndarray:
    """Per label of rows `ids`: `weight` where it is the token after a solution step's period (the
    end, or the next step's "Define"), else 1. Statements end in periods too: only periods after the
    prompt's "Solution" count."""
    period, solution = tokenizer.convert_tokens_to_ids([".", "▁Solution"])
    in_solution = np.cumsum(ids == solution, axis=1) > 0
    after_period = np.zeros(ids.shape, dtype=bool)
    after_period[:, 1:] = ids[:, :-1] == period
    return np.where(in_solution & after_period & (labels != IGNORE), weight, 1.0)
