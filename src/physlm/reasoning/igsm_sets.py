"""iGSM problem sets as the pipeline reads them: tables of problems with every label a probe reads,
the prompt a model reads, and the tokenizer of the iGSM world (the problems themselves are drawn
and written in physlm.reasoning.igsm).

A set is a ProblemSet (split, size, op mix, retry rate); problem `index` of a set depends only on
(seed, split, index), so a set is the same for any number of processes. Its table has one row per
problem (PROBLEM_COLUMNS) and a second table one row per parameter with the labels the V-probes and
the mistake probe read (LABEL_COLUMNS; at solution position k they follow from two integers, see
`at_position`).
"""

from __future__ import annotations

import functools
import random
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from physlm.engine.config_types import FromSection
from physlm.reasoning.igsm import (
    ATTEMPTS,
    LETTERS,
    MOD,
    RETRY,
    Knobs,
    Param,
    Problem,
    between,
    make_problem,
    members,
    reask,
)
from physlm.reasoning.igsm_names import LAYER_OF


@dataclass(frozen=True)
class ProblemSet(FromSection):
    """A set of problems: `problems` of the `split`'s templates, op from min_op to max_op drawn as
    the min of two uniform draws (the paper's training skew), uniformly, `each` (equal numbers per
    op, for accuracy by op) or by `weights` (`op_weights`, one per op from min_op to max_op: an op
    mix); solutions hold retries at rate `retry` (0: clean, Part 2.1). With `pairs`, problems 2k and
    2k + 1 are a minimal pair: the same statements asked two questions (`pair_at`)."""

    split: str
    problems: int
    max_op: int
    min_op: int = 1
    op_distribution: str = "min_of_two"
    retry: float = 0.0
    op_weights: tuple[float, ...] | None = None
    pairs: bool = False

    SCHEMA = "#/$defs/problem_set"

    def __post_init__(self):
        if not 1 <= self.min_op <= self.max_op:
            raise ValueError(f"min_op: {self.min_op}, allowed 1 to max_op ({self.max_op})")
        ops = self.max_op - self.min_op + 1
        if (self.op_distribution == "weights") != (self.op_weights is not None):
            raise ValueError("op_weights: given exactly when op_distribution is weights")
        if self.op_weights is not None and (
            len(self.op_weights) != ops or min(self.op_weights) < 0 or sum(self.op_weights) <= 0
        ):
            raise ValueError(
                f"op_weights: {list(self.op_weights)}, allowed {ops} weights >= 0 (one per op from "
                f"min_op {self.min_op} to max_op {self.max_op}), not all 0"
            )

    def op(self, index: int, rng: random.Random) -> int:
        low, high = self.min_op, self.max_op
        if self.op_distribution == "each":
            return low + index % (high - low + 1)
        if self.op_distribution == "uniform":
            return between(rng, low, high)
        if self.op_distribution == "weights":
            return rng.choices(range(low, high + 1), weights=self.op_weights)[0]
        return min(between(rng, low, high), between(rng, low, high))


def stage_problems(stage: dict, retry: float) -> ProblemSet:
    """The training problems of a curriculum stage (a `math.curriculum` item): train-split templates,
    its ops and op mix, with retries at rate `retry`; as many as its steps draw is set by the
    training step (physlm.reasoning.problem_stream)."""
    return ProblemSet(
        split="train",
        problems=1,
        max_op=stage["max_op"],
        op_distribution=stage["op_distribution"],
        op_weights=stage.get("op_weights"),
        retry=retry,
    )


def check_math(section: dict) -> None:
    """The `math` config section can make every problem set it asks for (ValueError naming the key,
    before any job runs)."""
    stages = section["curriculum"]
    for i, stage in enumerate(stages):
        key = f"math.curriculum[{i}]"
        Knobs.from_config(stage["knobs"]).check(stage["max_op"], f"{key}.knobs", f"{key}.max_op")
        try:
            stage_problems(stage, retry=0.0)
        except ValueError as error:
            raise ValueError(f"{key}.{error}") from None
    if section["curves"]["problems_per_op"] > section["test"]["problems_per_op"]:
        raise ValueError(
            f"math.curves.problems_per_op: {section['curves']['problems_per_op']}, allowed at most "
            f"math.test.problems_per_op ({section['test']['problems_per_op']}): the curves read test problems"
        )
    Knobs.from_config(stages[-1]["knobs"]).check(
        section["test"]["max_op"], f"math.curriculum[{len(stages) - 1}].knobs", "math.test.max_op"
    )


def problem_at(knobs: Knobs, problems: ProblemSet, seed: int, index: int) -> Problem:
    """Problem `index` of a set."""
    if problems.pairs:
        return pair_at(knobs, problems, seed, index // 2)[index % 2]
    rng = random.Random(f"igsm/{seed}/{problems.split}/{index}")
    return make_problem(knobs, problems.op(index, rng), rng, problems.split, problems.retry)


@functools.lru_cache(maxsize=2)  # a set is read in order: the pair's second row finds it here
def pair_at(knobs: Knobs, problems: ProblemSet, seed: int, pair: int) -> tuple[Problem, Problem]:
    """Minimal pair `pair` of a set with `pairs` (issue 36, round 8): a problem, and its statements
    in the same order asked another question of the same graph. Both questions' ops are drawn from
    the set's op mix first, and the problem is drawn again until its graph offers both, so that both
    rows keep the mix (the graphs lean to those that offer two questions)."""
    rng = random.Random(f"igsm/{seed}/{problems.split}/pair/{pair}")
    op, other = problems.op(2 * pair, rng), problems.op(2 * pair + 1, rng)
    for _ in range(ATTEMPTS):
        first = make_problem(knobs, op, rng, problems.split, problems.retry)
        partner = reask(first, other, rng, problems.retry)
        if partner is not None:
            return first, partner
    raise ValueError(f"pairs: no graph of these knobs asks two questions of op {op} and {other}")


def labels(problem: Problem) -> dict[str, list]:
    """Per parameter (instance and abstract, necessary or not): what the V-probes read (Part 2.1).

    nece: the question needs it; dep: every parameter it depends on, recursively; inputs: those it
    depends on directly; value: 0-22; step: the solution sentence defining it (-1: none); ready: the
    first solution position at which all its inputs are defined (-1: never); positions count every
    sentence, retries included. The labels at position
    k = 0..S (before solution sentence k) follow from these two positions, see `at_position`: stored
    as two integers instead of S + 1 booleans per label, which keeps the table ten times smaller."""
    params, need = problem.params, problem.need
    question = need[problem.question]
    step = dict(zip(problem.order, problem.sentence, strict=True))

    def ready(p: Param) -> int:
        inputs_at = [step.get(j) for j in p.inputs]
        return -1 if None in inputs_at else max((k + 1 for k in inputs_at), default=0)

    return {
        "param": list(range(len(params))),
        "name": [p.name for p in params],
        "abstract": [p.abstract for p in params],
        "nece": [bool(question >> i & 1) for i in range(len(params))],
        "value": [p.value for p in params],
        "step": [step.get(i, -1) for i in range(len(params))],
        "ready": [ready(p) for p in params],
        "inputs": [list(p.inputs) for p in params],
        "dep": [members(need[i] & ~(1 << i)) for i in range(len(params))],
    }


LABEL_COLUMNS = ["param", "name", "abstract", "nece", "value", "step", "ready", "inputs", "dep"]
UNKNOWN = MOD  # value(A) before A is defined: the 24th class


def at_position(step: int, ready: int, nece: bool, value: int, k: int) -> dict[str, int | bool]:
    """A parameter's labels at solution position k (before sentence k): known (defined by then),
    value (its value if known, else UNKNOWN), can_next (not known, every input known), nece_next
    (can_next and necessary)."""
    known = 0 <= step < k
    can_next = not known and 0 <= ready <= k
    return {
        "known": known,
        "value": value if known else UNKNOWN,
        "can_next": can_next,
        "nece_next": can_next and nece,
    }


def prompt(problem_text: str, question: str, question_first: bool = False) -> str:
    """What a model reads before it writes a solution: the statements and the question, in the
    order of the problem's knobs."""
    if question_first:
        return f"Question: {question} {problem_text} Solution:"
    return f"{problem_text} Question: {question} Solution:"


def prompts(problems) -> list[str]:
    """The prompt of every row of a problem table (columns text, question, question_first)."""
    return [
        prompt(*row)
        for row in zip(problems["text"], problems["question"], problems["question_first"], strict=True)
    ]


# What the model reads: fixed words, every world name, numbers mod 23, variable letters, the retry
# word, and the probe's markers (special tokens, never in training text).
FIXED_WORDS = (
    "The number of each 's equals more than times as much the sum difference and , . "
    "Question: How many does have ? Solution: Define as ; so = + - *"
)
PROBE_MARKERS = ("[START]", "[MID]", "[END]")


def lexicon() -> list[str]:
    return [FIXED_WORDS, *LAYER_OF, " ".join(map(str, range(MOD))), " ".join(LETTERS)]


def make_tokenizer():
    """The word-level tokenizer of the iGSM world, with the probe markers and the retry token."""
    from physlm.engine.tokenizer import build_tokenizer

    tokenizer = build_tokenizer(lexicon(), extra_special=PROBE_MARKERS, prepend_scheme="first")
    tokenizer.add_tokens([RETRY])  # one token, and not special: decoding keeps it
    return tokenizer


def write_tokenizer(*, out_dir: Path) -> None:
    """Step `igsm-tokenizer`: the iGSM world's tokenizer, saved."""
    from physlm.engine.artifacts import mark

    make_tokenizer().save_pretrained(out_dir)
    mark(out_dir)


PROBLEM_COLUMNS = [
    "problem",
    "split",
    "template",
    "op",
    "ip",
    "n_params",
    "text",
    "question",
    "question_first",
    "solution",
    "answer",
]


def _chunk(args):
    """Problems `indices` of a set, as Arrow tables of problems and params: Arrow crosses from a
    worker process as whole buffers, where Python lists of lists would be unpickled one by one."""
    import pyarrow as pa

    knobs, problems, seed, indices = args
    rows = {key: [] for key in PROBLEM_COLUMNS}
    params = {key: [] for key in ["problem", *LABEL_COLUMNS]}
    for index in indices:
        problem = problem_at(knobs, problems, seed, index)
        for key, value in zip(
            PROBLEM_COLUMNS,
            (
                index,
                problems.split,
                problem.template,
                problem.op,
                problem.ip,
                len(problem.params),
                " ".join(problem.statements),
                problem.question_text,
                knobs.question == "first",
                problem.steps,
                problem.answer,
            ),
            strict=True,
        ):
            rows[key].append(value)
        params["problem"] += [index] * len(problem.params)
        for key, column in labels(problem).items():
            params[key] += column
    return pa.table(rows), pa.table(params)


def make_set(knobs: Knobs, problems: ProblemSet, seed: int, threads: int = 1):
    """(problems, params) DataFrames of a set; the same for any number of threads."""
    import pyarrow as pa

    size = max(1, min(2_000, problems.problems // max(1, threads * 4)))
    chunks = [
        (knobs, problems, seed, range(start, min(start + size, problems.problems)))
        for start in range(0, problems.problems, size)
    ]
    if threads > 1:
        with ProcessPoolExecutor(threads) as pool:
            parts = list(pool.map(_chunk, chunks))
    else:
        parts = [_chunk(chunk) for chunk in chunks]

    return tuple(pa.concat_tables([part[k] for part in parts]).to_pandas() for k in (0, 1))


def write_problems(
    *, knobs: Knobs, problems: ProblemSet, seed: int, out: Path, params_out: Path, threads: int = 1
) -> None:
    """Step `problems`: a problem set and its per-parameter labels, as two tables."""
    from physlm.engine.artifacts import write_table

    knobs.check(problems.max_op, "knobs")
    rows, params = make_set(knobs, problems, seed, threads)
    write_table(rows, out)
    write_table(params, params_out)


def bench(*, n: int, threads: int, max_ip: int, max_op: int) -> None:
    """Step `bench-igsm`: time the generator (problems, solutions and labels, in memory)."""
    import time

    start = time.perf_counter()
    rows, params = make_set(Knobs(max_ip), ProblemSet("train", n, max_op), seed=0, threads=threads)
    elapsed = time.perf_counter() - start
    print(
        f"{len(rows):,} problems (max_ip {max_ip}, op 1-{max_op}, mean op {rows['op'].mean():.1f}) "
        f"and {len(params):,} parameter labels in {elapsed:.1f} s on {threads} process(es)"
    )
