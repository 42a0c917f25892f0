"""iGSM: synthetic grade-school math problems and their shortest solutions (Part 2.1).

A problem lives in a world of items (physlm.reasoning.igsm_names). Its structure picks 2-4 consecutive
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
Problem sets as tables, the labels probes read, the prompt and the tokenizer: physlm.reasoning.igsm_sets.
"""

from __future__ import annotations

import hashlib
import itertools
import random
import string
from dataclasses import dataclass, field

from physlm.engine.config_types import FromSection
from physlm.reasoning.igsm_names import HIERARCHIES, N_LAYERS

MOD = 23
MAX_INPUTS = 4
LETTERS = string.ascii_letters
TRAIN_BUCKETS = 17  # template hash mod 23 below this: train
ATTEMPTS = 200  # dependency graphs drawn before a problem is given up on


@dataclass(frozen=True)
class Knobs(FromSection):
    """What shapes a problem: instance parameters at most, layers and items per layer at most (at
    least 2 of each), items per sub-category the world offers (at most 5), and where the question
    stands: after the statements ("last", Part 2.1's pq format) or before them ("first", its qp)."""

    max_ip: int
    max_layers: int = 4
    max_items: int = 4
    names_per_subcategory: int = 5
    question: str = "last"

    SCHEMA = "#/properties/math/properties/curriculum/items/properties/knobs"

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
    op: int = 1  # max(1, in-degree - 1), a constant counting as an input; set with the formula

    @property
    def name(self) -> str:
        return f"{self.parent}'s {self.child}"


@dataclass
class Problem:
    """A generated problem: its parameters (instance first), the question's index, the solution's
    order, sentences and their letters."""

    params: list[Param]
    need: list[int]  # per parameter, the bitset of its necessary set (itself included)
    question: int
    order: list[int]  # parameter indices in solution order
    statements: list[str]
    steps: list[str]  # the solution's sentences, retries included
    op: int
    template: str
    sentence: list[int]  # per parameter of `order`, the index of the sentence defining it in `steps`

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


# Draws straight from rng.random(): random.Random's randint, choice and sample cost several times
# more, and the generator's inner loop is mostly draws.


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def between(rng: random.Random, low: int, high: int) -> int:
    """A uniform integer from low to high, both included."""
    return low + int(rng.random() * (high - low + 1))


def _pick(rng: random.Random, items):
    return items[int(rng.random() * len(items))]


def _sample(rng: random.Random, items, k: int) -> list:
    """k distinct items in random order: a few of many by redrawing repeats, else a partial
    Fisher-Yates shuffle of a copy."""
    n = len(items)
    if 4 * k < n:
        chosen: list[int] = []
        while len(chosen) < k:
            i = int(rng.random() * n)
            if i not in chosen:
                chosen.append(i)
        return [items[i] for i in chosen]
    pool = list(items)
    for i in range(k):
        j = i + int(rng.random() * (len(pool) - i))
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:k]


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
        depth = between(rng, 2, knobs.max_layers)
        sizes = [between(rng, 2, knobs.max_items) for _ in range(depth)]
        least = sum(max(a, b) for a, b in itertools.pairwise(sizes))
        if least <= knobs.max_ip:
            break
    hierarchy = HIERARCHIES[_pick(rng, sorted(HIERARCHIES))]
    top = between(rng, 0, N_LAYERS - depth)
    layers = [
        _sample(rng, _pick(rng, subs)[: knobs.names_per_subcategory], n)
        for (_, subs), n in zip(hierarchy[top : top + depth], sizes, strict=True)
    ]
    links, spare = [], []
    for above, below in itertools.pairwise(layers):
        a, b = _sample(rng, above, len(above)), _sample(rng, below, len(below))
        cover = {(a[i % len(a)], b[i % len(b)]) for i in range(max(len(a), len(b)))}
        links += sorted(cover)
        spare += [(x, y) for x in above for y in below if (x, y) not in cover]
    extra = between(rng, 0, min(len(spare), knobs.max_ip - len(links)))
    links += _sample(rng, spare, extra)
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
                params.append(
                    Param(item, categories[below], abstract=True, inputs=inputs, op=max(1, len(inputs) - 1))
                )
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
    instance = _sample(rng, instance, len(instance))
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
    degree = between(rng, 1, min(MAX_INPUTS, len(defined) + 1))
    if degree == 1:
        kind = "const" if not defined or rng.random() < 0.5 else "equals"
        wrap, args = None, (0 if kind == "const" else 1)
    else:
        # With only degree - 1 parameters defined, the constant of a wrap is the missing input.
        wrap = _pick(rng, [None, "more", "times"] if degree <= len(defined) else ["more", "times"])
        args = degree - (wrap is not None)
        kind = "equals" if args == 1 else "diff" if args == 2 and rng.random() < 0.5 else "sum"
    p.inputs = _sample(rng, defined, args)
    values = [params[j].value for j in p.inputs]
    constant = _below(rng, MOD) if kind == "const" else 0
    inner = {"const": constant, "equals": sum(values), "sum": sum(values)}.get(kind)
    if kind == "diff":
        inner = values[0] - values[1]
    n = 0
    if wrap == "more":
        n = _below(rng, MOD)
        inner = n + inner
    elif wrap == "times":
        n = 1 + _below(rng, MOD - 1)
        inner = n * inner
    p.formula = (kind, p.inputs, constant, wrap, n)
    p.op = max(1, degree - 1)
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


def members(bits: int) -> list[int]:
    """The indices of the set bits of a parameter set (bit i: parameter i), in increasing order."""
    out = []
    while bits:
        low = bits & -bits
        out.append(low.bit_length() - 1)
        bits ^= low
    return out


def op_totals(params: list[Param], need: list[int]) -> list[int]:
    """Per parameter, the op of answering it: the sum of op over its necessary set (counted per op
    value with bitset popcounts, the generator's inner loop)."""
    by_op: dict[int, int] = {}
    for i, p in enumerate(params):
        by_op[p.op] = by_op.get(p.op, 0) | (1 << i)
    return [sum(op * (bits & mask).bit_count() for op, mask in by_op.items()) for bits in need]


def make_problem(
    knobs: Knobs, op: int, rng: random.Random, split: str | None = None, retry: float = 0.0
) -> Problem:
    """One problem whose solution has exactly `op` operations, of a template in `split` (any if
    None), with retries at rate `retry` (see `_with_retries`); ValueError if the knobs cannot reach
    `op` within ATTEMPTS dependency graphs."""
    for _ in range(ATTEMPTS):
        links, layers, categories = _structure(knobs, rng, split)
        params = _parameters(links, layers, categories)
        definition_order = _formulas(params, rng)
        need = necessary(params, definition_order)
        totals = op_totals(params, need)
        hits = [i for i in definition_order if totals[i] == op]
        if hits:
            return _render(params, need, _pick(rng, hits), op, template(links), rng, retry)
    raise ValueError(f"no problem with {op} operations within {ATTEMPTS} tries")


def reask(problem: Problem, op: int, rng: random.Random, retry: float = 0.0) -> Problem | None:
    """The same problem asked another question: its statements in the same order, a question drawn
    among the other parameters whose solution has `op` operations, and that question's solution
    (retries at rate `retry`); None if the graph has no such parameter. Issue 36's minimal pairs: two
    rows that are the same text up to the question, so that only the asked parameter tells their
    solutions' stop decisions apart."""
    totals = op_totals(problem.params, problem.need)
    hits = [i for i, total in enumerate(totals) if total == op and i != problem.question]
    if not hits:
        return None
    question = _pick(rng, hits)
    params, need, template = problem.params, problem.need, problem.template
    return _render(params, need, question, op, template, rng, retry, statements=problem.statements)


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
        i = _pick(rng, ready)
        order.append(i)
        del pending[i]
        for inputs in pending.values():
            inputs.discard(i)
    return order


class _Letters:
    """Distinct variable letters, drawn at random: a solution uses exactly op of them."""

    def __init__(self, rng: random.Random, count: int):
        self.free = _sample(rng, LETTERS, count)

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


RETRY = "[BACK]"


def _with_retries(
    order: list[int], steps: list[str], params: list[Param], q: float, rng: random.Random
) -> tuple[list[str], list[int]]:
    """Retry data (Part 2.2): before each solution sentence, with probability q a sentence that
    starts defining a wrong parameter and takes it back ("Define <wrong> as [BACK]."), and after it
    another with probability q again (q^2 for two, ...). A wrong parameter is one not defined yet
    whose inputs are not all defined yet (it cannot be computed next), drawn uniformly, never twice in
    a row of retries. Returns the sentences and, per solution step, the index of its sentence."""
    out, sentence, defined = [], [], set()
    for i, step in zip(order, steps, strict=True):
        wrong = [j for j, p in enumerate(params) if j not in defined and not set(p.inputs) <= defined]
        while wrong and rng.random() < q:
            j = wrong.pop(_below(rng, len(wrong)))
            out.append(f"Define {params[j].name} as {RETRY}.")
        sentence.append(len(out))
        out.append(step)
        defined.add(i)
    return out, sentence


def _render(
    params: list[Param],
    need: list[int],
    question: int,
    op: int,
    template: str,
    rng: random.Random,
    retry: float = 0.0,
    statements: list[str] | None = None,
) -> Problem:
    """The problem asking `question`: its statements shuffled (or `statements`, already in their
    order), its solution in a random topological order."""
    if statements is None:
        statements = [_statement(p, params) for p in params if not p.abstract]
        statements = _sample(rng, statements, len(statements))
    order = _topological(members(need[question]), params, rng)
    letters, letter = _Letters(rng, op), {}
    steps = [_step(i, params, letter, letters) for i in order]
    sentence = list(range(len(steps)))
    if retry > 0:  # no draws otherwise: clean sets stay as they were
        steps, sentence = _with_retries(order, steps, params, retry, rng)
    return Problem(params, need, question, order, statements, steps, op, template, sentence)
