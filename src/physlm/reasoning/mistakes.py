"""Does a math model know it is about to make a mistake? The mistake probe (Part 2.2).

A solution step starts "Define A as"; the step is a mistake when A cannot be computed yet (an input
is not defined), is defined already, or is no parameter of the problem at all. The paper trains a
can_next(A) probe where the model has just written "Define A as" and reads it there: on a random A
at a boundary of a right solution it is 99% accurate, and on the model's own first mistakes it flags
about 60%. Here:

- the probe (physlm.engine.probe.Probe: frozen model, rank-r update of the input embedding, a normalized
  linear head on the last hidden state) trains on right solutions of probe-train problems, cut at a
  sentence boundary and followed by "Define A as" for a parameter A; its label is "wrong" = not
  can_next(A). The paper draws A uniformly; in problems this small, A's role and the cut's position
  nearly give the label away (the question's parameter is rarely wrong, an unnecessary one nearly
  always), and a probe trained on that draw learned the roles, not computability. So the training
  steps are balanced: within each cell of (A is the question's parameter, necessary, abstract;
  sentence index), as many right as wrong steps (a deviation, for that reason);
- it is scored on held-out problems of the paper's set and of the balanced one; on the steps the
  model itself wrote on the test problems (from `evaluate-math`'s solutions), up to and including
  each solution's first wrong step, whose label the checker gives, also per error kind the probe can
  see (not computable, redefined) against the right steps at the same sentence index; and on the
  paired set: at each prefix the model wrote (right so far), every parameter of the problem with
  its true can_next there;
- beside it: the same probe on a random-init model of the same shape, the model's own uncertainty
  while it wrote the parameter's name (mean next-token entropy, and one minus the mean top
  probability), and the majority class. Every detector is scored by AUROC; the probe (threshold
  0.5) and the majority class also by accuracy, precision and recall.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from physlm.engine.artifacts import read_scale, with_identity, with_random_init, write_table
from physlm.engine.config_types import MistakeProbeConfig, ModelConfig
from physlm.engine.probe import Probe, fit, pad_right, predict, probe_model
from physlm.engine.scoring import teacher_forced
from physlm.reasoning.checker import NOT_COMPUTABLE, REDEFINED, Problem, check
from physlm.reasoning.igsm_sets import at_position, prompts
from physlm.reasoning.vprobe import TEST_EVERY

STEP_COLUMNS = ["problem", "op", "step", "name", "wrong", "error", "necessary", "asked", "before"]
RANDOM_PARAMETER = "random parameter"  # the paper's set: right solutions, "Define A as" a random A
BALANCED = "random parameter, balanced"  # the same, right and wrong alike in every role x position cell
MODEL_MISTAKES = "model's own steps"  # what the model wrote, up to its first mistake
PAIRED = "model's prefixes, every parameter"  # where the model was, every A with its true can_next
SEEN_ERRORS = (NOT_COMPUTABLE, REDEFINED)  # the first errors can_next(A) is about
ROLE = ["asked", "necessary", "abstract", "step"]  # the cells the training steps are balanced in


def step_start(before: list[str], name: str) -> str:
    """The solution so far, then the start of the step that defines `name`: where the probe reads."""
    return " ".join([*before, f"Define {name} as"])


def own_steps(problems: pd.DataFrame, solutions: pd.DataFrame) -> pd.DataFrame:
    """Per problem, the steps its solution wrote up to and including the first wrong one: the step's
    parameter, whether it is wrong and why (checker error kinds), and the sentences before it.
    Retries and sentences that name no parameter cannot be read at "Define A as" and are left out."""
    text = problems.set_index("problem")
    rows = []
    for solution in solutions.itertuples():
        problem = text.loc[solution.problem]
        verdict = check(problem["text"], problem["question"], solution.solution)
        asked = Problem.parse(problem["text"], problem["question"]).question
        before: list[str] = []
        for k, step in enumerate(verdict.steps):
            if step.name is not None and not step.retry:
                rows.append(
                    {
                        "problem": solution.problem,
                        "op": solution.op,
                        "step": k,
                        "name": step.name,
                        "wrong": step.error is not None,
                        "error": step.error or "",
                        "necessary": step.necessary,
                        "asked": step.name == asked,
                        "before": list(before),
                    }
                )
            if step.error is not None:
                break
            before.append(step.text + ".")
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def _slots(problem, table: pd.DataFrame) -> list[dict]:
    """Every (sentence k, parameter A) of a right solution: "Define A as" after its first k sentences,
    wrong = A cannot be defined next (not can_next), with A's role."""
    asked = table[table["nece"]].sort_values("step")["name"].iloc[-1]
    rows = []
    for k in range(len(problem.solution)):
        for row in table.itertuples():
            at = at_position(row.step, row.ready, row.nece, row.value, k)
            rows.append(
                {
                    "problem": problem.problem,
                    "op": problem.op,
                    "step": k,
                    "name": row.name,
                    "wrong": not at["can_next"],
                    "error": "",
                    "necessary": bool(row.nece),
                    "asked": row.name == asked,
                    "abstract": bool(row.abstract),
                    "before": list(problem.solution[:k]),
                }
            )
    return rows


def random_parameter_steps(
    problems: pd.DataFrame, params: pd.DataFrame, queries: int, seed: int
) -> pd.DataFrame:
    """The paper's set: right solutions cut before sentence k, then "Define A as" for a random
    parameter A (unnecessary ones and defined ones included), at most `queries` per problem; wrong =
    A cannot be defined next (not can_next)."""
    by_problem = {k: group.sort_values("param") for k, group in params.groupby("problem", sort=False)}
    rows = []
    for problem in problems.itertuples():
        slots = _slots(problem, by_problem[problem.problem])
        rng = random.Random(f"mistakes/{seed}/{problem.problem}")
        rows += [slots[i] for i in rng.sample(range(len(slots)), min(queries, len(slots)))]
    return pd.DataFrame(rows, columns=[*STEP_COLUMNS, "abstract"])


def balanced_steps(problems: pd.DataFrame, params: pd.DataFrame, queries: int, seed: int) -> pd.DataFrame:
    """Right solutions cut before sentence k, then "Define A as", with as many wrong as right steps in
    every cell of A's role and the position (`ROLE`): within a cell, the role and position say
    nothing of the label, so only what the model knows of A's inputs can. Cells of one label are
    left out; `queries` per problem on average, drawn at random from what the balance keeps."""
    by_problem = {k: group.sort_values("param") for k, group in params.groupby("problem", sort=False)}
    slots = pd.DataFrame(
        [row for problem in problems.itertuples() for row in _slots(problem, by_problem[problem.problem])],
        columns=[*STEP_COLUMNS, "abstract"],
    )
    rng = np.random.default_rng([seed, 23])
    kept = []
    for _, cell in slots.groupby(ROLE):
        right, wrong = cell[~cell["wrong"]], cell[cell["wrong"]]
        n = min(len(right), len(wrong))
        kept += [rng.choice(right.index, n, replace=False), rng.choice(wrong.index, n, replace=False)]
    chosen = np.concatenate([np.zeros(0, dtype=int), *kept])
    chosen = rng.permutation(chosen)[: queries * len(problems)]
    return slots.loc[np.sort(chosen)].reset_index(drop=True)


def paired_steps(problems: pd.DataFrame, params: pd.DataFrame, own: pd.DataFrame) -> pd.DataFrame:
    """At each prefix of the model's own solutions where it started a step (`own`: its right steps
    so far, up to its first wrong step), "Define A as" for every parameter A of the problem, wrong =
    A is defined already or one of its inputs is not (the checker's rule): does the probe read
    computability where the model was?"""
    text = problems.set_index("problem")
    names = params.groupby("problem")["name"].apply(list)
    rows = []
    for problem_id, steps in own.groupby("problem", sort=False):
        parsed = Problem.parse(text.loc[problem_id, "text"], text.loc[problem_id, "question"])
        needed = parsed.necessary()
        for step in steps.itertuples():
            defined = {b.removeprefix("Define ").split(" as ")[0] for b in step.before if "[BACK]" not in b}
            for name in names[problem_id]:
                computable = name not in defined and all(j in defined for j in parsed.inputs(name))
                rows.append(
                    {
                        "problem": problem_id,
                        "op": step.op,
                        "step": step.step,
                        "name": name,
                        "wrong": not computable,
                        "error": "",
                        "necessary": name in needed,
                        "asked": name == parsed.question,
                        "before": step.before,
                    }
                )
    return pd.DataFrame(rows, columns=STEP_COLUMNS)


def unseen(problems: pd.DataFrame, *scored: pd.DataFrame) -> pd.DataFrame:
    """`problems` without those that are also in a `scored` set (same statements and question): the
    probe and test sets are both drawn from test-split templates, so a small problem can turn up in
    both, and the probe must not train on a problem it is scored on."""
    key = ["text", "question"]
    seen = pd.concat([table[key] for table in scored]).drop_duplicates()
    kept = problems.merge(seen, on=key, how="left", indicator=True)["_merge"].eq("left_only").to_numpy()
    return problems[kept]


def encode(tokenizer, problems: pd.DataFrame, steps: pd.DataFrame) -> tuple[list[list[int]], list[int]]:
    """Token ids of each step's prompt and solution so far up to "Define A as" (preceded by the
    document separator, as in training), and where "Define" is (the name follows it)."""
    if steps.empty:
        return [], []
    eos = tokenizer.eos_token_id
    heads = tokenizer(prompts(problems.set_index("problem").loc[steps["problem"]]))["input_ids"]
    tails = tokenizer([step_start(b, n) for b, n in zip(steps["before"], steps["name"], strict=True)])[
        "input_ids"
    ]
    define = tokenizer.convert_tokens_to_ids("▁Define")
    ids = [[eos, *h, *t] for h, t in zip(heads, tails, strict=True)]
    starts = [len(x) - 1 - x[::-1].index(define) for x in ids]
    return ids, starts


def uncertainty(
    model, ids: list[list[int]], starts: list[int], pad: int, batch_size: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """The model's uncertainty while it wrote each step's parameter name (the tokens between
    "Define" and "as"): mean next-token entropy, and one minus the mean top probability; the steps
    run through the model `batch_size` at a time."""

    def read(logits: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        p = logits.float().softmax(-1)
        return torch.stack([-(p * p.clamp_min(1e-12).log()).sum(-1), p.max(-1).values], -1)

    with torch.no_grad():
        per_position = teacher_forced(model, ids, pad, read, batch_size)
    name = [v[start : len(x) - 2] for v, x, start in zip(per_position, ids, starts, strict=True)]
    return np.array([float(v[:, 0].mean()) for v in name]), np.array(
        [float(1 - v[:, 1].mean()) for v in name]
    )


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative
    (ties count half); NaN when one class is missing."""
    labels = np.asarray(labels, dtype=bool)
    positives, negatives = scores[labels], scores[~labels]
    if len(positives) == 0 or len(negatives) == 0:
        return float("nan")
    ranks = pd.Series(np.concatenate([positives, negatives])).rank().to_numpy()
    return float(
        (ranks[: len(positives)].sum() - len(positives) * (len(positives) + 1) / 2)
        / (len(positives) * len(negatives))
    )


def matched_auroc(labels: np.ndarray, scores: np.ndarray, strata: np.ndarray) -> float:
    """AUROC over the pairs of a wrong and a right step in the same stratum only (a sentence index,
    a prefix): what a score tells apart beyond the stratum; NaN when no stratum holds both."""
    labels, strata = np.asarray(labels, dtype=bool), np.asarray(strata)
    total = pairs = 0.0
    for stratum in np.unique(strata):
        at = strata == stratum
        n = labels[at].sum() * (~labels[at]).sum()
        if n:
            total += auroc(labels[at], scores[at]) * n
            pairs += n
    return total / pairs if pairs else float("nan")


def scores_at_half(labels: np.ndarray, flagged: np.ndarray) -> dict[str, float]:
    """Accuracy, precision and recall of flagging (`flagged`) the wrong steps (`labels`)."""
    labels, flagged = np.asarray(labels, dtype=bool), np.asarray(flagged, dtype=bool)
    hits = (labels & flagged).sum()
    return {
        "accuracy": float((labels == flagged).mean()) if len(labels) else float("nan"),
        "precision": float(hits / flagged.sum()) if flagged.any() else float("nan"),
        "recall": float(hits / labels.sum()) if labels.any() else float("nan"),
    }


def fit_probe(
    model, tokenizer, problems: pd.DataFrame, steps: pd.DataFrame, cfg: MistakeProbeConfig, seed: int, log
) -> tuple[Probe, list[list[int]]]:
    """A mistake probe trained on `steps` of `problems` (class 1: wrong), and the steps' token ids."""
    ids, _ = encode(tokenizer, problems, steps)
    probe = probe_model(model, cfg.rank, [2], seed)
    labels = torch.tensor(steps["wrong"].to_numpy(dtype=np.int64))[:, None]
    train = np.ones(len(steps), dtype=bool)
    fit(probe, pad_right(ids, tokenizer.pad_token_id), _last(ids), labels, train, cfg, seed, log)
    return probe, ids


def train_probe(
    model,
    tokenizer,
    problems: pd.DataFrame,
    params: pd.DataFrame,
    cfg: MistakeProbeConfig,
    seed: int,
    log: Callable[[str], None] = print,
) -> Probe:
    """The mistake probe trained on balanced steps (`balanced_steps`) of the probe-train problems."""
    steps = balanced_steps(problems, params, cfg.queries, seed)
    return fit_probe(model, tokenizer, problems, steps, cfg, seed, log)[0]


def flag_probability(probe: Probe, ids: list[list[int]], pad: int, batch_size: int) -> np.ndarray:
    """The probe's probability that each step (read at its last token, "as") is wrong."""
    if not ids:
        return np.zeros(0)
    return predict(probe, pad_right(ids, pad), _last(ids), batch_size)[0][:, 1]


def _last(ids: list[list[int]]) -> torch.Tensor:
    return torch.tensor([[len(x) - 1] for x in ids])


def _detectors(labels: np.ndarray, scores: dict[str, np.ndarray], strata: np.ndarray | None) -> list[dict]:
    """Each detector's scores against the labels (AUROC within `strata` where given), and the
    majority class of these labels (the best constant guess, a generous baseline)."""
    rows = []
    for name, score in scores.items():
        area = auroc(labels, score) if strata is None else matched_auroc(labels, score, strata)
        row = {"detector": name, "auroc": area}
        if name.startswith("probe"):
            row |= scores_at_half(labels, score > 0.5)
        rows.append(row)
    flagged = np.full(len(labels), len(labels) > 0 and np.mean(labels) > 0.5)
    chance = 0.5 if len(labels) else float("nan")
    rows.append({"detector": "majority class", "auroc": chance, **scores_at_half(labels, flagged)})
    for row in rows:
        row |= {"n": len(labels), "wrong": int(np.sum(labels))}
    return rows


def mistake_probe(
    *,
    model_dir: Path,
    model_config: ModelConfig,
    probe_config: MistakeProbeConfig,
    probe_problems: Path,
    probe_params: Path,
    test_problems: Path,
    test_params: Path,
    solutions: Path,
    seed: int,
    identity: dict,
    out: Path,
    scores_out: Path,
    probe_out: Path,
    threads: int = 1,
) -> None:
    """Step `mistake-probe`: the mistake probe on the trained model and on a random-init model of its
    shape, scored with the other detectors on held-out steps of the paper's set and of the balanced
    one, on the model's own steps (all, and per error kind the probe can see, matched by sentence
    index) and on the paired set; the table of scores, every step's scores (for ROC curves), and the
    trained probe (for decoding)."""
    torch.set_num_threads(threads)
    trained, random_init, tokenizer = with_random_init(model_dir, model_config, seed)
    problems, params = pd.read_parquet(probe_problems), pd.read_parquet(probe_params)
    held_out = problems[problems["problem"] % TEST_EVERY == 0]
    tests = pd.read_parquet(test_problems)
    own = own_steps(tests, pd.read_parquet(solutions))
    sets = {
        RANDOM_PARAMETER: (problems, random_parameter_steps(held_out, params, probe_config.queries, seed)),
        BALANCED: (problems, balanced_steps(held_out, params, probe_config.queries, seed)),
        MODEL_MISTAKES: (tests, own),
        PAIRED: (tests, paired_steps(tests, pd.read_parquet(test_params), own)),
    }
    encoded = {where: encode(tokenizer, table, steps) for where, (table, steps) in sets.items()}
    pad = tokenizer.pad_token_id
    flags: dict[str, dict[str, np.ndarray]] = {where: {} for where in sets}
    train_problems = unseen(problems[problems["problem"] % TEST_EVERY != 0], held_out, tests)
    if train_problems.empty:
        raise ValueError(f"{probe_problems}: no problem to train the probe on that is not also scored")
    print(f"Probe problems: {len(train_problems)} to train on, {len(held_out)} held out", flush=True)
    for name, model in (("probe", trained), ("probe, random init", random_init)):
        print(f"Mistake probe, {'trained' if name == 'probe' else 'random-init'} model:", flush=True)
        probe = train_probe(model, tokenizer, train_problems, params, probe_config, seed)
        for where, (ids, _) in encoded.items():
            flags[where][name] = flag_probability(probe, ids, pad, probe_config.batch_size)
        if name == "probe":
            probe_out.parent.mkdir(parents=True, exist_ok=True)
            torch.save(probe.state_dict(), probe_out)
    for where, (ids, starts) in encoded.items():
        entropy, top = uncertainty(trained, ids, starts, pad)
        flags[where] |= {"entropy": entropy, "1 - top probability": top}
    rows, per_step = _score_tables(flags, {where: steps for where, (_, steps) in sets.items()})
    scale = read_scale(model_dir)
    write_table(with_identity(rows, identity, scale), out)
    write_table(with_identity(per_step, identity, scale), scores_out)


def _subsets(steps: dict[str, pd.DataFrame]):
    """(set name, its steps' rows in its table, strata or None): each set whole (the paired set
    within each prefix), then the model's own steps of each error kind the probe can see against
    its right steps, matched by sentence index."""
    for where, table in steps.items():
        strata = (table["problem"] * 1000 + table["step"]).to_numpy() if where == PAIRED else None
        yield where, np.ones(len(table), dtype=bool), strata
    own = steps[MODEL_MISTAKES]
    for kind in SEEN_ERRORS:
        rows = ((own["error"] == kind) | ~own["wrong"]).to_numpy()
        yield f"{MODEL_MISTAKES}: {kind}", rows, own["step"].to_numpy()[rows]


def _score_tables(flags: dict, steps: dict[str, pd.DataFrame]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per set of steps: each detector's scores against the labels (and the majority class), and
    every step's score per detector with what it was (for ROC curves and per-kind reading)."""
    rows, per_step = [], []
    for where, chosen, strata in _subsets(steps):
        source = where.partition(": ")[0] if where not in flags else where
        labels = steps[source]["wrong"].to_numpy()[chosen]
        scores = {detector: score[chosen] for detector, score in flags[source].items()}
        for row in _detectors(labels, scores, strata):
            rows.append({"set": where, **row})
            print(f"  {where}: {row['detector']} AUROC {row['auroc']:.3f}", flush=True)
    for where, scores in flags.items():
        about = steps[where][["problem", "op", "step", "name", "wrong", "error", "necessary", "asked"]]
        for detector, score in scores.items():
            per_step.append(about.assign(set=where, detector=detector, score=score))
    return pd.DataFrame(rows), pd.concat(per_step, ignore_index=True)
