"""iGSM: synthetic grade-school math problems and their shortest solutions (Part 2.1).

A problem lives in a world of items (physlm.data.igsm_names). Its structure picks 2-4 consecutive
layers of one hierarchy and links items of adjacent layers; each link is an instance parameter
("each Penguin Beach's Lion": how many lions one Penguin Beach holds). Abstract parameters ("each
Riverside Zoo's Animal") follow from the structure: sums over children, of instance parameters or of
instance x abstract products. Each instance parameter is defined in one sentence from a constant or
from 1-4 other parameters (sum, difference, "N more than", "N times as much as"), arithmetic mod 23.
The problem states every instance parameter, shuffled, and asks for one parameter; the solution
defines only the parameters the question needs, in a random topological order, one sentence each,
breaking every formula into binary operations on one-letter variables:

    Define Penguin Beach's Animal as g; R = W + B = 13 + 7 = 20; so g = 12 + R = 12 + 20 = 9.

op(p) = max(1, in-degree(p) - 1), counting a constant as an input; a problem's op is the sum over the
solution's parameters, which is also the number of binary-operation clauses and of letters used.

Everything is drawn from `random.Random` seeded by (seed, split, index), so a problem depends only on
the knobs and its index, never on how many processes generate the set. Train and test are split by
template, hashed mod 23, train below 17, as in the paper; our template is the structure (the set of
links between named items), which is stricter than the paper's (sentences with numbers blanked): no
test problem shares even its structure with a training problem, whatever its dependencies.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import string
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from physlm.data.igsm_names import HIERARCHIES, LAYER_OF, N_LAYERS
from physlm.sections import FromSection

MOD = 23
MAX_INPUTS = 4
LETTERS = string.ascii_letters
TRAIN_BUCKETS = 17  # template hash mod 23 below this: train
ATTEMPTS = 200  # dependency graphs drawn before a problem is given up on


@dataclass(frozen=True)
class Knobs(FromSection):
    """What shapes a problem: instance parameters at most, layers and items per layer at most (at
    least 2 of each), and items per sub-category the world offers (at most 5)."""

    max_ip: int
    max_layers: int = 4
    max_items: int = 4
    names_per_subcategory: int = 5

    def check(self, max_op: int, key: str, op_key: str | None = None) -> None:
        """Raise ValueError naming the config key (`key`.<knob>, or `op_key` for the op) when no
        problem with `max_op` operations fits these knobs."""
        op_key = op_key or f"{key}.max_op"
        if not 2 <= self.max_layers <= N_LAYERS:
            raise ValueError(f"{key}.max_layers: {self.max_layers}, allowed 2-{N_LAYERS}")
        if not 2 <= self.max_items <= self.names_per_subcategory <= 5:
            raise ValueError(
                f"{key}.max_items: {self.max_items}, allowed 2 to names_per_subcategory "
                f"({self.names_per_subcategory}, itself at most 5)"
            )
        if self.max_ip < 2:
            raise ValueError(f"{key}.max_ip: {self.max_ip}, the smallest structure has 2 links")
        if not 1 <= max_op <= len(LETTERS):
            raise ValueError(f"{op_key}: {max_op}, allowed 1-{len(LETTERS)} (one letter per operation)")
        try:
            make_problem(self, max_op, random.Random(0))
        except ValueError:
            raise ValueError(
                f"{op_key}: {max_op} operations cannot be reached with max_ip {self.max_ip}, "
                f"max_layers {self.max_layers}, max_items {self.max_items} ({key}): raise those or "
                "lower the op"
            ) from None


def check_math(section: dict) -> None:
    """The `math` config section can make every problem set it asks for (ValueError naming the key,
    before any job runs)."""
    stages = section["curriculum"]
    for i, stage in enumerate(stages):
        Knobs.from_config(stage["knobs"]).check(
            stage["max_op"], f"math.curriculum[{i}].knobs", f"math.curriculum[{i}].max_op"
        )
    Knobs.from_config(stages[-1]["knobs"]).check(
        section["test"]["max_op"], f"math.curriculum[{len(stages) - 1}].knobs", "math.test.max_op"
    )


@dataclass
class Param:
    """One parameter: how many `child` (an item, or for an abstract parameter a category) each
    `parent` item holds. An instance parameter's `formula` is (kind, inputs, constant, wrap, n): kind
    const | equals | sum | diff, wrapped by None | "more" | "times" with number n."""

    parent: str
    child: str
    abstract: bool
    inputs: list[int] = field(default_factory=list)
    formula: tuple | None = None
    value: int = 0

    @property
    def name(self) -> str:
        return f"{self.parent}'s {self.child}"

    @property
    def op(self) -> int:
        return max(1, len(self.inputs) + (self.formula is not None and self._constants()) - 1)

    def _constants(self) -> int:
        kind, _, _, wrap, _ = self.formula
        return (kind == "const") + (wrap is not None)


@dataclass
class Problem:
    """A generated problem: its parameters (instance first), the question's index, the solution's
    order, sentences and their letters."""

    params: list[Param]
    need: list[int]  # per parameter, the bitset of its necessary set (itself included)
    question: int
    order: list[int]  # parameter indices in solution order
    statements: list[str]
    steps: list[str]
    op: int
    template: str

    @property
    def ip(self) -> int:
        return sum(not p.abstract for p in self.params)

    @property
    def question_text(self) -> str:
        p = self.params[self.question]
        return f"How many {p.child} does {p.parent} have?"

    @property
    def answer(self) -> int:
        return self.params[self.question].value


def template(links: list[tuple[str, str]]) -> str:
    """A problem's template: a hash of its structure (links in any order)."""
    text = "\n".join(sorted(f"{parent}'s {child}" for parent, child in links))
    return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()


def split_of(template: str) -> str:
    return "train" if int(template, 16) % MOD < TRAIN_BUCKETS else "test"


# Structure: layers, items and the links between adjacent layers.


def _structure(
    knobs: Knobs, rng: random.Random, split: str | None
) -> tuple[list[tuple[str, str]], list[list[str]], list[str]]:
    """Links (parent, child) between adjacent layers, with their layers' items and categories: every
    item above the last layer has a child and every item below the first a parent, so every abstract
    parameter has a path to its category. Drawn again until the template is in `split` (if given)."""
    while True:
        links, layers, categories = _draw_structure(knobs, rng)
        if split is None or split_of(template(links)) == split:
            return links, layers, categories


def _draw_structure(knobs: Knobs, rng: random.Random):
    while True:
        depth = rng.randint(2, knobs.max_layers)
        sizes = [rng.randint(2, knobs.max_items) for _ in range(depth)]
        least = sum(max(a, b) for a, b in itertools.pairwise(sizes))
        if least <= knobs.max_ip:
            break
    hierarchy = HIERARCHIES[rng.choice(sorted(HIERARCHIES))]
    top = rng.randint(0, N_LAYERS - depth)
    layers = [
        rng.sample(rng.choice(subs)[: knobs.names_per_subcategory], n)
        for (_, subs), n in zip(hierarchy[top : top + depth], sizes, strict=True)
    ]
    links, spare = [], []
    for above, below in itertools.pairwise(layers):
        a, b = rng.sample(above, len(above)), rng.sample(below, len(below))
        cover = {(a[i % len(a)], b[i % len(b)]) for i in range(max(len(a), len(b)))}
        links += sorted(cover)
        spare += [(x, y) for x in above for y in below if (x, y) not in cover]
    extra = rng.randint(0, min(len(spare), knobs.max_ip - len(links)))
    links += rng.sample(spare, extra)
    categories = [category for category, _ in hierarchy[top : top + depth]]
    return links, layers, categories


def _parameters(links, layers, categories) -> list[Param]:
    """Instance parameters (one per link), then every abstract parameter with its structural inputs:
    each X's C (C a lower layer's category) sums, over X's children c, the link X->c (C is c's
    layer) or the link times c's C (C lies deeper)."""
    params = [Param(parent, child, abstract=False) for parent, child in links]
    index = {(p.parent, p.child): i for i, p in enumerate(params)}
    children = {}
    for parent, child in links:
        children.setdefault(parent, []).append(child)
    for depth in range(len(layers) - 2, -1, -1):  # deepest first: inputs exist before their users
        for item in layers[depth]:
            for below in range(depth + 1, len(layers)):
                inputs = []
                for child in children[item]:
                    inputs.append(index[(item, child)])
                    if below > depth + 1:
                        inputs.append(index[(child, categories[below])])
                index[(item, categories[below])] = len(params)
                params.append(Param(item, categories[below], abstract=True, inputs=inputs))
    return params


# Dependencies: each instance parameter's formula, drawn in a random order over what is defined.


def _formulas(params: list[Param], rng: random.Random) -> list[int]:
    """Give every instance parameter a formula over parameters defined before it (so the graph is
    acyclic) and compute every value; returns the definition order (abstract parameters join as soon
    as all their inputs are defined)."""
    waiting = {i: len(p.inputs) for i, p in enumerate(params) if p.abstract}
    users: dict[int, list[int]] = {}
    for i in waiting:
        for j in params[i].inputs:
            users.setdefault(j, []).append(i)
    order: list[int] = []
    instance = [i for i, p in enumerate(params) if not p.abstract]
    rng.shuffle(instance)
    queue = []
    for i in instance:
        _draw_formula(params[i], order, params, rng)
        queue.append(i)
        while queue:
            j = queue.pop()
            order.append(j)
            for user in users.get(j, ()):
                waiting[user] -= 1
                if waiting[user] == 0:
                    _abstract_value(params[user], params)
                    queue.append(user)
    return order


def _draw_formula(p: Param, defined: list[int], params: list[Param], rng: random.Random) -> None:
    """An in-degree of 1-4 (a constant counts as one input), then a form that has it."""
    degree = rng.randint(1, min(MAX_INPUTS, len(defined) + 1))
    if degree == 1:
        kind = "const" if not defined or rng.random() < 0.5 else "equals"
        wrap, args = None, (0 if kind == "const" else 1)
    else:
        # With only degree - 1 parameters defined, the constant of a wrap is the missing input.
        wrap = rng.choice([None, "more", "times"] if degree <= len(defined) else ["more", "times"])
        args = degree - (wrap is not None)
        kind = "equals" if args == 1 else "diff" if args == 2 and rng.random() < 0.5 else "sum"
    p.inputs = rng.sample(defined, args)
    values = [params[j].value for j in p.inputs]
    constant = rng.randrange(MOD) if kind == "const" else 0
    inner = {"const": constant, "equals": sum(values), "sum": sum(values)}.get(kind)
    if kind == "diff":
        inner = values[0] - values[1]
    n = 0
    if wrap == "more":
        n = rng.randrange(MOD)
        inner = n + inner
    elif wrap == "times":
        n = rng.randrange(1, MOD)
        inner = n * inner
    p.formula = (kind, p.inputs, constant, wrap, n)
    p.value = inner % MOD


def _abstract_value(p: Param, params: list[Param]) -> None:
    values = [params[j].value for j in p.inputs]
    if _is_sum_of_products(p, params):
        p.value = sum(a * b for a, b in zip(values[::2], values[1::2], strict=True)) % MOD
    else:
        p.value = sum(values) % MOD


def _is_sum_of_products(p: Param, params: list[Param]) -> bool:
    return len(p.inputs) > 1 and params[p.inputs[1]].abstract


def necessary(params: list[Param], definition_order: list[int]) -> list[int]:
    """Per parameter, a bitset of itself and everything it (recursively) depends on."""
    need = [0] * len(params)
    for i in definition_order:
        bits = 1 << i
        for j in params[i].inputs:
            bits |= need[j]
        need[i] = bits
    return need


def _members(bits: int) -> list[int]:
    return [i for i, bit in enumerate(reversed(bin(bits)[2:])) if bit == "1"]


def op_totals(params: list[Param], need: list[int]) -> list[int]:
    """Per parameter, the op of answering it: the sum of op over its necessary set (counted per op
    value with bitset popcounts, the generator's inner loop)."""
    by_op: dict[int, int] = {}
    for i, p in enumerate(params):
        by_op[p.op] = by_op.get(p.op, 0) | (1 << i)
    return [sum(op * (bits & mask).bit_count() for op, mask in by_op.items()) for bits in need]


def make_problem(knobs: Knobs, op: int, rng: random.Random, split: str | None = None) -> Problem:
    """One problem whose solution has exactly `op` operations, of a template in `split` (any if
    None); ValueError if the knobs cannot reach `op` within ATTEMPTS dependency graphs."""
    for _ in range(ATTEMPTS):
        links, layers, categories = _structure(knobs, rng, split)
        params = _parameters(links, layers, categories)
        definition_order = _formulas(params, rng)
        need = necessary(params, definition_order)
        totals = op_totals(params, need)
        hits = [i for i in definition_order if totals[i] == op]
        if hits:
            return _render(params, need, rng.choice(hits), op, template(links), rng)
    raise ValueError(f"no problem with {op} operations within {ATTEMPTS} tries")


# Text.


def _reference(p: Param) -> str:
    return f"each {p.name}"


def _statement(p: Param, params: list[Param]) -> str:
    kind, inputs, constant, wrap, n = p.formula
    refs = [_reference(params[j]) for j in inputs]
    if kind == "const":
        inner = str(constant)
    elif kind == "equals":
        inner = refs[0]
    elif kind == "diff":
        inner = f"the difference of {refs[0]} and {refs[1]}"
    else:
        inner = "the sum of " + (", ".join(refs[:-1]) + f" and {refs[-1]}")
    if wrap == "more":
        inner = f"{n} more than {inner}"
    elif wrap == "times":
        inner = f"{n} times as much as {inner}"
    return f"The number of {_reference(p)} equals {inner}."


def _topological(need: list[int], params: list[Param], rng: random.Random) -> list[int]:
    """A random topological order of the necessary parameters."""
    pending = {i: set(params[i].inputs) for i in need}
    order = []
    while pending:
        ready = sorted(i for i, inputs in pending.items() if not inputs)
        i = rng.choice(ready)
        order.append(i)
        del pending[i]
        for inputs in pending.values():
            inputs.discard(i)
    return order


class _Letters:
    def __init__(self, rng: random.Random):
        self.free = rng.sample(LETTERS, len(LETTERS))

    def take(self) -> str:
        return self.free.pop()


def _step(i: int, params: list[Param], letter: dict[int, str], letters: _Letters) -> str:
    """One solution sentence: the parameter's formula as a tree of binary operations, written
    innermost first, each into a fresh letter; the last one into the parameter's own letter ("so g")."""
    p = params[i]
    var = letter[i] = letters.take()
    leaves = [(letter[j], params[j].value) for j in p.inputs]
    if p.abstract:
        terms = leaves
        if _is_sum_of_products(p, params):
            terms = [("*", a, b) for a, b in zip(leaves[::2], leaves[1::2], strict=True)]
        wrap, n = None, 0
    else:
        kind, _, constant, wrap, n = p.formula
        terms = [(str(constant), constant)] if kind == "const" else leaves
        if kind == "diff":
            terms = [("-", *terms)]
    tree = terms[0]
    for term in terms[1:]:
        tree = ("+", tree, term)
    if wrap is not None:
        tree = ("+" if wrap == "more" else "*", (str(n), n), tree)
    clauses: list[str] = []

    def write(node, target: str | None = None) -> tuple[str, int]:
        if len(node) == 2:  # a leaf: (symbol, value)
            return node
        sign, left, right = node
        a, b = write(left), write(right)
        target = target or letters.take()
        value = {"+": a[1] + b[1], "-": a[1] - b[1], "*": a[1] * b[1]}[sign] % MOD
        clauses.append(f"{target} = {a[0]} {sign} {b[0]} = {a[1]} {sign} {b[1]} = {value}")
        return target, value

    if len(tree) == 2:  # no operation: "so g = 6" or "so g = W = 13"
        symbol, value = tree
        clauses.append(f"{var} = {value}" if symbol == str(value) else f"{var} = {symbol} = {value}")
    else:
        write(tree, var)
    clauses[-1] = "so " + clauses[-1]
    return f"Define {p.name} as {var}; " + "; ".join(clauses) + "."


def _render(
    params: list[Param], need: list[int], question: int, op: int, template: str, rng: random.Random
) -> Problem:
    statements = [_statement(p, params) for p in params if not p.abstract]
    rng.shuffle(statements)
    order = _topological(_members(need[question]), params, rng)
    letters, letter = _Letters(rng), {}
    steps = [_step(i, params, letter, letters) for i in order]
    return Problem(params, need, question, order, statements, steps, op, template)


# Problem sets: tables of problems with every label a probe reads.

OP_DISTRIBUTIONS = ("min_of_two", "uniform", "each")


@dataclass(frozen=True)
class ProblemSet(FromSection):
    """A set of problems: `problems` of the `split`'s templates, op from min_op to max_op drawn as
    the min of two uniform draws (the paper's training skew), uniformly, or `each` (equal numbers per
    op, for accuracy by op)."""

    split: str
    problems: int
    max_op: int
    min_op: int = 1
    op_distribution: str = "min_of_two"

    def __post_init__(self):
        if self.split not in ("train", "test"):
            raise ValueError(f"split: {self.split!r}, allowed train | test")
        if self.op_distribution not in OP_DISTRIBUTIONS:
            raise ValueError(
                f"op_distribution: {self.op_distribution!r}, allowed {' | '.join(OP_DISTRIBUTIONS)}"
            )
        if not 1 <= self.min_op <= self.max_op:
            raise ValueError(f"min_op: {self.min_op}, allowed 1 to max_op ({self.max_op})")

    def op(self, index: int, rng: random.Random) -> int:
        low, high = self.min_op, self.max_op
        if self.op_distribution == "each":
            return low + index % (high - low + 1)
        if self.op_distribution == "uniform":
            return rng.randint(low, high)
        return min(rng.randint(low, high), rng.randint(low, high))


def problem_at(knobs: Knobs, problems: ProblemSet, seed: int, index: int) -> Problem:
    """Problem `index` of a set."""
    rng = random.Random(f"igsm/{seed}/{problems.split}/{index}")
    return make_problem(knobs, problems.op(index, rng), rng, problems.split)


def labels(problem: Problem) -> dict[str, list]:
    """Per parameter (instance and abstract, necessary or not): what the V-probes read (Part 2.1).

    nece: the question needs it; dep: every parameter it depends on, recursively; value: 0-22; step:
    the solution sentence defining it (-1: none). Per position k = 0..S (before solution sentence k;
    k = S after the last): known[k] (defined by then), can_next[k] (not known, all direct inputs
    known), nece_next[k] (can_next and necessary). value(A) at k is `value` where known[k], else
    unknown."""
    params, need, n_steps = problem.params, problem.need, len(problem.order)
    question = need[problem.question]
    never = n_steps + 1
    step = {i: k for k, i in enumerate(problem.order)}
    rows: dict[str, list] = {key: [] for key in LABEL_COLUMNS}
    for i, p in enumerate(params):
        defined_at = step.get(i, -1)
        known_from = defined_at + 1 if defined_at >= 0 else never
        ready_from = min(known_from, max((step.get(j, never) + 1 for j in p.inputs), default=0))
        # as lists over positions 0..S: false before, true from, false after
        known = [False] * min(known_from, never) + [True] * (never - min(known_from, never))
        can_next = [False] * ready_from + [True] * (min(known_from, never) - ready_from)
        can_next += [False] * (never - len(can_next))
        nece = bool(question >> i & 1)
        for key, value in (
            ("param", i),
            ("name", p.name),
            ("abstract", p.abstract),
            ("nece", nece),
            ("value", p.value),
            ("step", defined_at),
            ("inputs", list(p.inputs)),
            ("dep", _members(need[i] & ~(1 << i))),
            ("known", known),
            ("can_next", can_next),
            ("nece_next", can_next if nece else [False] * never),
        ):
            rows[key].append(value)
    return rows


LABEL_COLUMNS = [
    "param",
    "name",
    "abstract",
    "nece",
    "value",
    "step",
    "inputs",
    "dep",
    "known",
    "can_next",
    "nece_next",
]


def prompt(problem_text: str, question: str) -> str:
    """What a model reads before it writes a solution."""
    return f"{problem_text} Question: {question} Solution:"


def document(problem_text: str, question: str, steps: list[str]) -> str:
    """What a model is trained on: the prompt, then the solution's sentences."""
    return f"{prompt(problem_text, question)} {' '.join(steps)}"


# What the model reads: fixed words, every world name, numbers mod 23, variable letters, and the
# probe's markers (special tokens, never in training text).
FIXED_WORDS = (
    "The number of each 's equals more than times as much the sum difference and , . "
    "Question: How many does have ? Solution: Define as ; so = + - *"
)
PROBE_MARKERS = ("[START]", "[MID]", "[END]")


def lexicon() -> list[str]:
    return [FIXED_WORDS, *LAYER_OF, " ".join(map(str, range(MOD))), " ".join(LETTERS)]


def write_tokenizer(*, out_dir: Path) -> None:
    """Step `igsm-tokenizer`: the word-level tokenizer of the iGSM world (with the probe markers)."""
    from physlm.artifacts import mark
    from physlm.data.tokenizer import build_tokenizer

    build_tokenizer(lexicon(), extra_special=PROBE_MARKERS).save_pretrained(out_dir)
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
    "solution",
    "answer",
]


def _chunk(args) -> tuple[dict[str, list], dict[str, list]]:
    """Problems `indices` of a set, as columns of the problems and params tables."""
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
                problem.steps,
                problem.answer,
            ),
            strict=True,
        ):
            rows[key].append(value)
        params["problem"] += [index] * len(problem.params)
        for key, column in labels(problem).items():
            params[key] += column
    return rows, params


def make_set(knobs: Knobs, problems: ProblemSet, seed: int, threads: int = 1):
    """(problems, params) DataFrames of a set; the same for any number of threads."""
    import pandas as pd

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

    def table(k: int, columns: list[str]):
        return pd.DataFrame({c: [v for part in parts for v in part[k][c]] for c in columns})

    return table(0, PROBLEM_COLUMNS), table(1, ["problem", *LABEL_COLUMNS])


def write_problems(
    *, knobs: Knobs, problems: ProblemSet, seed: int, out: Path, params_out: Path, threads: int = 1
) -> None:
    """Step `problems`: a problem set and its per-parameter labels, as two tables."""
    from physlm.artifacts import write_table

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
